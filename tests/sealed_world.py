"""A seeded world with a value in every sealed column, and readers of it for rotation tests.

Shared by the storage tests of key rotation and the CLI tests of `keyturn keys` and
`keyturn db reencrypt`: seeded through the API, read back through the API and the raw tables.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, select

from keyturn.storage.encryption import key_id_of_ciphertext
from keyturn.storage.sealed_columns import SEALED_COLUMNS
from tests.conftest import Partner, Workspace

OLD_VALUE = "postgres://app:before-rotation-51@db/app"
OVERRIDE = "postgres://app:preview-only-77@db/app"
USER_VALUE = "user-value-3310"
# The user variable is created with an Idempotency-Key, so its kept answer (which holds the
# value) is sealed too; replaying the create reads that answer back.
USER_VAR = {"key": "USER_KEY", "value": USER_VALUE, "type": "encrypted", "target": ["production"]}
USER_VAR_KEY = "seed-user-var"


def key_ids_by_column(engine: Engine) -> dict[str, Counter[bytes]]:
    """Straight from the tables: which key id each stored ciphertext names."""
    found: dict[str, Counter[bytes]] = {}
    with engine.connect() as connection:
        for sealed in SEALED_COLUMNS:
            blobs = connection.execute(
                select(sealed.column).where(sealed.column.is_not(None))
            ).scalars()
            found[sealed.name] = Counter(key_id_of_ciphertext(blob) for blob in blobs)
    return found


@dataclass(frozen=True)
class World:
    """A resource with an override, a connected project with a user variable, a deployment."""

    project_id: str
    deployment_id: str
    env_var_id: str
    # The team's user token, which reads the project's env.
    headers: dict[str, str]


def seed_world(partner: Partner, workspace: Workspace, resources: int = 1) -> World:
    for index in range(resources):
        partner.import_resource(
            f"db{index}",
            secrets=[
                {
                    "name": f"DATABASE_URL_{index}",
                    "value": f"{OLD_VALUE}/{index}",
                    "environmentOverrides": {"preview": OVERRIDE},
                },
                {"name": f"PGHOST_{index}", "value": f"host-{index}"},
            ],
        )
    project_id = workspace.create_project("web")
    for index in range(resources):
        assert workspace.connect(project_id, f"db{index}").status_code == 201
    created = workspace.client.post(
        f"/v10/projects/{project_id}/env",
        json=USER_VAR,
        headers={**workspace.headers, "Idempotency-Key": USER_VAR_KEY},
    )
    assert created.status_code == 201, created.text
    deployment = workspace.deploy({"name": "web", "project": project_id, "target": "production"})
    # The first JWKS fetch makes the signing key: every sealed column then holds a ciphertext.
    assert partner.client.get("/.well-known/jwks").status_code == 200
    # A team webhook: its signing secret is sealed too.
    hook = workspace.client.post(
        "/v1/webhooks",
        json={"url": "https://example.com/hook", "events": ["deployment.created"]},
        headers=workspace.headers,
    )
    assert hook.status_code == 200, hook.text
    return World(
        project_id, deployment["id"], created.json()["created"][0]["id"], dict(workspace.headers)
    )


def everything_readable(client: httpx.Client, world: World) -> dict[str, str]:
    """Every kind of sealed value, decrypted through the API."""
    headers = world.headers
    production = client.get(f"/v3/env/pull/{world.project_id}/production", headers=headers)
    preview = client.get(f"/v3/env/pull/{world.project_id}/preview", headers=headers)
    frozen = client.get(f"/v3/env/pull/{world.deployment_id}", headers=headers)
    for response in (production, preview, frozen):
        assert response.status_code == 200, response.text
    replayed = client.post(
        f"/v10/projects/{world.project_id}/env",
        json=USER_VAR,
        headers={**headers, "Idempotency-Key": USER_VAR_KEY},
    )
    assert replayed.status_code == 201, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    return {
        "replayed:USER_KEY": replayed.json()["created"][0]["value"],
        **{f"production:{k}": v for k, v in production.json()["env"].items()},
        **{f"preview:{k}": v for k, v in preview.json()["env"].items()},
        **{f"deployment:{k}": v for k, v in frozen.json()["env"].items()},
    }
