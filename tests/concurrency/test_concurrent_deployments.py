"""Concurrency: deployments of one project, target and branch made and deleted at once, by two
server processes sharing PostgreSQL (and one on SQLite), leave exactly one of them serving:
the newest (the usage ledger's `servingDeployments`)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, select

from keyturn.storage.engine import normalize_database_url
from keyturn.storage.tables import deployments
from tests.concurrency.conftest import ServerProcesses, seed

THREADS = 8
DEPLOYS_PER_THREAD = 5

pytestmark = pytest.mark.slow


def _serving_is_the_newest(database_url: str) -> int:
    """Check the flags against the deployments; answer how many deployments are left."""
    engine = create_engine(normalize_database_url(database_url))
    with engine.connect() as connection:
        rows = connection.execute(
            select(deployments.c.id, deployments.c.created_at, deployments.c.serving)
        ).all()
    engine.dispose()
    newest = max(rows, key=lambda row: (row.created_at, row.id))
    assert {row.id for row in rows if row.serving} == {newest.id}
    return len(rows)


def _race(start_server: ServerProcesses, database_url: str, processes: int) -> None:
    bases = [start_server() for _ in range(processes)]
    seeded = seed(bases[0])
    user = {"Authorization": f"Bearer {seeded.user_token}"}
    partner = {"Authorization": f"Bearer {seeded.token}"}
    resource = f"/v1/installations/{seeded.installation_id}/resources/db"
    with httpx.Client(base_url=bases[0], timeout=60) as http:
        put = http.put(
            resource + "/secrets",
            json={"secrets": [{"name": "A", "value": "one"}]},
            headers=partner,
        )
        assert put.status_code == 201, put.text
        project = http.post("/v11/projects", json={"name": "web"}, headers=user).json()["id"]
        connected = http.post(
            f"/v1/integrations/installations/{seeded.installation_id}/resources/db/connections",
            json={"projectId": project},
            headers=user,
        )
        assert connected.status_code == 201, connected.text

    def deploy(thread: int) -> list[str]:
        with httpx.Client(base_url=bases[thread % len(bases)], headers=user, timeout=60) as http:
            made = [
                http.post("/v13/deployments", json={"project": project, "target": "production"})
                for _ in range(DEPLOYS_PER_THREAD)
            ]
        assert [response.status_code for response in made] == [200] * DEPLOYS_PER_THREAD
        return [response.json()["id"] for response in made]

    with ThreadPoolExecutor(THREADS) as pool:
        ids = [made for batch in pool.map(deploy, range(THREADS)) for made in batch]
    assert _serving_is_the_newest(database_url) == THREADS * DEPLOYS_PER_THREAD

    # Delete half at once, the newest among them, so that serving is handed on under load.
    doomed = ids[-THREADS * DEPLOYS_PER_THREAD // 2 :]
    random.shuffle(doomed)

    def delete(thread: int) -> list[int]:
        with httpx.Client(base_url=bases[thread % len(bases)], headers=user, timeout=60) as http:
            return [
                http.delete(f"/v13/deployments/{deployment_id}").status_code
                for deployment_id in doomed[thread::THREADS]
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = [status for batch in pool.map(delete, range(THREADS)) for status in batch]
    assert statuses == [200] * len(doomed)
    assert _serving_is_the_newest(database_url) == len(ids) - len(doomed)
    with httpx.Client(base_url=bases[-1], timeout=60) as http:
        usage = http.get(resource + "/secrets/usage", headers=partner).json()
    assert [(v["liveDeployments"], v["servingDeployments"]) for v in usage["values"]] == [
        (len(ids) - len(doomed), 1)
    ]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_processes_on_postgres_leave_one_serving_deployment(
    start_server: ServerProcesses, database_url: str
) -> None:
    _race(start_server, database_url, processes=2)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_one_process_on_sqlite_leaves_one_serving_deployment(
    start_server: ServerProcesses, database_url: str
) -> None:
    _race(start_server, database_url, processes=1)
