"""What the HTTP benchmark sends: the seeded world and the requests of each case."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from bench.world import ADMIN_TOKEN

CONNECTIONS = 4
# SQLite's writers are measured under this many connections for the p99/p50 ratio.
CROWD = 32
PULL_RESOURCES = 20
SECRETS_PER_RESOURCE = 20
WRITE_CASES = ("rotation PUT", "deployment create, 400 keys", "env var create (upsert)")


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    token: str | None
    body: str | None = None
    # A Lua `request` function instead of a fixed body (the rotation's changing values).
    script: str | None = None


# A rotation: the same 20 names with new values each request (a counter in wrk's Lua state;
# one wrk thread, so counters never repeat).
ROTATION_SCRIPT = """
local n = 0
request = function()
  n = n + 1
  local items = {}
  for i = 1, 20 do
    items[i] = string.format('{"name":"ROT_%02d","value":"v-%d-%d"}', i, n, i)
  end
  local body = '{"secrets":[' .. table.concat(items, ",") .. '],"partial":false}'
  return wrk.format(nil, nil, nil, body)
end
"""


def _secrets(prefix: str, tag: str) -> list[dict[str, str]]:
    return [
        {"name": f"{prefix}_{i:02d}", "value": f"{tag}-{i:02d}-{'x' * 32}"}
        for i in range(1, SECRETS_PER_RESOURCE + 1)
    ]


@dataclass(frozen=True)
class Seeded:
    installation_id: str
    integration_token: str
    user_token: str
    project_id: str
    project_name: str
    env_project_id: str
    noop_body: str


def seed(base: str) -> Seeded:
    """Accounts, a rotated and a no-op resource, a project with 20 connected resources."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=base, timeout=60) as http:

        def call(
            method: str, path: str, body: object, token: dict[str, str], status: int
        ) -> dict[str, Any]:
            response = http.request(method, path, json=body, headers=token)
            if response.status_code != status:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
            return response.json() if response.content else {}

        team = call("POST", "/v1/admin/teams", {"slug": "bench-http"}, admin, 201)
        user = call("POST", f"/v1/admin/teams/{team['id']}/tokens", {}, admin, 201)
        call(
            "POST",
            "/v1/admin/integrations",
            {"slug": "bench-http", "products": [{"slug": "pg"}]},
            admin,
            201,
        )
        installation = call(
            "POST",
            "/v1/admin/installations",
            {"teamId": team["id"], "integration": "bench-http"},
            admin,
            201,
        )
        partner = {"Authorization": f"Bearer {installation['accessToken']}"}
        users = {"Authorization": f"Bearer {user['token']}"}
        resources = f"/v1/installations/{installation['id']}/resources"

        def resource(partner_id: str, prefix: str) -> list[dict[str, str]]:
            items = _secrets(prefix, "v0")
            body = {"productId": "pg", "name": partner_id, "status": "ready", "secrets": items}
            call("PUT", f"{resources}/{partner_id}", body, partner, 200)
            return items

        resource("rotated", "ROT")
        noop = resource("noop", "NOOP")
        project = call("POST", "/v11/projects", {"name": "bench-http-pull"}, users, 200)
        for index in range(PULL_RESOURCES):
            resource(f"pulled-{index:02d}", f"P{index:02d}")
            call(
                "POST",
                f"/v1/integrations/installations/{installation['id']}/resources/"
                f"pulled-{index:02d}/connections",
                {"projectId": project["id"]},
                users,
                201,
            )
        env_project = call("POST", "/v11/projects", {"name": "bench-http-env"}, users, 200)
        pulled = call("GET", f"/v3/env/pull/{project['id']}/production", None, users, 200)
        if len(pulled["env"]) != PULL_RESOURCES * SECRETS_PER_RESOURCE:
            raise RuntimeError(f"env pull answered {len(pulled['env'])} keys")
    return Seeded(
        installation_id=installation["id"],
        integration_token=installation["accessToken"],
        user_token=user["token"],
        project_id=project["id"],
        project_name=project["name"],
        env_project_id=env_project["id"],
        noop_body=json.dumps({"secrets": noop, "partial": False}),
    )


def keyturn_cases(seeded: Seeded) -> list[Case]:
    partner, user = seeded.integration_token, seeded.user_token
    secrets_path = f"/v1/installations/{seeded.installation_id}/resources"
    deploy = json.dumps(
        {"name": seeded.project_name, "project": seeded.project_id, "target": "production"}
    )
    variable = json.dumps(
        {"key": "BENCH_VAR", "value": "bench-value", "type": "encrypted", "target": ["production"]}
    )
    return [
        Case("/healthz", "GET", "/healthz", None),
        Case("no-op PUT", "PUT", f"{secrets_path}/noop/secrets", partner, body=seeded.noop_body),
        Case(
            "rotation PUT",
            "PUT",
            f"{secrets_path}/rotated/secrets",
            partner,
            script=ROTATION_SCRIPT,
        ),
        Case("env pull, 400 keys", "GET", f"/v3/env/pull/{seeded.project_id}/production", user),
        Case("deployment create, 400 keys", "POST", "/v13/deployments", user, body=deploy),
        Case(
            "env var create (upsert)",
            "POST",
            f"/v10/projects/{seeded.env_project_id}/env?upsert=true",
            user,
            body=variable,
        ),
    ]


def bare_cases(seeded: Seeded) -> list[Case]:
    return [
        Case("/healthz", "GET", "/healthz", None),
        Case(
            "PUT, body validated",
            "PUT",
            f"/v1/installations/{seeded.installation_id}/resources/noop/secrets",
            None,
            body=seeded.noop_body,
        ),
    ]
