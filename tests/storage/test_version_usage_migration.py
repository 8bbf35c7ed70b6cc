"""Migration 0014l fills the ledger's counts per version from the deployments there are, so
the usage ledger answers the same after a downgrade and the upgrade, and deployments made
after it keep counting."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import inspect

from keyturn.app import Runtime
from keyturn.domain.clock import SettableClock
from tests.conftest import Partner, Workspace
from tests.storage.test_migrations import _migrate
from tests.storage.test_version_usage import assert_counts_hold, kept_counts, recounted


def test_upgrade_counts_the_deployments_there_are_and_the_ledger_answers_the_same(
    runtime: Runtime,
    partner: Partner,
    workspace: Workspace,
    client: TestClient,
    clock: SettableClock,
) -> None:
    partner.import_resource("db1", secrets=[{"name": "URL", "value": "one"}])
    projects = [workspace.create_project(f"p{n}") for n in range(3)]
    for n, project in enumerate(projects):
        assert workspace.connect(project, "db1", envVarPrefix=f"P{n}").status_code == 201
    made = []
    for target in ("production", "production", "preview"):
        for project in projects:
            clock.advance(1000)
            made.append(workspace.deploy({"project": project, "target": target})["id"])
    assert partner.put_secrets({"secrets": [{"name": "URL", "value": "two"}]})[0] == 201
    clock.advance(1000)
    made.append(workspace.deploy({"project": projects[0], "target": "production"})["id"])
    # The newest of version 1 goes: its kept bound is no longer exact, the recount's is.
    gone = client.delete(f"/v13/deployments/{made[8]}", headers=workspace.headers)
    assert gone.status_code == 200
    path = partner.resource_path("db1") + "/secrets/usage"
    before = client.get(path, headers=partner.auth()).json()
    assert [value["liveDeployments"] for value in before["values"]] == [1, 8]
    assert [value["servingDeployments"] for value in before["values"]] == [1, 4]
    assert_counts_hold(runtime)

    _migrate(runtime, "0014")
    assert "secrets_version_usage" not in inspect(runtime.store.engine).get_table_names()
    _migrate(runtime, "head")

    assert kept_counts(runtime) == recounted(runtime)
    assert client.get(path, headers=partner.auth()).json() == before
    clock.advance(1000)
    workspace.deploy({"project": projects[1], "target": "preview"})
    assert_counts_hold(runtime)
    after = client.get(path, headers=partner.auth()).json()
    assert [value["liveDeployments"] for value in after["values"]] == [2, 8]
