"""Concurrency: 8 threads x 25 partial updates of distinct names against real server processes.

All 200 names must be there with 200 versions: no lost update, no duplicate version, on
SQLite and PostgreSQL, with one process and with two processes sharing the database.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, select

from keyturn.storage.engine import normalize_database_url
from keyturn.storage.tables import secrets_versions
from tests.concurrency.conftest import ServerProcesses, seed
from tests.conftest import ADMIN_TOKEN

THREADS = 8
UPDATES_PER_THREAD = 25

pytestmark = pytest.mark.slow


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
    start_server: ServerProcesses, database_url: str
) -> None:
    base = start_server()
    seeded = seed(base)
    installation_id, token = seeded.installation_id, seeded.token
    statuses = _hammer([base], installation_id, token)
    assert statuses == [201] * (THREADS * UPDATES_PER_THREAD)
    _check_result(base, database_url, installation_id, token)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_two_processes_sharing_one_sqlite_file_lose_nothing(
    start_server: ServerProcesses, database_url: str
) -> None:
    """Each process queues its own writers; between processes SQLite's busy timeout decides."""
    bases = [start_server(), start_server()]
    seeded = seed(bases[0])
    installation_id, token = seeded.installation_id, seeded.token
    statuses = _hammer(bases, installation_id, token)
    assert statuses == [201] * (THREADS * UPDATES_PER_THREAD)
    _check_result(bases[1], database_url, installation_id, token)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_processes_sharing_postgres_lose_nothing(
    start_server: ServerProcesses, database_url: str
) -> None:
    bases = [start_server(), start_server()]
    seeded = seed(bases[0])
    installation_id, token = seeded.installation_id, seeded.token
    statuses = _hammer(bases, installation_id, token)
    assert statuses == [201] * (THREADS * UPDATES_PER_THREAD)
    _check_result(bases[1], database_url, installation_id, token)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_racing_imports_of_a_new_resource_create_it_once(
    start_server: ServerProcesses, database_url: str
) -> None:
    bases = [start_server(), start_server()]
    seeded = seed(bases[0])
    installation_id, token = seeded.installation_id, seeded.token
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
    start_server: ServerProcesses,
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
