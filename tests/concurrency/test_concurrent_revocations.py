"""Concurrency: deployments deleted while secrets PUTs supersede their values, by two server
processes sharing PostgreSQL, announce every value that ends safe to revoke exactly once
(`resource.secrets.value-revocable`, CONTRACT.md 6.1), and nothing else, with no refusal.

(The window in which a deletion and a PUT could both miss a value is narrow: this load did
not hit it with the deletion's resource lock taken out, so the lock is argued in
services/revocable.py rather than proven here.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.concurrency.conftest import ServerProcesses, seed

DEPLOYMENTS = 12
PUTS = 6
THREADS = 4

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgresql"], indirect=True)]


def _announced(http: httpx.Client, user: dict[str, str]) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    params: dict[str, Any] = {"type": "resource.secrets.value-revocable", "limit": 100}
    while True:
        page = http.get("/v1/events", params=params, headers=user).json()
        found += [
            (e["payload"]["name"], e["payload"]["fromVersion"], e["payload"]["toVersion"])
            for e in page["events"]
        ]
        if page["next"] is None:
            return found
        params["after"] = page["next"]


def test_deletions_racing_puts_announce_each_revocable_value_once(
    start_server: ServerProcesses,
) -> None:
    bases = [start_server(), start_server()]
    seeded = seed(bases[0])
    user = {"Authorization": f"Bearer {seeded.user_token}"}
    partner = {"Authorization": f"Bearer {seeded.token}"}
    resource = f"/v1/installations/{seeded.installation_id}/resources/db"
    with httpx.Client(base_url=bases[0], timeout=60) as http:
        first = http.put(
            resource + "/secrets", json={"secrets": [{"name": "A", "value": "v0"}]}, headers=partner
        )
        assert first.status_code == 201, first.text
        project = http.post("/v11/projects", json={"name": "web"}, headers=user).json()["id"]
        connected = http.post(
            f"/v1/integrations/installations/{seeded.installation_id}/resources/db/connections",
            json={"projectId": project},
            headers=user,
        )
        assert connected.status_code == 201, connected.text
        made = [
            http.post(
                "/v13/deployments", json={"project": project, "target": "production"}, headers=user
            )
            for _ in range(DEPLOYMENTS)
        ]
    ids = [response.json()["id"] for response in made]

    def delete(thread: int) -> list[int]:
        with httpx.Client(base_url=bases[thread % 2], headers=user, timeout=60) as http:
            return [http.delete(f"/v13/deployments/{d}").status_code for d in ids[thread::THREADS]]

    def put(thread: int) -> list[int]:
        with httpx.Client(base_url=bases[thread % 2], headers=partner, timeout=60) as http:
            return [
                http.put(
                    resource + "/secrets",
                    json={"secrets": [{"name": "A", "value": f"t{thread}-{n}"}]},
                ).status_code
                for n in range(PUTS)
            ]

    with ThreadPoolExecutor(THREADS * 2) as pool:
        deletes = [pool.submit(delete, t) for t in range(THREADS)]
        puts = [pool.submit(put, t) for t in range(THREADS)]
        assert [s for f in deletes for s in f.result()] == [200] * DEPLOYMENTS
        assert [s for f in puts for s in f.result()] == [201] * (THREADS * PUTS)

    with httpx.Client(base_url=bases[1], timeout=60) as http:
        usage = http.get(resource + "/secrets/usage", headers=partner).json()["values"]
        announced = _announced(http, user)
    revocable = {(v["name"], v["fromVersion"], v["toVersion"]) for v in usage if v["safeToRevoke"]}
    assert len(announced) == len(set(announced)), "a value announced twice"
    assert set(announced) == revocable
    # Every value but the current one ends revocable: no live deployment is left.
    assert len(revocable) == len(usage) - 1 == THREADS * PUTS
