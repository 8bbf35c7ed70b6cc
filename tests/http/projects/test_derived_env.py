"""A resource's secrets as its connected projects' env vars (CONTRACT.md 2.1, 3.2, 3.3, 3.4)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from tests.conftest import Partner, Workspace, seed_partner
from tests.storage_snapshot import database_snapshot

ROTATED = "postgres://app:rotated-7731@db/app"
ORIGINAL = "postgres://app:original-1020@db/app"


@pytest.fixture
def db(partner: Partner) -> Partner:
    partner.import_resource(
        "db1",
        secrets=[
            {"name": "DATABASE_URL", "value": ORIGINAL},
            {
                "name": "PGHOST",
                "value": "h-prod",
                "prefix": "ACME",
                "environmentOverrides": {"preview": "h-preview"},
            },
        ],
    )
    return partner


def test_connected_project_sees_secrets_in_every_environment(
    db: Partner, workspace: Workspace
) -> None:
    project = workspace.create_project("web")
    response = workspace.connect(project)
    assert response.status_code == 201, response.text
    assert workspace.pull(project, "production") == {
        "ACME_PGHOST": "h-prod",
        "DATABASE_URL": ORIGINAL,
    }
    assert workspace.pull(project, "preview") == {
        "ACME_PGHOST": "h-preview",
        "DATABASE_URL": ORIGINAL,
    }
    assert workspace.pull(project, "development")["ACME_PGHOST"] == "h-prod"


def test_rotation_is_visible_in_every_connected_project_at_once(
    db: Partner, workspace: Workspace
) -> None:
    projects = [workspace.create_project(f"app{i}") for i in range(3)]
    for project in projects:
        assert workspace.connect(project).status_code == 201
    status, _ = db.put_secrets(
        {"secrets": [{"name": "DATABASE_URL", "value": ROTATED}], "partial": True}
    )
    assert status == 201
    for project in projects:
        assert workspace.pull(project, "production")["DATABASE_URL"] == ROTATED
        listed = {e["key"]: e["value"] for e in workspace.envs(project, decrypt="true")}
        assert listed["DATABASE_URL"] == ROTATED


def test_connection_limited_to_production_shows_nothing_in_preview(
    db: Partner, workspace: Workspace
) -> None:
    project = workspace.create_project("web")
    assert workspace.connect(project, envVarEnvironments=["production"]).status_code == 201
    assert workspace.pull(project, "preview") == {}
    assert workspace.pull(project, "development") == {}
    assert workspace.pull(project, "production")["DATABASE_URL"] == ORIGINAL
    assert workspace.envs(project, target="preview") == []


def test_connection_prefix_replaces_the_provider_prefix(db: Partner, workspace: Workspace) -> None:
    project = workspace.create_project("web")
    assert workspace.connect(project, envVarPrefix="DB1").status_code == 201
    assert set(workspace.pull(project, "production")) == {"DB1_PGHOST", "DB1_DATABASE_URL"}


def test_sensitive_connection_hides_values_outside_development(
    db: Partner, workspace: Workspace
) -> None:
    project = workspace.create_project("web")
    assert workspace.connect(project, makeEnvVarsSensitive=True).status_code == 201
    assert workspace.pull(project, "production") == {"ACME_PGHOST": "", "DATABASE_URL": ""}
    assert workspace.pull(project, "development")["DATABASE_URL"] == ORIGINAL
    for record in workspace.envs(project, decrypt="true", target="production"):
        assert (record["type"], record["value"]) == ("sensitive", "")


def test_listing_without_decrypt_carries_no_secret_value(db: Partner, workspace: Workspace) -> None:
    project = workspace.create_project("web")
    workspace.connect(project)
    response = workspace.client.get(f"/v10/projects/{project}/env", headers=workspace.headers)
    assert response.status_code == 200
    assert ORIGINAL not in response.text
    assert "h-preview" not in response.text
    assert "h-prod" not in response.text


def test_derived_record_names_its_source(db: Partner, workspace: Workspace) -> None:
    project = workspace.create_project("web")
    workspace.connect(project)
    internal_id = db.get_resource()["internalId"]
    records = [r for r in workspace.envs(project) if r["key"] == "DATABASE_URL"]
    assert len(records) == 1
    record = records[0]
    assert record["target"] == ["production", "preview", "development"]
    assert record["configurationId"] == db.installation_id
    assert record["contentHint"] == {
        "type": "integration-store-secret",
        "storeId": internal_id,
        "integrationId": db.integration_id,
        "integrationProductId": db.product_id,
        "integrationConfigurationId": db.installation_id,
    }
    assert record["securityIssues"] == []
    assert len(record["id"]) == 16
    assert record["id"].isalnum()
    single = workspace.client.get(
        f"/v1/projects/{project}/env/{record['id']}", headers=workspace.headers
    )
    assert (single.status_code, single.json()["value"]) == (200, ORIGINAL)


def test_override_splits_a_secret_into_records_per_value(db: Partner, workspace: Workspace) -> None:
    project = workspace.create_project("web")
    workspace.connect(project)
    records = {
        tuple(r["target"]): r["value"]
        for r in workspace.envs(project, decrypt="true")
        if r["key"] == "ACME_PGHOST"
    }
    assert records == {("production", "development"): "h-prod", ("preview",): "h-preview"}


def test_new_connection_gets_current_secrets(db: Partner, workspace: Workspace) -> None:
    db.put_secrets({"secrets": [{"name": "DATABASE_URL", "value": ROTATED}], "partial": True})
    project = workspace.create_project("late")
    workspace.connect(project)
    assert workspace.pull(project, "production")["DATABASE_URL"] == ROTATED


def test_full_replace_removes_derived_vars(db: Partner, workspace: Workspace) -> None:
    project = workspace.create_project("web")
    workspace.connect(project)
    db.put_secrets({"secrets": [{"name": "ONLY", "value": "x"}]})
    assert workspace.pull(project, "production") == {"ONLY": "x"}


def test_resource_delete_removes_derived_vars(
    db: Partner, workspace: Workspace, client: TestClient
) -> None:
    project = workspace.create_project("web")
    workspace.connect(project)
    assert client.delete(db.resource_path(), headers=db.auth()).status_code == 204
    assert workspace.pull(project, "production") == {}
    assert workspace.envs(project) == []


def test_disconnect_removes_derived_vars(
    db: Partner, workspace: Workspace, client: TestClient
) -> None:
    project = workspace.create_project("web")
    workspace.connect(project)
    response = client.delete(f"{workspace.connections_path()}/{project}", headers=workspace.headers)
    assert response.status_code == 204
    assert workspace.pull(project, "production") == {}
    again = client.delete(f"{workspace.connections_path()}/{project}", headers=workspace.headers)
    assert again.status_code == 404


def test_connections_are_listed(db: Partner, workspace: Workspace, client: TestClient) -> None:
    project = workspace.create_project("web")
    workspace.connect(project, envVarEnvironments=["production", "preview"], envVarPrefix="DB1")
    listed = client.get(workspace.connections_path(), headers=workspace.headers).json()[
        "connections"
    ]
    assert len(listed) == 1
    assert listed[0]["projectId"] == project
    assert listed[0]["id"].startswith("conn_")
    assert (listed[0]["envVarEnvironments"], listed[0]["envVarPrefix"]) == (
        ["production", "preview"],
        "DB1",
    )
    assert listed[0]["makeEnvVarsSensitive"] is False


def _refused_connect(
    workspace: Workspace, runtime: Runtime, project: str, **options: object
) -> Any:
    before = database_snapshot(runtime)
    response = workspace.connect(project, **options)
    assert database_snapshot(runtime) == before
    return response


def test_connecting_twice_is_409_already_connected(
    db: Partner, workspace: Workspace, runtime: Runtime
) -> None:
    project = workspace.create_project("web")
    workspace.connect(project)
    response = _refused_connect(workspace, runtime, project)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "already_connected")


def test_connect_colliding_with_user_var_is_409_and_connects_nothing(
    db: Partner, workspace: Workspace, runtime: Runtime
) -> None:
    project = workspace.create_project("web")
    created = workspace.add_var(
        project,
        {"key": "DATABASE_URL", "value": "mine", "type": "encrypted", "target": ["preview"]},
    )
    assert created.status_code == 201
    response = _refused_connect(workspace, runtime, project)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "env_var_conflict")
    assert "DATABASE_URL" in response.json()["error"]["message"]
    assert "mine" not in response.text
    assert project not in response.text


def test_connect_with_disjoint_environments_does_not_conflict(
    db: Partner, workspace: Workspace
) -> None:
    project = workspace.create_project("web")
    workspace.add_var(
        project,
        {"key": "DATABASE_URL", "value": "mine", "type": "encrypted", "target": ["preview"]},
    )
    assert workspace.connect(project, envVarEnvironments=["production"]).status_code == 201
    assert workspace.pull(project, "preview")["DATABASE_URL"] == "mine"
    assert workspace.pull(project, "production")["DATABASE_URL"] == ORIGINAL


def test_connect_colliding_with_another_resource_is_409(
    db: Partner, workspace: Workspace, runtime: Runtime
) -> None:
    db.import_resource("db2", secrets=[{"name": "DATABASE_URL", "value": "other"}])
    project = workspace.create_project("web")
    assert workspace.connect(project).status_code == 201
    before = database_snapshot(runtime)
    response = workspace.connect(project, "db2")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "env_var_conflict")
    assert database_snapshot(runtime) == before
    assert workspace.connect(project, "db2", envVarPrefix="DB2").status_code == 201


def test_connect_with_bad_prefix_is_422(
    db: Partner, workspace: Workspace, runtime: Runtime
) -> None:
    project = workspace.create_project("web")
    response = _refused_connect(workspace, runtime, project, envVarPrefix="9X")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_prefix")


@pytest.mark.parametrize(
    "body",
    [
        {"envVarEnvironments": ["staging"]},
        {"envVarEnvironments": []},
        {"makeEnvVarsSensitive": "yes"},
        {"color": 1},
    ],
)
def test_connect_with_bad_body_is_400(
    db: Partner, workspace: Workspace, runtime: Runtime, body: dict[str, object]
) -> None:
    project = workspace.create_project("web")
    response = _refused_connect(workspace, runtime, project, **body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_request")


def test_connect_to_another_teams_project_or_installation_is_403(
    db: Partner, workspace: Workspace, client: TestClient
) -> None:
    other = Workspace(seed_partner(client, "other"))
    foreign_project = other.create_project("theirs")
    assert workspace.connect(foreign_project).status_code == 403
    other.partner.import_resource("db9")
    response = client.post(
        other.connections_path("db9"),
        json={"projectId": workspace.create_project("mine")},
        headers=workspace.headers,
    )
    assert response.status_code == 403


def test_connect_with_integration_token_is_403(
    db: Partner, workspace: Workspace, client: TestClient
) -> None:
    project = workspace.create_project("web")
    response = client.post(
        workspace.connections_path(), json={"projectId": project}, headers=db.auth()
    )
    assert response.status_code == 403


class TestSecretsPutConflicts:
    def test_put_adding_a_users_key_is_409_and_changes_nothing(
        self, db: Partner, workspace: Workspace, runtime: Runtime
    ) -> None:
        project = workspace.create_project("web")
        workspace.connect(project)
        workspace.add_var(
            project,
            {"key": "REDIS_URL", "value": "mine", "type": "plain", "target": ["production"]},
        )
        before = database_snapshot(runtime)
        status, body = db.put_secrets(
            {"secrets": [{"name": "REDIS_URL", "value": "theirs"}], "partial": True}
        )
        assert (status, body["error"]["code"]) == (409, "env_var_conflict")  # type: ignore[index]
        assert "REDIS_URL" in body["error"]["message"]  # type: ignore[index]
        assert database_snapshot(runtime) == before

    def test_put_adding_another_resources_key_is_409(
        self, db: Partner, workspace: Workspace
    ) -> None:
        db.import_resource("db2", secrets=[{"name": "CACHE_URL", "value": "c"}])
        project = workspace.create_project("web")
        workspace.connect(project)
        workspace.connect(project, "db2")
        status, body = db.put_secrets(
            {"secrets": [{"name": "CACHE_URL", "value": "x"}], "partial": True}
        )
        assert (status, body["error"]["code"]) == (409, "env_var_conflict")  # type: ignore[index]

    def test_rotation_of_existing_names_never_conflicts(
        self, db: Partner, workspace: Workspace
    ) -> None:
        project = workspace.create_project("web")
        workspace.connect(project)
        status, _ = db.put_secrets(
            {"secrets": [{"name": "DATABASE_URL", "value": ROTATED}], "partial": True}
        )
        assert status == 201

    def test_new_name_without_connected_conflict_is_accepted(
        self, db: Partner, workspace: Workspace
    ) -> None:
        project = workspace.create_project("web")
        workspace.connect(project, envVarPrefix="DB1")
        workspace.add_var(
            project,
            {"key": "REDIS_URL", "value": "mine", "type": "plain", "target": ["production"]},
        )
        status, _ = db.put_secrets(
            {"secrets": [{"name": "REDIS_URL", "value": "theirs"}], "partial": True}
        )
        assert status == 201
        assert workspace.pull(project, "production")["DB1_REDIS_URL"] == "theirs"
        assert workspace.pull(project, "production")["REDIS_URL"] == "mine"
