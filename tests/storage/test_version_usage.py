"""The ledger's counts per resource and version (`secrets_version_usage`) stay equal to a
recount of the live deployments through their env snapshots after every change to a
deployment's life or `serving`: creates that share a snapshot and creates that do not (a
prefix per project, so one version's deployments spread over several snapshots), redeploys,
deletes that hand `serving` on, and a project's delete. The creation-time bounds never shut out
a deployment, and a version no live deployment uses has no row."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import case, func, select

from keyturn.app import Runtime
from keyturn.domain.clock import SettableClock
from keyturn.storage.tables import deployments, env_snapshot_versions, secrets_version_usage
from tests.conftest import Partner, Workspace

Counts = dict[tuple[str, int], tuple[int, int, int, int]]


def kept_counts(runtime: Runtime) -> Counts:
    """{(resource, version): (live, serving, newest_at, oldest_at)} as stored."""
    usage = secrets_version_usage
    with runtime.store.engine.connect() as connection:
        rows = connection.execute(
            select(
                usage.c.resource_id,
                usage.c.secrets_version,
                usage.c.live,
                usage.c.serving,
                usage.c.newest_at,
                usage.c.oldest_at,
            )
        ).all()
    return {(row[0], row[1]): (row[2], row[3], row[4], row[5]) for row in rows}


def recounted(runtime: Runtime) -> Counts:
    """The same numbers, counted from the deployments (exact times)."""
    used = env_snapshot_versions
    with runtime.store.engine.connect() as connection:
        rows = connection.execute(
            select(
                used.c.resource_id,
                used.c.secrets_version,
                func.count(),
                func.sum(case((deployments.c.serving, 1), else_=0)),
                func.max(deployments.c.created_at),
                func.min(deployments.c.created_at),
            )
            .join(deployments, deployments.c.env_snapshot_id == used.c.snapshot_id)
            .group_by(used.c.resource_id, used.c.secrets_version)
        ).all()
    return {(row[0], row[1]): (row[2], int(row[3]), row[4], row[5]) for row in rows}


def assert_counts_hold(runtime: Runtime) -> None:
    """Kept counts equal the recount; kept bounds hold the recount's times."""
    kept, fresh = kept_counts(runtime), recounted(runtime)
    assert {key: counts[:2] for key, counts in kept.items()} == {
        key: counts[:2] for key, counts in fresh.items()
    }
    for key, (_, _, newest_at, oldest_at) in fresh.items():
        assert kept[key][2] >= newest_at
        assert kept[key][3] <= oldest_at


def _spread_projects(partner: Partner, workspace: Workspace) -> list[str]:
    """Three projects connected to db1, each with its own prefix (so their deployments name
    three snapshots), the first also to db2."""
    partner.import_resource("db1", secrets=[{"name": "URL", "value": "one"}])
    partner.import_resource("db2", secrets=[{"name": "TOKEN", "value": "t-one"}])
    projects = [workspace.create_project(f"p{n}") for n in range(3)]
    for n, project in enumerate(projects):
        assert workspace.connect(project, "db1", envVarPrefix=f"P{n}").status_code == 201
    assert workspace.connect(projects[0], "db2").status_code == 201
    return projects


def test_counts_follow_creates_deletes_and_a_project_delete_over_spread_snapshots(
    runtime: Runtime,
    partner: Partner,
    workspace: Workspace,
    client: TestClient,
    clock: SettableClock,
) -> None:
    projects = _spread_projects(partner, workspace)
    made: list[str] = []

    def deploy(project: str, target: str = "production", **extra: object) -> str:
        clock.advance(1000)
        made.append(workspace.deploy({"project": project, "target": target, **extra})["id"])
        assert_counts_hold(runtime)
        return made[-1]

    def delete(deployment_id: str) -> None:
        response = client.delete(f"/v13/deployments/{deployment_id}", headers=workspace.headers)
        assert response.status_code == 200, response.text
        assert_counts_hold(runtime)

    for project in projects:
        deploy(project)
        deploy(project)  # the same snapshot: `serving` moves within it
        deploy(project, "preview")
    assert partner.put_secrets({"secrets": [{"name": "URL", "value": "two"}]})[0] == 201
    first_after_rotation = deploy(projects[0])  # a new snapshot takes `serving` from the old
    deploy(projects[1], gitBranch="feat")
    clock.advance(1000)
    # A redeploy takes the current env: version 2, newest of p0's production.
    redeployed = workspace.deploy({"deploymentId": made[0]})["id"]
    assert_counts_hold(runtime)
    db1 = str(partner.get_resource("db1")["internalId"])
    assert {
        key[1]: counts[:2] for key, counts in kept_counts(runtime).items() if key[0] == db1
    } == {
        1: (9, 5),  # p0's production of version 1 no longer serves
        2: (3, 2),  # the rotated one neither: the redeploy does
    }

    delete(redeployed)  # the group's newest: the rotated one serves again
    delete(first_after_rotation)  # and now p0's second production of version 1
    assert kept_counts(runtime)[(db1, 1)][:2] == (9, 6)
    assert kept_counts(runtime)[(db1, 2)][:2] == (1, 1)
    delete(made[0])  # neither newest nor serving
    response = client.delete(f"/v9/projects/{projects[1]}", headers=workspace.headers)
    assert response.status_code == 204
    assert_counts_hold(runtime)
    assert kept_counts(runtime)[(db1, 1)][:2] == (5, 4)
    assert (db1, 2) not in kept_counts(runtime)  # its last deployment went with p1


def test_a_version_whose_deployments_are_all_deleted_has_no_row(
    runtime: Runtime,
    partner: Partner,
    workspace: Workspace,
    client: TestClient,
    clock: SettableClock,
) -> None:
    projects = _spread_projects(partner, workspace)
    clock.advance(1000)
    only = workspace.deploy({"project": projects[2], "target": "production"})["id"]
    assert len(kept_counts(runtime)) == 1
    assert client.delete(f"/v13/deployments/{only}", headers=workspace.headers).status_code == 200
    assert kept_counts(runtime) == {}
    assert recounted(runtime) == {}
