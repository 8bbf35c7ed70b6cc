"""Deployments freeze their env (CONTRACT.md 3.5): nothing later changes what they pull, and
they reference their resources' secrets versions rather than copy what those derive."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from keyturn.app import Runtime
from keyturn.domain.clock import SettableClock
from keyturn.storage.repositories.deployments import open_copied_env
from keyturn.storage.tables import deployments, env_snapshot_versions, env_snapshots
from tests.conftest import Partner, Workspace, seed_partner

OLD = "postgres://app:old-4410@db/app"
NEW = "postgres://app:new-9921@db/app"


@pytest.fixture
def project(partner: Partner, workspace: Workspace) -> str:
    partner.import_resource("db1", secrets=[{"name": "DATABASE_URL", "value": OLD}])
    project_id = workspace.create_project("web")
    assert workspace.connect(project_id).status_code == 201
    workspace.add_var(
        project_id, {"key": "API_KEY", "value": "k1", "type": "encrypted", "target": ["production"]}
    )
    return project_id


def test_deployment_answers_its_record(
    workspace: Workspace, project: str, partner: Partner
) -> None:
    deployment = workspace.deploy({"name": "web", "project": project, "target": "production"})
    assert deployment["id"].startswith("dpl_")
    assert (deployment["projectId"], deployment["target"], deployment["readyState"]) == (
        project,
        "production",
        "READY",
    )
    assert deployment["url"].startswith("web-")
    internal_id = partner.get_resource()["internalId"]
    assert deployment["secretsVersions"] == [
        {"resourceId": internal_id, "secretsVersion": 1, "currentVersion": 1}
    ]


def test_deployment_keeps_its_env_through_later_changes(
    workspace: Workspace, project: str, partner: Partner, client: TestClient
) -> None:
    before = workspace.deploy({"name": "web", "project": project, "target": "production"})
    frozen = {"API_KEY": "k1", "DATABASE_URL": OLD}
    assert workspace.deployment_env(before["id"]) == frozen

    partner.put_secrets({"secrets": [{"name": "DATABASE_URL", "value": NEW}], "partial": True})
    after = workspace.deploy({"name": "web", "project": project, "target": "production"})
    assert workspace.deployment_env(after["id"])["DATABASE_URL"] == NEW
    assert workspace.deployment_env(before["id"]) == frozen

    env_id = next(r["id"] for r in workspace.envs(project) if r["key"] == "API_KEY")
    client.delete(f"/v9/projects/{project}/env/{env_id}", headers=workspace.headers)
    client.delete(f"{workspace.connections_path()}/{project}", headers=workspace.headers)
    client.delete(partner.resource_path(), headers=partner.auth())
    assert workspace.deployment_env(before["id"]) == frozen
    assert workspace.deployment_env(after["id"]) == {"API_KEY": "k1", "DATABASE_URL": NEW}
    assert workspace.pull(project, "production") == {}


def test_redeploy_picks_up_current_values(
    workspace: Workspace, project: str, partner: Partner
) -> None:
    first = workspace.deploy({"name": "web", "project": project, "target": "production"})
    partner.put_secrets({"secrets": [{"name": "DATABASE_URL", "value": NEW}], "partial": True})
    again = workspace.deploy({"deploymentId": first["id"]})
    assert again["id"] != first["id"]
    assert (again["projectId"], again["target"]) == (project, "production")
    assert workspace.deployment_env(again["id"])["DATABASE_URL"] == NEW
    assert again["secretsVersions"][0]["secretsVersion"] == 2
    assert workspace.deployment_env(first["id"])["DATABASE_URL"] == OLD


def test_preview_is_the_default_target(workspace: Workspace, project: str) -> None:
    deployment = workspace.deploy({"name": "web"})
    assert deployment["target"] == "preview"
    assert workspace.deployment_env(deployment["id"]) == {"DATABASE_URL": OLD}


def test_deployment_of_branch_uses_branch_variables(workspace: Workspace, project: str) -> None:
    workspace.add_var(
        project,
        {"key": "FLAG", "value": "on", "type": "plain", "target": ["preview"], "gitBranch": "feat"},
    )
    deployment = workspace.deploy({"name": "web", "target": "preview", "gitBranch": "feat"})
    assert workspace.deployment_env(deployment["id"])["FLAG"] == "on"
    assert deployment["gitBranch"] == "feat"


def test_get_list_and_delete_deployments(
    workspace: Workspace, project: str, client: TestClient, clock: SettableClock
) -> None:
    first = workspace.deploy({"name": "web", "target": "production"})
    clock.advance(1)  # newest first needs the second to be newer
    second = workspace.deploy({"name": "web", "target": "preview"})
    got = client.get(f"/v13/deployments/{first['id']}", headers=workspace.headers)
    assert (got.status_code, got.json()["id"]) == (200, first["id"])
    listed = client.get(
        "/v6/deployments", params={"projectId": project}, headers=workspace.headers
    ).json()
    assert [d["id"] for d in listed["deployments"]] == [second["id"], first["id"]]
    assert listed["pagination"]["count"] == 2
    production = client.get(
        "/v6/deployments",
        params={"projectId": project, "target": "production"},
        headers=workspace.headers,
    ).json()
    assert [d["id"] for d in production["deployments"]] == [first["id"]]
    deleted = client.delete(f"/v13/deployments/{first['id']}", headers=workspace.headers)
    assert (deleted.status_code, deleted.json()) == (200, {"uid": first["id"], "state": "DELETED"})
    assert (
        client.get(f"/v13/deployments/{first['id']}", headers=workspace.headers).status_code == 404
    )
    assert client.get(f"/v3/env/pull/{first['id']}", headers=workspace.headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "web", "target": "development"}, 400),
        ({"name": "web", "target": 5}, 400),
        ({"name": "nope"}, 404),
        ({"deploymentId": "dpl_nope"}, 404),
    ],
)
def test_bad_deployment_requests(
    workspace: Workspace, project: str, client: TestClient, body: dict[str, object], status: int
) -> None:
    response = client.post("/v13/deployments", json=body, headers=workspace.headers)
    assert response.status_code == status


def test_another_teams_deployment_is_403(
    workspace: Workspace, project: str, client: TestClient
) -> None:
    deployment = workspace.deploy({"name": "web"})
    other = Workspace(seed_partner(client, "other"))
    for response in (
        client.get(f"/v13/deployments/{deployment['id']}", headers=other.headers),
        client.get(f"/v3/env/pull/{deployment['id']}", headers=other.headers),
        client.delete(f"/v13/deployments/{deployment['id']}", headers=other.headers),
        client.post(
            "/v13/deployments", json={"deploymentId": deployment["id"]}, headers=other.headers
        ),
    ):
        assert response.status_code == 403


def _stored(runtime: Runtime, deployment_id: str) -> tuple[int, dict[str, tuple[str, str]]]:
    """How many references the deployment's snapshot has, and its copied variables as sealed
    in its row."""
    with runtime.store.engine.connect() as connection:
        references = connection.execute(
            select(func.count()).where(
                env_snapshot_versions.c.snapshot_id == _snapshot_of(runtime, deployment_id)
            )
        ).scalar_one()
        sealed = connection.execute(
            select(deployments.c.copied_env_ciphertext).where(deployments.c.id == deployment_id)
        ).scalar_one()
    return references, open_copied_env(runtime.store.keys, deployment_id, sealed)


def _snapshot_of(runtime: Runtime, deployment_id: str) -> int | None:
    with runtime.store.engine.connect() as connection:
        found: int | None = connection.execute(
            select(deployments.c.env_snapshot_id).where(deployments.c.id == deployment_id)
        ).scalar_one()
    return found


def _snapshot_rows(runtime: Runtime) -> tuple[int, int]:
    """How many snapshots, and snapshot entries, the database holds."""
    with runtime.store.engine.connect() as connection:
        return (
            connection.execute(select(func.count()).select_from(env_snapshots)).scalar_one(),
            connection.execute(
                select(func.count()).select_from(env_snapshot_versions)
            ).scalar_one(),
        )


def test_deployment_stores_a_row_per_resource_not_per_key(
    workspace: Workspace, project: str, partner: Partner, runtime: Runtime
) -> None:
    small = workspace.deploy({"name": "web", "target": "production"})
    many = [{"name": f"KEY_{n:02d}", "value": f"value-{n}"} for n in range(40)]
    assert partner.put_secrets({"secrets": many, "partial": True})[0] == 201
    large = workspace.deploy({"name": "web", "target": "production"})
    assert (
        len(workspace.deployment_env(large["id"]))
        == len(workspace.deployment_env(small["id"])) + 40
    )
    # One reference for the one resource, and the one user variable copied, either way.
    expected = (1, {"API_KEY": ("k1", "encrypted")})
    assert _stored(runtime, small["id"]) == expected
    assert _stored(runtime, large["id"]) == expected


def test_deployment_without_user_variables_seals_nothing(
    workspace: Workspace, partner: Partner, runtime: Runtime
) -> None:
    partner.import_resource("db1", secrets=[{"name": "DATABASE_URL", "value": OLD}])
    project_id = workspace.create_project("api")
    assert workspace.connect(project_id).status_code == 201
    deployment = workspace.deploy({"name": "api", "target": "production"})
    assert workspace.deployment_env(deployment["id"]) == {"DATABASE_URL": OLD}
    with runtime.store.engine.connect() as connection:
        sealed = connection.execute(
            select(deployments.c.copied_env_ciphertext).where(deployments.c.id == deployment["id"])
        ).scalar_one()
    assert sealed is None


def test_deployments_without_a_change_in_between_share_one_snapshot(
    workspace: Workspace, project: str, partner: Partner, runtime: Runtime
) -> None:
    first = workspace.deploy({"name": "web", "target": "production"})
    # Another target and a branch see the same connections at the same version.
    again = workspace.deploy({"name": "web", "target": "production"})
    preview = workspace.deploy({"name": "web", "target": "preview", "gitBranch": "feat"})
    snapshot = _snapshot_of(runtime, first["id"])
    assert snapshot is not None
    assert {_snapshot_of(runtime, d["id"]) for d in (again, preview)} == {snapshot}
    assert _snapshot_rows(runtime) == (1, 1)

    assert (
        partner.put_secrets({"secrets": [{"name": "DATABASE_URL", "value": NEW}], "partial": True})[
            0
        ]
        == 201
    )
    rotated = workspace.deploy({"name": "web", "target": "production"})
    assert _snapshot_of(runtime, rotated["id"]) not in (None, snapshot)
    assert _snapshot_rows(runtime) == (2, 2)
    assert workspace.deployment_env(first["id"]) != workspace.deployment_env(rotated["id"])
    assert workspace.deployment_env(again["id"]) == workspace.deployment_env(first["id"])


def test_projects_with_the_same_connections_share_a_snapshot_until_one_is_deleted(
    workspace: Workspace, project: str, client: TestClient, runtime: Runtime
) -> None:
    other = workspace.create_project("api")
    assert workspace.connect(other).status_code == 201
    web = workspace.deploy({"name": "web", "target": "production"})
    api = workspace.deploy({"name": "api", "project": other, "target": "production"})
    assert _snapshot_of(runtime, web["id"]) == _snapshot_of(runtime, api["id"])
    assert _snapshot_rows(runtime) == (1, 1)
    assert client.delete(f"/v9/projects/{project}", headers=workspace.headers).status_code == 204
    assert _snapshot_rows(runtime) == (1, 1)
    assert workspace.deployment_env(api["id"]) == {"DATABASE_URL": OLD}
    assert client.delete(f"/v9/projects/{other}", headers=workspace.headers).status_code == 204
    assert _snapshot_rows(runtime) == (0, 0)


def test_a_snapshot_goes_with_the_last_deployment_that_names_it(
    workspace: Workspace, project: str, client: TestClient, runtime: Runtime
) -> None:
    first = workspace.deploy({"name": "web", "target": "production"})
    second = workspace.deploy({"name": "web", "target": "production"})
    delete = client.delete(f"/v13/deployments/{first['id']}", headers=workspace.headers)
    assert delete.status_code == 200
    assert _snapshot_rows(runtime) == (1, 1)
    assert workspace.deployment_env(second["id"]) == {"API_KEY": "k1", "DATABASE_URL": OLD}
    delete = client.delete(f"/v13/deployments/{second['id']}", headers=workspace.headers)
    assert delete.status_code == 200
    assert _snapshot_rows(runtime) == (0, 0)
