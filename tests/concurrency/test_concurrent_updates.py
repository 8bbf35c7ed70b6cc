"""Concurrency: 8 threads x 25 partial updates of distinct names against real server processes.

All 200 names must be there with 200 versions: no lost update, no duplicate version, on
SQLite and PostgreSQL, with one process and with two processes sharing the database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy import create_engine, select

from keyturn.storage.engine import normalize_database_url
from keyturn.storage.tables import secrets_versions
from tests.conftest import ADMIN_TOKEN

THREADS = 8
UPDATES_PER_THREAD = 25

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def start_server(database_url: str, tmp_path: Path, master_key: str) -> Iterator[Callable[[], str]]:
    """Start `keyturn serve` processes on the test's database; returns their base URLs."""
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []

    def start() -> str:
        port = _free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("KEYTURN_")}
        env |= {
            "KEYTURN_DATABASE_URL": database_url,
            "KEYTURN_DATA_DIR": str(tmp_path / f"data{len(processes)}"),
            "KEYTURN_ADMIN_TOKEN": ADMIN_TOKEN,
            "KEYTURN_MASTER_KEY": master_key,
            "KEYTURN_PORT": str(port),
            # One process per server: the tests that want two start two servers.
            "KEYTURN_WORKERS": "1",
        }
        log = (tmp_path / f"server{len(processes)}.log").open("wb")
        logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "keyturn.cli", "serve"], env=env, stdout=log, stderr=log
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, (
                tmp_path / f"server{len(processes) - 1}.log"
            ).read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("keyturn serve did not answer within 30 s")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
    for log in logs:
        log.close()


def _seed(base: str) -> tuple[str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base, headers=admin) as http:
        team = http.post("/v1/admin/teams", json={"slug": "race"}).json()
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
    return installation["id"], token


def _hammer(bases: list[str], installation_id: str, token: str) -> list[int]:
    def worker(thread: int) -> list[int]:
        with httpx.Client(
            base_url=bases[thread % len(bases)],
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as http:
            return [
                http.put(
                    f"/v1/installations/{installation_id}/resources/db/secrets",
                    json={
                        "secrets": [{"name": f"T{thread}_S{update}", "value": f"v{update}"}],
                        "partial": True,
                    },
                ).status_code
                for update in range(UPDATES_PER_THREAD)
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        return [status for statuses in pool.map(worker, range(THREADS)) for status in statuses]


def _check_result(base: str, database_url: str, installation_id: str, token: str) -> None:
    resource = httpx.get(
        f"{base}/v1/installations/{installation_id}/resources/db",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    expected = {f"T{t}_S{u}" for t in range(THREADS) for u in range(UPDATES_PER_THREAD)}
    assert set(resource["secretNames"]) == expected
    assert resource["secretsVersion"] == THREADS * UPDATES_PER_THREAD
    engine = create_engine(normalize_database_url(database_url))
    with engine.connect() as connection:
        versions = connection.execute(select(secrets_versions.c.version)).scalars().all()
    engine.dispose()
    assert sorted(versions) == list(range(1, THREADS * UPDATES_PER_THREAD + 1))


def test_concurrent_partial_updates_lose_nothing(
    start_server: Callable[[], str], database_url: str
) -> None:
    base = start_server()
    installation_id, token = _seed(base)
    statuses = _hammer([base], installation_id, token)
    assert statuses == [201] * (THREADS * UPDATES_PER_THREAD)
    _check_result(base, database_url, installation_id, token)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_two_processes_sharing_one_sqlite_file_lose_nothing(
    start_server: Callable[[], str], database_url: str
) -> None:
    """Each process queues its own writers; between processes SQLite's busy timeout decides."""
    bases = [start_server(), start_server()]
    installation_id, token = _seed(bases[0])
    statuses = _hammer(bases, installation_id, token)
    assert statuses == [201] * (THREADS * UPDATES_PER_THREAD)
    _check_result(bases[1], database_url, installation_id, token)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_processes_sharing_postgres_lose_nothing(
    start_server: Callable[[], str], database_url: str
) -> None:
    bases = [start_server(), start_server()]
    installation_id, token = _seed(bases[0])
    statuses = _hammer(bases, installation_id, token)
    assert statuses == [201] * (THREADS * UPDATES_PER_THREAD)
    _check_result(bases[1], database_url, installation_id, token)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_racing_imports_of_a_new_resource_create_it_once(
    start_server: Callable[[], str], database_url: str
) -> None:
    bases = [start_server(), start_server()]
    installation_id, token = _seed(bases[0])
    rounds = 10
    start_together = threading.Barrier(THREADS)

    def import_new(thread: int) -> list[int]:
        statuses = []
        with httpx.Client(base_url=bases[thread % 2], timeout=60) as http:
            for round_ in range(rounds):
                start_together.wait(timeout=30)
                statuses.append(
                    http.put(
                        f"/v1/installations/{installation_id}/resources/fresh{round_}",
                        json={"productId": "pg", "name": f"n{thread}", "status": "ready"},
                        headers={"Authorization": f"Bearer {token}"},
                    ).status_code
                )
        return statuses

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = [s for thread in pool.map(import_new, range(THREADS)) for s in thread]
    assert statuses == [200] * (THREADS * rounds)
    listed = httpx.get(
        f"{bases[0]}/v1/installations/{installation_id}/resources",
        headers={"Authorization": f"Bearer {token}"},
    ).json()["resources"]
    assert sorted(r["partnerId"] for r in listed) == sorted(
        ["db", *(f"fresh{n}" for n in range(rounds))]
    )


def test_racing_creations_of_one_team_slug_give_one_201_and_409s(
    start_server: Callable[[], str],
) -> None:
    bases = [start_server()]
    start_together = threading.Barrier(THREADS)

    def create(_: int) -> int:
        start_together.wait(timeout=30)
        return httpx.post(
            f"{bases[0]}/v1/admin/teams",
            json={"slug": "contested"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = sorted(pool.map(create, range(THREADS)))
    assert statuses == [201] + [409] * (THREADS - 1)
