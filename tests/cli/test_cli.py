"""The `keyturn` command, run as a real subprocess, on SQLite in a data directory of its own.

Each test gets a fresh data directory (`KEYTURN_DATA_DIR`) and an environment without any other
`KEYTURN_*` variable, so the operator's own settings cannot leak in. Every subprocess is bounded
in time; servers are stopped by their pid in a `finally`.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import secrets
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from keyturn import __version__
from keyturn.settings import Settings
from tests.postgres_cluster import PostgresCluster

# A refusal must come before any server starts; this bounds it generously on a slow machine.
FAIL_FAST_TIMEOUT_S = 20
# From `Popen` to the demo block on stdout, and to `/healthz` answering.
SERVER_START_DEADLINE_S = 30
SERVER_STOP_TIMEOUT_S = 10

ADMIN_TOKEN_LINE = re.compile(r"admin token:\s+(\S+)")
ADMIN_TOKEN_SHAPE = re.compile(r"^kt_admin_[A-Za-z0-9]+$")
ANY_ADMIN_TOKEN = re.compile(r"kt_admin_[A-Za-z0-9]+")
INSTALLATION_LINE = re.compile(r"^\s*installation:\s+(icfg_[A-Za-z0-9]+)\s*$")
RESOURCE_LINE = re.compile(r"^\s*resource:\s+(\S+)")
INTEGRATION_TOKEN_LINE = re.compile(r"^\s*integration token:\s+(kt_integration_[A-Za-z0-9]+)\s*$")
PUT_CURL_LINE = re.compile(r"curl -sS -X PUT \$B/v1/installations/icfg_\S+/secrets ")
# The demo block's last line: the `vercel` CLI's pull.
VERCEL_PULL_LINE = re.compile(r"vercel env pull ")
TRY_IT_LINE = re.compile(r"^try it: ")


def clean_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The test process's environment minus every `KEYTURN_*`, plus the data directory."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("KEYTURN_") and name not in ("FORCE_COLOR", "NO_COLOR")
    }
    # Plain, predictable output: no colour codes, UTF-8 for the help boxes.
    env.update(NO_COLOR="1", TERM="dumb", PYTHONIOENCODING="utf-8")
    env["KEYTURN_DATA_DIR"] = str(data_dir)
    env.update(settings)
    return env


def keyturn(
    *args: str, env: dict[str, str], timeout: float = FAIL_FAST_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyturn.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory that does not exist yet: keyturn creates it."""
    return tmp_path / "data"


@pytest.fixture
def migrated_data_dir(data_dir: Path) -> Path:
    result = keyturn("db", "upgrade", env=clean_env(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir


class Server:
    """A `keyturn serve` process whose stdout is drained by a thread, line by line."""

    def __init__(self, proc: subprocess.Popen[str], stderr_path: Path) -> None:
        self.proc = proc
        self.stderr_path = stderr_path
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def read_until(self, done: Callable[[str], bool], deadline: float) -> None:
        """Collect stdout lines until one satisfies `done`; fail with what was seen otherwise."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"timed out waiting for the server's output:\n{self.describe()}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
                pytest.fail(
                    f"the server exited ({self.proc.returncode}) before printing what was "
                    f"expected:\n{self.describe()}"
                )
            self.lines.append(line)
            if done(line):
                return

    def drain_rest(self) -> None:
        """After `stop`: collect whatever the server printed that no `read_until` took."""
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def describe(self) -> str:
        return f"stdout:\n{self.output}\nstderr:\n{self.stderr_path.read_text(errors='replace')}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
        self._reader.join(timeout=SERVER_STOP_TIMEOUT_S)


@contextmanager
def serving(*args: str, env: dict[str, str], stderr_path: Path) -> Iterator[Server]:
    with (
        stderr_path.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "keyturn.cli", "serve", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            errors="replace",
        ) as proc,
    ):
        server = Server(proc, stderr_path)
        try:
            yield server
        finally:
            server.stop()


@dataclass(frozen=True)
class DemoOutput:
    base_url: str
    installation_id: str
    resource_id: str
    integration_token: str
    admin_token: str | None


def read_demo_block(server: Server, port: int) -> DemoOutput:
    """Read stdout through the demo block's last command and pick out what it printed."""
    server.read_until(
        lambda line: VERCEL_PULL_LINE.search(line) is not None,
        time.monotonic() + SERVER_START_DEADLINE_S,
    )

    def one(pattern: re.Pattern[str]) -> str:
        found = [m.group(1) for line in server.lines if (m := pattern.match(line))]
        assert len(found) == 1, f"expected one match of {pattern.pattern}:\n{server.output}"
        return found[0]

    admin_tokens = {
        m.group(1)
        for line in server.lines
        if (m := ADMIN_TOKEN_LINE.search(line)) and m.group(1).startswith("kt_admin_")
    }
    assert len(admin_tokens) <= 1, server.output
    assert any(PUT_CURL_LINE.search(line) for line in server.lines), server.output
    return DemoOutput(
        base_url=f"http://127.0.0.1:{port}",
        installation_id=one(INSTALLATION_LINE),
        resource_id=one(RESOURCE_LINE),
        integration_token=one(INTEGRATION_TOKEN_LINE),
        admin_token=admin_tokens.pop() if admin_tokens else None,
    )


def wait_until_healthy(server: Server, client: httpx.Client) -> None:
    """The demo block is printed before uvicorn binds; poll `/healthz` up to the deadline."""
    deadline = time.monotonic() + SERVER_START_DEADLINE_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"the server exited ({server.proc.returncode}):\n{server.describe()}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"/healthz did not answer 200 in time:\n{server.describe()}")


# --- help -------------------------------------------------------------------------------------


def test_help_lists_serve_and_db_commands(data_dir: Path) -> None:
    result = keyturn("--help", env=clean_env(data_dir))

    assert result.returncode == 0, result.stderr
    assert re.search(r"\bserve\b", result.stdout), result.stdout
    assert re.search(r"\bdb\b", result.stdout), result.stdout


def test_db_help_lists_upgrade(data_dir: Path) -> None:
    result = keyturn("db", "--help", env=clean_env(data_dir))

    assert result.returncode == 0, result.stderr
    assert re.search(r"\bupgrade\b", result.stdout), result.stdout


def test_serve_help_shows_host_port_database_url_and_demo_options(data_dir: Path) -> None:
    result = keyturn("serve", "--help", env=clean_env(data_dir))

    assert result.returncode == 0, result.stderr
    for option in ("--host", "--port", "--database-url", "--demo"):
        assert option in result.stdout, f"{option} missing from:\n{result.stdout}"


def option_rows(help_text: str) -> dict[str, str]:
    """The rows of a `--help` options box, by option, with their wrapped lines joined."""
    rows: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        cells = line.strip().strip("│").strip()
        if cells.startswith("--"):
            current = cells.split()[0]
            rows[current] = cells
        elif current and line.strip().startswith("│") and cells:
            rows[current] += " " + cells
        elif line.strip().startswith("╰"):
            current = None
    return rows


@pytest.mark.parametrize(
    ("option", "variable"),
    [
        ("--host", "KEYTURN_HOST"),
        ("--port", "KEYTURN_PORT"),
        ("--database-url", "KEYTURN_DATABASE_URL"),
    ],
)
def test_serve_help_names_the_variable_behind_each_option(
    data_dir: Path, option: str, variable: str
) -> None:
    result = keyturn("serve", "--help", env=clean_env(data_dir))

    assert result.returncode == 0, result.stderr
    rows = option_rows(result.stdout)
    assert variable in rows[option], f"{variable} not in the {option} row:\n{result.stdout}"


def test_serve_help_names_a_variable_for_every_option_but_demo_seed_and_help(
    data_dir: Path,
) -> None:
    result = keyturn("serve", "--help", env=clean_env(data_dir))

    rows = option_rows(result.stdout)
    assert len(rows) >= 5, result.stdout
    for option, row in rows.items():
        if option not in ("--demo", "--seed", "--help"):
            assert re.search(r"\bKEYTURN_[A-Z_]+\b", row), f"{option} names no variable: {row}"


def test_serve_help_names_every_setting(data_dir: Path) -> None:
    result = keyturn("serve", "--help", env=clean_env(data_dir))

    assert result.returncode == 0, result.stderr
    for name in Settings.model_fields:
        variable = f"KEYTURN_{name.upper()}"
        assert re.search(rf"\b{variable}\b", result.stdout), f"{variable} missing:\n{result.stdout}"


def test_version_flag_prints_the_package_version_and_starts_nothing(data_dir: Path) -> None:
    flag = keyturn("--version", env=clean_env(data_dir))
    command = keyturn("version", env=clean_env(data_dir))

    assert flag.returncode == 0, flag.stderr
    assert flag.stdout.strip() == __version__
    assert command.stdout.strip() == __version__
    assert not data_dir.exists()


def test_help_starts_nothing_and_creates_no_data_dir(data_dir: Path) -> None:
    keyturn("--help", env=clean_env(data_dir))
    keyturn("serve", "--help", env=clean_env(data_dir))

    assert not data_dir.exists()


# --- db upgrade -------------------------------------------------------------------------------


def test_db_upgrade_creates_sqlite_file_in_data_dir(data_dir: Path) -> None:
    result = keyturn("db", "upgrade", env=clean_env(data_dir))

    assert result.returncode == 0, result.stderr
    database = data_dir / "keyturn.db"
    assert database.is_file()
    assert database.read_bytes().startswith(b"SQLite format 3\x00")
    assert str(database.resolve()) in result.stdout


def test_db_upgrade_run_twice_succeeds_both_times(data_dir: Path) -> None:
    first = keyturn("db", "upgrade", env=clean_env(data_dir))
    second = keyturn("db", "upgrade", env=clean_env(data_dir))

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout


# --- serve refuses invalid settings -----------------------------------------------------------

SIXTEEN_BYTE_KEY = base64.b64encode(secrets.token_bytes(16)).decode()


@pytest.mark.parametrize(
    ("args", "settings", "expected"),
    [
        pytest.param(
            ["--database-url", "mysql://x/y"],
            {},
            ["database_url", "'mysql'", "sqlite:///path and postgresql://"],
            id="mysql-url",
        ),
        pytest.param(
            ["--database-url", "sqlite://"],
            {},
            ["database_url", "names no sqlite file"],
            id="sqlite-url-without-file",
        ),
        pytest.param(
            ["--database-url", "postgresql+asyncpg://u@h/db"],
            {},
            ["database_url", "'asyncpg'", "psycopg"],
            id="postgresql-asyncpg-url",
        ),
        pytest.param(
            [],
            {"KEYTURN_MASTER_KEY": "notbase64!!"},
            ["keyturn_master_key", "not valid base64"],
            id="master-key-not-base64",
        ),
        pytest.param(
            [],
            {"KEYTURN_MASTER_KEY": SIXTEEN_BYTE_KEY},
            ["keyturn_master_key", "32 bytes, not 16"],
            id="master-key-16-bytes",
        ),
        pytest.param(
            [],
            {"KEYTURN_ADMIN_TOKEN": "has-dash"},
            ["keyturn_admin_token", "letters, digits or underscores"],
            id="admin-token-with-dash",
        ),
        pytest.param(
            [],
            {"KEYTURN_ADMIN_TOKEN": "kt_admin_only_24_chars_x"},
            ["keyturn_admin_token", "at least 32 characters"],
            id="admin-token-shorter-than-32",
        ),
        pytest.param(
            [],
            {"KEYTURN_PORT": "70000"},
            ["port", "65535"],
            id="port-70000",
        ),
    ],
)
def test_serve_refuses_invalid_setting_fast_with_reason(
    data_dir: Path, args: list[str], settings: dict[str, str], expected: list[str]
) -> None:
    started = time.monotonic()
    result = keyturn("serve", *args, env=clean_env(data_dir, **settings))
    elapsed = time.monotonic() - started

    assert result.returncode == 2, (result.stdout, result.stderr)
    # The setting is named as the flag (--database-url) or the variable (KEYTURN_PORT).
    message = result.stderr.lower().replace("-", "_")
    assert "invalid setting" in message, result.stderr
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in stderr:\n{result.stderr}"
    # Refused before anything starts: no banner, no server, not even the data directory.
    assert "Uvicorn running" not in result.stderr
    assert "data directory:" not in result.stdout
    assert not data_dir.exists()
    assert elapsed < FAIL_FAST_TIMEOUT_S


@pytest.fixture
def empty_postgres_url(postgres: PostgresCluster) -> Iterator[str]:
    """A PostgreSQL database with no schema at all."""
    name = f"t_{secrets.token_hex(8)}"
    postgres.create_database(name)
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database(name, missing_ok=True)


def test_serve_on_unmigrated_postgresql_exits_2_telling_to_run_db_upgrade(
    data_dir: Path, empty_postgres_url: str
) -> None:
    result = keyturn("serve", "--database-url", empty_postgres_url, env=clean_env(data_dir))

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "keyturn db upgrade" in result.stderr
    assert "Uvicorn running" not in result.stderr


def test_serve_refused_for_unmigrated_postgresql_still_shows_admin_token_later(
    data_dir: Path, tmp_path: Path, empty_postgres_url: str
) -> None:
    database = ("--database-url", empty_postgres_url)
    refused = keyturn("serve", *database, env=clean_env(data_dir))
    assert refused.returncode == 2
    upgraded = keyturn("db", "upgrade", *database, env=clean_env(data_dir))
    assert upgraded.returncode == 0, upgraded.stderr

    port = free_port()
    env = clean_env(data_dir, KEYTURN_PORT=str(port))
    with serving("--demo", *database, env=env, stderr_path=tmp_path / "serve.err") as server:
        demo = read_demo_block(server, port)

    assert demo.admin_token is not None, server.output


@pytest.mark.slow
def test_serve_on_a_fresh_sqlite_data_directory_migrates_on_start_and_answers_readyz(
    data_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_env(data_dir, KEYTURN_PORT=str(port))
    with (
        serving(env=env, stderr_path=tmp_path / "serve.err") as server,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        server.read_until(lambda line: "database:" in line, time.monotonic() + 30)
        wait_until_healthy(server, client)
        assert client.get("/readyz").status_code == 200
    assert "migrated to the newest schema on start" in server.output
    # A second start finds it current and says so.
    with serving(env=env, stderr_path=tmp_path / "again.err") as again:
        again.read_until(lambda line: "database:" in line, time.monotonic() + 30)
    assert "(schema up to date)" in again.output


# --- serve --demo -----------------------------------------------------------------------------


@pytest.mark.slow
def test_serve_demo_first_start_prints_working_tokens_and_keeps_key_files_private(
    migrated_data_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_env(migrated_data_dir, KEYTURN_PORT=str(port))

    with (
        serving("--demo", env=env, stderr_path=tmp_path / "serve.err") as server,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        demo = read_demo_block(server, port)
        wait_until_healthy(server, client)

        # The admin token is printed once, in Vercel's token shape, and works.
        assert demo.admin_token is not None, server.output
        assert ADMIN_TOKEN_SHAPE.fullmatch(demo.admin_token), demo.admin_token
        team = client.post(
            "/v1/admin/teams",
            json={"slug": "cli-test-team"},
            headers={"Authorization": f"Bearer {demo.admin_token}"},
        )
        assert team.status_code == 201, team.text

        # The integration token and ids printed push secrets to the demo resource.
        resource_path = f"/v1/installations/{demo.installation_id}/resources/{demo.resource_id}"
        auth = {"Authorization": f"Bearer {demo.integration_token}"}
        put = client.put(
            resource_path + "/secrets",
            json={"secrets": [{"name": "DATABASE_URL", "value": "postgres://demo:one@db/demo"}]},
            headers=auth,
        )
        assert put.status_code == 201, put.text
        got = client.get(resource_path, headers=auth)
        assert got.status_code == 200, got.text
        # Version 1 is the demo's own DATABASE_URL; this PUT changed its value.
        assert got.json()["secretsVersion"] == 2
        assert got.json()["secretNames"] == ["DATABASE_URL"]

    # Key material is private to its owner; the token itself is never written down.
    digest_file = migrated_data_dir / "admin-token.sha256"
    key_file = migrated_data_dir / "master.key"
    assert file_mode(digest_file) == 0o600
    assert file_mode(key_file) == 0o600
    assert demo.admin_token not in digest_file.read_text()
    assert demo.admin_token not in (tmp_path / "serve.err").read_text()


@pytest.mark.slow
def test_serve_demo_second_start_reuses_demo_ids_and_prints_no_admin_token(
    migrated_data_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_env(migrated_data_dir, KEYTURN_PORT=str(port))
    with serving("--demo", env=env, stderr_path=tmp_path / "first.err") as first_server:
        first = read_demo_block(first_server, port)
    assert first.admin_token is not None, first_server.output

    port = free_port()
    env = clean_env(migrated_data_dir, KEYTURN_PORT=str(port))
    with (
        serving("--demo", env=env, stderr_path=tmp_path / "second.err") as second_server,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        second = read_demo_block(second_server, port)
        wait_until_healthy(second_server, client)

        assert second.installation_id == first.installation_id
        assert second.resource_id == first.resource_id
        assert second.admin_token is None, second_server.output
        assert not ANY_ADMIN_TOKEN.search(second_server.output), second_server.output
        assert "master key:     generated" not in second_server.output

        # The demo resource is still there, reachable with the freshly issued token.
        got = client.get(
            f"/v1/installations/{second.installation_id}/resources/{second.resource_id}",
            headers={"Authorization": f"Bearer {second.integration_token}"},
        )
        assert got.status_code == 200, got.text


def _workers(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    children = [
        int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    ]
    return [
        child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree in /proc")
def test_serve_with_two_workers_starts_two_processes_sharing_one_generated_admin_token(
    migrated_data_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_env(migrated_data_dir, KEYTURN_PORT=str(port))
    with (
        serving("--demo", "--workers", "2", env=env, stderr_path=tmp_path / "serve.err") as server,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        demo = read_demo_block(server, port)
        wait_until_healthy(server, client)
        assert demo.admin_token is not None, server.output
        deadline = time.monotonic() + SERVER_START_DEADLINE_S
        while len(_workers(server.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_workers(server.proc.pid)) == 2, server.describe()
        # New connections land on either worker: each must know the one admin token.
        statuses = set()
        for index in range(20):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as fresh:
                statuses.add(
                    fresh.post(
                        "/v1/admin/teams",
                        json={"slug": f"workers-{index}"},
                        headers={"Authorization": f"Bearer {demo.admin_token}"},
                    ).status_code
                )
        assert statuses == {201}
    server.drain_rest()
    assert len(set(ANY_ADMIN_TOKEN.findall(server.output))) == 1, server.output
    assert "POST /v1/admin/teams" not in server.output + (tmp_path / "serve.err").read_text()


@pytest.mark.slow
def test_serve_logs_each_request_only_with_access_log_on(
    migrated_data_dir: Path, tmp_path: Path
) -> None:
    for setting, logged in (("0", False), ("1", True)):
        port = free_port()
        env = clean_env(migrated_data_dir, KEYTURN_PORT=str(port), KEYTURN_ACCESS_LOG=setting)
        stderr_path = tmp_path / f"serve-{setting}.err"
        with (
            serving("--workers", "1", env=env, stderr_path=stderr_path) as server,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
        ):
            wait_until_healthy(server, client)
            assert client.get("/healthz").status_code == 200
        server.drain_rest()
        printed = server.output + stderr_path.read_text()
        assert ("GET /healthz" in printed) is logged, printed


@pytest.mark.slow
def test_serve_port_flag_overrides_keyturn_port(migrated_data_dir: Path, tmp_path: Path) -> None:
    ignored, port = free_port(), free_port()
    env = clean_env(migrated_data_dir, KEYTURN_PORT=str(ignored))

    with (
        serving("--port", str(port), env=env, stderr_path=tmp_path / "serve.err") as server,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        wait_until_healthy(server, client)
        server.read_until(lambda line: "http://127.0.0.1:" in line, time.monotonic() + 10)

        assert f"http://127.0.0.1:{port}" in server.output
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{ignored}/healthz", timeout=2)


def demo_commands(server: Server) -> list[str]:
    """The shell lines `serve --demo` prints after `try it:`, but the `vercel` CLI's own."""
    start = next(i for i, line in enumerate(server.lines) if TRY_IT_LINE.match(line))
    commands = []
    for line in server.lines[start + 1 :]:
        if not line.strip():
            break
        if not VERCEL_PULL_LINE.search(line):
            commands.append(line.removeprefix("  "))
    return commands


@pytest.mark.slow
def test_serve_demo_commands_rotate_for_the_connected_project_and_keep_the_deployments_env(
    database_url: str, data_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_env(data_dir, KEYTURN_PORT=str(port), KEYTURN_DATABASE_URL=database_url)
    workdir = tmp_path / "shell"
    workdir.mkdir()

    with (
        serving("--demo", env=env, stderr_path=tmp_path / "serve.err") as server,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        read_demo_block(server, port)
        wait_until_healthy(server, client)
        script = "\n".join(demo_commands(server))
        # Every request line sends JSON as such: a body without its Content-Type is a trap.
        for line in script.splitlines():
            if " -d " in line:
                assert "Content-Type: application/json" in line, line
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert ran.returncode == 0, (ran.stdout, ran.stderr, server.describe())
    deployment_id, put_answer, resource, project_env, deployment_env = ran.stdout.splitlines()
    assert re.fullmatch(r"dpl_[A-Za-z0-9]+", deployment_id)
    assert put_answer == "{}201"
    assert json.loads(resource)["secretsVersion"] == 2
    # Connected by the demo: the project sees the rotated value, its deployment the first one.
    assert json.loads(project_env)["env"] == {"DATABASE_URL": "postgres://demo:two@db.example/demo"}
    frozen = json.loads(deployment_env)
    assert frozen["env"] == {"DATABASE_URL": "postgres://demo:one@db.example/demo"}
    # The folder the vercel CLI would read is linked to the demo team and project.
    link = json.loads((workdir / "demo-app" / ".vercel" / "project.json").read_text())
    team = re.compile(r"^\s*team:\s+(team_\w+)")
    project = re.compile(r"^\s*project:\s+(prj_\w+)")
    ids = [m.group(1) for line in server.lines if (m := team.match(line) or project.match(line))]
    assert link == {"orgId": ids[0], "projectId": ids[1]}
