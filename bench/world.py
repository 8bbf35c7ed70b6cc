"""The seeded world the measurements run against, built through the real ASGI app.

Accounts (team, user token, integration, installation), every resource and every secret go
through the HTTP API, as a partner and a user would send them. Only the 10,000 projects and
the connections of the four sized resources are bulk-inserted with SQLAlchemy Core: seeding is
not what is measured, and 11,101 connection requests would take longer than the whole benchmark.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, text

from keyturn.domain.clock import SystemClock
from keyturn.domain.ids import IdSource
from keyturn.storage.tables import connections, projects

# A fresh admin token per run: the throwaway server is reachable only from this process anyway.
ADMIN_TOKEN = f"kt_admin_{secrets.token_hex(16)}"
PROJECT_COUNT = 10_000
# Connected projects of each rotated resource; the first is the baseline of the ratios.
SIZES = (1, 100, 1_000, 10_000)
SECRETS_PER_RESOURCE = 20
PULL_RESOURCES = 20
PULL_PROJECT_NAME = "bench-pull"


@dataclass(frozen=True)
class World:
    client: TestClient
    team_id: str
    installation_id: str
    integration_token: str
    user_token: str
    # Partner ids of the rotated resources, by number of connected projects.
    sized_resources: dict[int, str]
    # Secret names of each rotated resource (a rotation sends the same names again).
    secret_names: dict[str, list[str]]
    pull_project_id: str
    pull_project_name: str
    connection_rows: int

    def partner_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.integration_token}"}

    def user_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.user_token}"}

    def resource_path(self, partner_id: str) -> str:
        return f"/v1/installations/{self.installation_id}/resources/{partner_id}"

    def secrets_path(self, partner_id: str) -> str:
        return f"{self.resource_path(partner_id)}/secrets"


def expect(response: Any, status: int) -> dict[str, Any]:
    """The response's JSON body, or an error naming the request that went wrong."""
    if response.status_code != status:
        request = response.request
        raise RuntimeError(
            f"{request.method} {request.url.path} answered {response.status_code}, "
            f"expected {status}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def secret_values(names: Sequence[str], tag: str) -> list[dict[str, str]]:
    """The secrets `names` with fresh values: what a rotation sends."""
    return [{"name": name, "value": f"{tag}-{secrets.token_hex(16)}"} for name in names]


def build_world(client: TestClient, engine: Engine) -> World:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    team = expect(client.post("/v1/admin/teams", json={"slug": "bench"}, headers=admin), 201)
    user = expect(client.post(f"/v1/admin/teams/{team['id']}/tokens", json={}, headers=admin), 201)
    integration = expect(
        client.post(
            "/v1/admin/integrations",
            json={"slug": "bench-db", "products": [{"slug": "postgres"}]},
            headers=admin,
        ),
        201,
    )
    product_id = integration["products"][0]["id"]
    installation = expect(
        client.post(
            "/v1/admin/installations",
            json={"teamId": team["id"], "integration": "bench-db"},
            headers=admin,
        ),
        201,
    )
    partner = {"Authorization": f"Bearer {installation['accessToken']}"}
    user_headers = {"Authorization": f"Bearer {user['token']}"}
    resources_path = f"/v1/installations/{installation['id']}/resources"

    def import_resource(partner_id: str, names: list[str]) -> str:
        body = {
            "productId": product_id,
            "name": partner_id,
            "status": "ready",
            "secrets": secret_values(names, "v0"),
        }
        expect(client.put(f"{resources_path}/{partner_id}", json=body, headers=partner), 200)
        resource = expect(client.get(f"{resources_path}/{partner_id}", headers=partner), 200)
        internal_id: str = resource["internalId"]
        return internal_id

    # The rotated resources; distinct secret names, so that no project sees a key twice.
    sized: dict[int, str] = {}
    names_of: dict[str, list[str]] = {}
    internal_ids: dict[int, str] = {}
    for size in SIZES:
        partner_id = f"rotate-{size}"
        names = [f"R{size}_SECRET_{i:02d}" for i in range(SECRETS_PER_RESOURCE)]
        internal_ids[size] = import_resource(partner_id, names)
        sized[size] = partner_id
        names_of[partner_id] = names

    connection_rows = _bulk_insert(engine, team["id"], internal_ids)

    # The pulled and deployed project: 20 resources, each connected through the user API.
    project = expect(
        client.post("/v11/projects", json={"name": PULL_PROJECT_NAME}, headers=user_headers), 200
    )
    for index in range(PULL_RESOURCES):
        partner_id = f"env-{index:02d}"
        import_resource(
            partner_id, [f"E{index:02d}_SECRET_{i:02d}" for i in range(SECRETS_PER_RESOURCE)]
        )
        expect(
            client.post(
                f"/v1/integrations/installations/{installation['id']}"
                f"/resources/{partner_id}/connections",
                json={"projectId": project["id"]},
                headers=user_headers,
            ),
            201,
        )

    if engine.dialect.name == "postgresql":
        # Autovacuum would analyze the bulk-inserted tables at a moment of its choosing, maybe
        # mid-measurement; do it now so that every sample runs with the same plans.
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))

    return World(
        client=client,
        team_id=team["id"],
        installation_id=installation["id"],
        integration_token=installation["accessToken"],
        user_token=user["token"],
        sized_resources=sized,
        secret_names=names_of,
        pull_project_id=project["id"],
        pull_project_name=project["name"],
        connection_rows=connection_rows,
    )


def _bulk_insert(engine: Engine, team_id: str, internal_ids: dict[int, str]) -> int:
    """10,000 projects; the resource of size n connected to the first n of them."""
    now, ids = SystemClock().now_ms(), IdSource()
    project_rows = [
        {
            "id": ids.new("prj"),
            "team_id": team_id,
            "name": f"bench-{index:05d}",
            "created_at": now,
            "updated_at": now,
        }
        for index in range(PROJECT_COUNT)
    ]
    connection_rows = [
        {
            "id": ids.new("conn"),
            "resource_id": internal_ids[size],
            "project_id": row["id"],
            "in_production": True,
            "in_preview": True,
            "in_development": True,
            "env_var_prefix": None,
            "make_sensitive": False,
            "created_at": now,
        }
        for size in SIZES
        for row in project_rows[:size]
    ]
    with engine.begin() as connection:
        connection.execute(insert(projects), project_rows)
        connection.execute(insert(connections), connection_rows)
    return len(connection_rows)
