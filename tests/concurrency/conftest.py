"""Real `keyturn serve` processes on the test's database, for the concurrency and crash tests.

`start_server()` starts one more process and answers its base URL once `/healthz` does;
`start_server.kill(base)` kills that process with SIGKILL, as a crash or the OOM killer would.
Every process still running is stopped at the end of the test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN

START_DEADLINE_S = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcesses:
    """The `keyturn serve` processes of one test, all on the same database."""

    def __init__(self, database_url: str, tmp_path: Path, master_key: str) -> None:
        self._database_url = database_url
        self._tmp_path = tmp_path
        self._master_key = master_key
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def __call__(self, extra_env: dict[str, str] | None = None) -> str:
        """Start one more server (with `extra_env` on top of the test's settings)."""
        number = len(self._logs)
        port = _free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("KEYTURN_")}
        env |= {
            "KEYTURN_DATABASE_URL": self._database_url,
            "KEYTURN_DATA_DIR": str(self._tmp_path / f"data{number}"),
            "KEYTURN_ADMIN_TOKEN": ADMIN_TOKEN,
            "KEYTURN_MASTER_KEY": self._master_key,
            "KEYTURN_PORT": str(port),
            # One process per server: the tests that want two start two servers.
            "KEYTURN_WORKERS": "1",
        }
        env |= extra_env or {}
        log_path = self._tmp_path / f"server{number}.log"
        log = log_path.open("wb")
        self._logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "keyturn.cli", "serve"], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        self._processes[base] = process
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"keyturn serve did not answer within {START_DEADLINE_S} s")

    def kill(self, base: str) -> None:
        """SIGKILL: no shutdown hook, no flush, no rollback runs in keyturn."""
        process = self._processes.pop(base)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self._processes.values():
            process.terminate()
            process.wait(timeout=10)
        self._processes.clear()
        for log in self._logs:
            log.close()


@pytest.fixture
def start_server(database_url: str, tmp_path: Path, master_key: str) -> Iterator[ServerProcesses]:
    servers = ServerProcesses(database_url, tmp_path, master_key)
    yield servers
    servers.stop_all()


@dataclass(frozen=True)
class Seeded:
    """A team with a user token and an installation with one resource, `db`, without secrets."""

    team_id: str
    user_token: str
    installation_id: str
    token: str


def seed(base: str) -> Seeded:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base, headers=admin) as http:
        team = http.post("/v1/admin/teams", json={"slug": "race"}).json()
        user = http.post(f"/v1/admin/teams/{team['id']}/tokens", json={}).json()
        http.post("/v1/admin/integrations", json={"slug": "race", "products": [{"slug": "pg"}]})
        installation = http.post(
            "/v1/admin/installations", json={"teamId": team["id"], "integration": "race"}
        ).json()
        token = installation["accessToken"]
        imported = http.put(
            f"/v1/installations/{installation['id']}/resources/db",
            json={"productId": "pg", "name": "db", "status": "ready"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert imported.status_code == 200, imported.text
    return Seeded(
        team_id=team["id"],
        user_token=user["token"],
        installation_id=installation["id"],
        token=token,
    )
