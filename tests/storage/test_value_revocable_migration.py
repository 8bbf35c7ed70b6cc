"""Revision 0011 records the values already safe to revoke as announced (without an event),
so that upgrading announces nothing stale and later changes announce each value once."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select

from keyturn.app import Runtime
from keyturn.storage.migrate import alembic_config
from keyturn.storage.tables import revocable_values
from tests.conftest import Workspace

REVOCABLE = "resource.secrets.value-revocable"


def _migrate(runtime: Runtime, revision: str) -> None:
    config = alembic_config()
    with runtime.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        if revision == "head":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


def _rows(runtime: Runtime) -> set[tuple[str, int, int, bool]]:
    with runtime.store.engine.connect() as connection:
        rows = connection.execute(select(revocable_values)).all()
    return {(r.name, r.from_version, r.to_version, r.announced_at is None) for r in rows}


def _announced(workspace: Workspace) -> list[tuple[str, int, int]]:
    response = workspace.client.get(
        "/v1/events", params={"type": REVOCABLE}, headers=workspace.headers
    )
    assert response.status_code == 200, response.text
    return [
        (e["payload"]["name"], e["payload"]["fromVersion"], e["payload"]["toVersion"])
        for e in response.json()["events"]
    ]


def test_upgrade_records_values_already_safe_to_revoke_and_announces_the_rest_later(
    runtime: Runtime, workspace: Workspace
) -> None:
    partner = workspace.partner
    partner.import_resource(secrets=[{"name": "URL", "value": "one"}])
    project = workspace.create_project("web")
    assert workspace.connect(project, envVarEnvironments=["production"]).status_code == 201
    deployment = workspace.deploy({"name": "web", "target": "production"})
    for value in ("two", "three"):
        assert partner.put_secrets({"secrets": [{"name": "URL", "value": value}]})[0] == 201
    _migrate(runtime, "0012")
    _migrate(runtime, "head")
    # 2..2 was safe to revoke before: recorded, never announced; 1..1 is still in use.
    assert _rows(runtime) == {("URL", 2, 2, True)}
    before = _announced(workspace)
    deleted = workspace.client.delete(
        f"/v13/deployments/{deployment['id']}", headers=workspace.headers
    )
    assert deleted.status_code == 200, deleted.text
    assert _announced(workspace) == [*before, ("URL", 1, 1)]
    assert _rows(runtime) == {("URL", 2, 2, True), ("URL", 1, 1, False)}
