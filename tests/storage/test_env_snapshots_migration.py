"""Migration 0013 moves each deployment's references into the shared env snapshot of its
project and content, and its serving flag onto its row, without changing what any deployment
pulls, what a deployment's record says, or what the usage ledger answers; the downgrade gives
every deployment its own reference rows again."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from keyturn.app import Runtime
from keyturn.domain.clock import SettableClock
from keyturn.storage.repositories.deployments import open_copied_env, seal_copied_env
from keyturn.storage.tables import deployments, env_snapshot_versions, env_snapshots
from tests.conftest import Partner, Workspace
from tests.storage.test_migrations import _migrate, connected_projects, references_0011

DEPLOYMENT_COLUMNS_0011 = (
    "id",
    "project_id",
    "name",
    "target",
    "git_branch",
    "url",
    "created_at",
    "copied_env_ciphertext",
)
deployments_0011 = sa.table("deployments", *map(sa.column, DEPLOYMENT_COLUMNS_0011))


def _world(
    partner: Partner, workspace: Workspace, client: TestClient, clock: SettableClock
) -> dict[str, str]:
    """Deployments of every kind a snapshot must carry: shared and not, two targets and a
    branch, a rotation between them, a resource deleted after, one without resources, and
    one deleted."""
    web, api = connected_projects(partner, workspace)
    bare = workspace.create_project("bare")
    workspace.add_var(
        web, {"key": "API_KEY", "value": "user-1", "type": "encrypted", "target": ["production"]}
    )
    made: dict[str, str] = {}

    def deploy(name: str, project: str, target: str, branch: str | None = None) -> None:
        clock.advance(1000)
        body: dict[str, object] = {"name": "site", "project": project, "target": target}
        if branch is not None:
            body["gitBranch"] = branch
        made[name] = workspace.deploy(body)["id"]

    deploy("web production", web, "production")
    deploy("web production again", web, "production")
    deploy("web preview feat", web, "preview", "feat")
    deploy("doomed", web, "preview", "feat")
    assert (
        partner.put_secrets({"secrets": [{"name": "URL", "value": "db1-url-2"}], "partial": True})[
            0
        ]
        == 201
    )
    deploy("web production, rotated", web, "production")
    deploy("api preview", api, "preview")
    deploy("bare production", bare, "production")
    doomed = made.pop("doomed")
    assert client.delete(f"/v13/deployments/{doomed}", headers=workspace.headers).status_code == 200
    gone = client.delete(partner.resource_path("db2"), headers=partner.auth())
    assert gone.status_code == 204
    return made


def _answers(
    partner: Partner, workspace: Workspace, client: TestClient, made: dict[str, str]
) -> dict[str, Any]:
    """Everything the migration must not change: pulls, records and the ledger."""
    return {
        "pulls": {name: workspace.deployment_env(d) for name, d in made.items()},
        "records": {
            name: client.get(f"/v13/deployments/{d}", headers=workspace.headers).json()
            for name, d in made.items()
        },
        "usage": client.get(
            partner.resource_path("db1") + "/secrets/usage", headers=partner.auth()
        ).json(),
    }


def _references_0011(runtime: Runtime) -> list[tuple[Any, ...]]:
    with runtime.store.engine.connect() as connection:
        return sorted(
            tuple(row)
            for row in connection.execute(
                select(
                    references_0011.c.deployment_id,
                    references_0011.c.resource_id,
                    references_0011.c.secrets_version,
                    references_0011.c.serving,
                )
            )
        )


def _snapshot_of(runtime: Runtime) -> dict[str, int | None]:
    with runtime.store.engine.connect() as connection:
        return dict(
            connection.execute(select(deployments.c.id, deployments.c.env_snapshot_id)).all()
        )


def _count(runtime: Runtime, table: sa.Table) -> int:
    with runtime.store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_downgrade_and_upgrade_keep_pulls_records_and_ledger(
    runtime: Runtime,
    partner: Partner,
    workspace: Workspace,
    client: TestClient,
    clock: SettableClock,
) -> None:
    made = _world(partner, workspace, client, clock)
    before = _answers(partner, workspace, client, made)
    assert before["pulls"]["web production"] == {
        "API_KEY": "user-1",
        "DB1_URL": "",
        "NEXT_PUBLIC_DB1_HOST": "db1-host",
        "TOKEN": "db2-token-1",
    }
    snapshots = _snapshot_of(runtime)
    # Same project, versions and connections: one snapshot, whatever the target or branch.
    shared = {snapshots[made[name]] for name in ("web production", "web production again")}
    assert shared == {snapshots[made["web preview feat"]]}
    assert snapshots[made["bare production"]] is None
    assert _count(runtime, env_snapshots) == 3  # web before and after the rotation, api

    _migrate(runtime, "0011")
    assert "env_snapshots" not in inspect(runtime.store.engine).get_table_names()
    references = _references_0011(runtime)
    # Each deployment its own row per resource it used; the bare one none.
    per_deployment = dict.fromkeys(made.values(), 0)
    for deployment_id, *_ in references:
        per_deployment[deployment_id] += 1
    assert per_deployment == {
        made["web production"]: 2,
        made["web production again"]: 2,
        made["web preview feat"]: 2,
        made["web production, rotated"]: 2,
        made["api preview"]: 1,
        made["bare production"]: 0,
    }
    serving = {d for d, _, _, is_serving in references if is_serving}
    assert serving == {
        made[name] for name in ("web preview feat", "web production, rotated", "api preview")
    }

    _migrate(runtime, "head")

    assert _answers(partner, workspace, client, made) == before
    assert _count(runtime, env_snapshots) == 3
    assert _count(runtime, env_snapshot_versions) == 5
    # The code addresses snapshots as the migration did: a deployment after no change
    # names the migrated one.
    snapshots = _snapshot_of(runtime)
    clock.advance(1000)
    again = workspace.deploy({"name": "site", "project": _project(runtime, made)})
    assert _snapshot_of(runtime)[again["id"]] == snapshots[made["api preview"]]
    assert _count(runtime, env_snapshots) == 3


def _project(runtime: Runtime, made: dict[str, str]) -> str:
    """The project of "api preview" (whose default target, preview, it deploys again)."""
    with runtime.store.engine.connect() as connection:
        return str(
            connection.execute(
                select(deployments.c.project_id).where(deployments.c.id == made["api preview"])
            ).scalar_one()
        )


def test_upgrade_moves_a_deployment_written_as_0011_into_its_projects_snapshot(
    runtime: Runtime,
    partner: Partner,
    workspace: Workspace,
    client: TestClient,
    clock: SettableClock,
) -> None:
    made = _world(partner, workspace, client, clock)
    rotated = made["web production, rotated"]
    expected = workspace.deployment_env(rotated)
    _migrate(runtime, "0011")
    # A newer deployment of the same group, as revision 0011 wrote one: its own rows, serving,
    # and its predecessor's rows no longer serving.
    copy = runtime.store.ids.new("dpl")
    with runtime.store.engine.begin() as connection:
        original = connection.execute(
            select(deployments_0011).where(deployments_0011.c.id == rotated)
        ).one()
        keys = runtime.store.keys
        copied = open_copied_env(keys, rotated, original.copied_env_ciphertext)
        connection.execute(
            deployments_0011.insert().values(
                {
                    **original._asdict(),
                    "id": copy,
                    "created_at": original.created_at + 1,
                    # Sealed for its own id, as every deployment's copies are.
                    "copied_env_ciphertext": seal_copied_env(keys, copy, copied),
                }
            )
        )
        rows = connection.execute(
            select(references_0011).where(references_0011.c.deployment_id == rotated)
        ).all()
        connection.execute(
            references_0011.insert(),
            [
                {**row._asdict(), "deployment_id": copy, "created_at": original.created_at + 1}
                for row in rows
            ],
        )
        connection.execute(
            sa.update(references_0011)
            .where(references_0011.c.deployment_id == rotated)
            .values(serving=False)
        )

    _migrate(runtime, "head")

    assert workspace.deployment_env(copy) == expected
    snapshots = _snapshot_of(runtime)
    assert snapshots[copy] == snapshots[rotated]
    with runtime.store.engine.connect() as connection:
        flags = dict(
            connection.execute(
                select(deployments.c.id, deployments.c.serving).where(
                    deployments.c.id.in_([copy, rotated])
                )
            ).all()
        )
    assert flags == {copy: True, rotated: False}
