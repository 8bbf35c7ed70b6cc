"""Migration 0005 gives existing deployment references their creation time and serving flag
from the data, so the ledger answers the same before a downgrade and after the upgrade."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from keyturn.app import Runtime
from keyturn.domain.clock import SettableClock
from keyturn.storage.tables import deployments, env_snapshot_versions
from tests.conftest import Partner, Workspace
from tests.storage.test_migrations import _migrate


def _references(runtime: Runtime) -> list[tuple[Any, ...]]:
    """(deployment id, created_at, serving) per reference, as the ledger counts them."""
    with runtime.store.engine.connect() as connection:
        return sorted(
            tuple(row)
            for row in connection.execute(
                select(deployments.c.id, deployments.c.created_at, deployments.c.serving).join(
                    env_snapshot_versions,
                    env_snapshot_versions.c.snapshot_id == deployments.c.env_snapshot_id,
                )
            )
        )


def test_upgrade_to_0005_sets_creation_times_and_serving_flags_from_the_data(
    runtime: Runtime, partner: Partner, workspace: Workspace, clock: SettableClock
) -> None:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "one"}])
    web = workspace.create_project("web")
    assert workspace.connect(web).status_code == 201
    for target, branch in [("production", None), ("production", None), ("preview", "x")]:
        clock.advance(1000)
        body: dict[str, object] = {"project": web, "target": target}
        if branch:
            body["gitBranch"] = branch
        workspace.deploy(body)
    clock.advance(1000)
    workspace.deploy({"project": web, "target": "preview", "gitBranch": "x"})
    before = _references(runtime)
    assert [serving for *_, serving in before].count(True) == 2
    ledger = partner.client.get(
        partner.resource_path() + "/secrets/usage", headers=partner.auth()
    ).json()

    _migrate(runtime, "0006")  # the revision below 0005
    _migrate(runtime, "head")

    assert _references(runtime) == before
    again = partner.client.get(partner.resource_path() + "/secrets/usage", headers=partner.auth())
    assert again.json() == ledger
