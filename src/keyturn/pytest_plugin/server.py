"""A keyturn emulator in a subprocess, and the calls a test makes to its control routes.

The server is `python -m keyturn.cli serve --emulator --port 0` with a data directory of its
own (so a SQLite database migrated on start) and an admin token made here. It binds a free
port itself and prints its address in its start line, which is read from its output: no port
is picked here and then raced for.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

import httpx

# The start line: `keyturn 0.1.0: http://127.0.0.1:54321 ...`.
START_LINE = re.compile(r"^keyturn \S+: (http://\S+)")
START_DEADLINE_S = 30.0
STOP_DEADLINE_S = 10.0
# Lines of the server's output kept to explain a failed start.
KEPT_LINES = 200


class KeyturnServerError(RuntimeError):
    """The emulator did not start, or a control call did not answer as the contract says."""


class KeyturnServer:
    """A running emulator: its `url`, its `admin_token`, and the controls of CONTRACT.md 7."""

    def __init__(self, url: str, admin_token: str, process: subprocess.Popen[str]) -> None:
        self.url = url
        self.admin_token = admin_token
        self._process = process
        self._http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30.0
        )

    def __repr__(self) -> str:
        return f"KeyturnServer(url={self.url!r})"

    @property
    def pid(self) -> int:
        """The server process's id (to read its resource use, or to find it in `ps`)."""
        return self._process.pid

    @classmethod
    def start(cls, data_dir: Path) -> KeyturnServer:
        admin_token = "kt_admin_" + secrets.token_hex(20)
        env = {name: value for name, value in os.environ.items() if not name.startswith("KEYTURN_")}
        env.update(
            KEYTURN_DATA_DIR=str(data_dir / "data"),
            KEYTURN_ADMIN_TOKEN=admin_token,
            NO_COLOR="1",
            PYTHONIOENCODING="utf-8",
        )
        log = (data_dir / "server.log").open("w", encoding="utf-8")
        process = subprocess.Popen(  # this interpreter and fixed arguments
            [sys.executable, "-m", "keyturn.cli", "serve", "--emulator", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        log.close()
        assert process.stdout is not None
        url = _read_url(process, process.stdout, data_dir / "server.log")
        server = cls(url, admin_token, process)
        server._wait_until_ready()
        return server

    def stop(self) -> None:
        self._http.close()
        self._process.terminate()
        try:
            self._process.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    # The controls of CONTRACT.md 7.

    def reset(self) -> None:
        """Empty the emulator: data, faults, recorded requests; the clock offset goes to 0."""
        self._call("POST", "/v1/admin/reset", expect=204)

    def seed(self, fixture: dict[str, Any]) -> dict[str, Any]:
        """Create a world (section 7's fixture); returns it with every id and token filled in."""
        answer: dict[str, Any] = self._call("POST", "/v1/admin/seed", json=fixture, expect=201)
        return answer

    def fault(self, **spec: Any) -> dict[str, Any]:
        """Add a fault (`path`, `method`, `status`, `body`, `latencyMs`, `count`,
        `probability`, `retryAfterS`); returns it with its id."""
        answer: dict[str, Any] = self._call("POST", "/v1/admin/faults", json=spec, expect=201)
        return answer

    def clear_faults(self) -> None:
        self._call("DELETE", "/v1/admin/faults", expect=204)

    def advance_clock(self, ms: int) -> int:
        """Move keyturn's clock forward by `ms`; returns its new time (ms since the epoch)."""
        answer = self._call("POST", "/v1/admin/clock", json={"advanceMs": ms}, expect=200)
        now: int = answer["now"]
        return now

    def now(self) -> int:
        """keyturn's time (ms since the epoch)."""
        now: int = self._call("GET", "/v1/admin/clock", expect=200)["now"]
        return now

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """The recorded requests, newest first; `path` is a glob (`*` matches `/` too)."""
        params = {} if path is None else {"path": path}
        answer = self._call("GET", "/v1/admin/requests", params=params, expect=200)
        recorded: list[dict[str, Any]] = answer["requests"]
        return recorded

    def clear_requests(self) -> None:
        self._call("DELETE", "/v1/admin/requests", expect=204)

    def _call(self, method: str, path: str, *, expect: int, **options: Any) -> Any:
        response = self._http.request(method, path, **options)
        if response.status_code != expect:
            raise KeyturnServerError(
                f"{method} {path} answered {response.status_code}, not {expect}: {response.text}"
            )
        return response.json() if response.content else None

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise KeyturnServerError(f"keyturn exited ({self._process.returncode})")
            try:
                if self._http.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise KeyturnServerError(f"keyturn at {self.url} was not ready in {START_DEADLINE_S} s")


def _read_url(process: subprocess.Popen[str], stdout: IO[str], log: Path) -> str:
    """The address in the start line; the rest of the output keeps draining in a thread, so
    that a full pipe never blocks the server."""
    seen: deque[str] = deque(maxlen=KEPT_LINES)
    found: list[str] = []
    started = threading.Event()

    def drain() -> None:
        for line in stdout:
            seen.append(line)
            match = START_LINE.match(line)
            if match is not None and not found:
                found.append(match.group(1))
                started.set()
        started.set()

    threading.Thread(target=drain, name="keyturn-stdout", daemon=True).start()
    if not started.wait(START_DEADLINE_S) or not found:
        process.kill()
        process.wait()
        raise KeyturnServerError(
            "keyturn did not print its address:\n"
            + "".join(seen)
            + log.read_text(encoding="utf-8", errors="replace")
        )
    return found[0]
