"""Users' own variables beside the derived ones (CONTRACT.md 3.4)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from tests.conftest import Partner, Workspace
from tests.storage_snapshot import database_snapshot


@pytest.fixture
def project(partner: Partner, workspace: Workspace) -> str:
    partner.import_resource("db1", secrets=[{"name": "DATABASE_URL", "value": "derived-v"}])
    project_id = workspace.create_project("web")
    assert workspace.connect(project_id).status_code == 201
    return project_id


def _var(key: str, value: str = "v", **extra: object) -> dict[str, object]:
    return {"key": key, "value": value, "type": "encrypted", "target": ["production"], **extra}


def test_create_one_variable_answers_created_list(workspace: Workspace, project: str) -> None:
    response = workspace.add_var(project, _var("API_KEY", "k1"))
    assert response.status_code == 201
    body = response.json()
    assert body["failed"] == []
    assert [r["key"] for r in body["created"]] == ["API_KEY"]
    record = body["created"][0]
    assert (record["configurationId"], record["contentHint"]) == (None, None)
    assert record["value"] == ""  # no value back without decrypt
    assert workspace.pull(project, "production")["API_KEY"] == "k1"


def test_create_a_list_of_variables(workspace: Workspace, project: str) -> None:
    response = workspace.add_var(project, [_var("A", "1"), _var("B", "2", target="preview")])
    assert response.status_code == 201
    assert [r["key"] for r in response.json()["created"]] == ["A", "B"]
    assert workspace.pull(project, "preview") == {"B": "2", "DATABASE_URL": "derived-v"}


def test_same_key_and_target_fails_without_upsert_and_replaces_with_it(
    workspace: Workspace, project: str
) -> None:
    workspace.add_var(project, _var("A", "1"))
    again = workspace.add_var(project, _var("A", "2"))
    assert again.status_code == 201
    assert again.json()["created"] == []
    assert again.json()["failed"][0]["error"]["code"] == "ENV_ALREADY_EXISTS"
    assert workspace.pull(project, "production")["A"] == "1"
    upserted = workspace.add_var(project, _var("A", "3"), upsert="true")
    assert upserted.status_code == 201
    assert workspace.pull(project, "production")["A"] == "3"
    assert len([r for r in workspace.envs(project) if r["key"] == "A"]) == 1


def test_user_key_owned_by_a_connection_is_409_and_changes_nothing(
    workspace: Workspace, project: str, runtime: Runtime
) -> None:
    before = database_snapshot(runtime)
    response = workspace.add_var(project, [_var("FINE"), _var("DATABASE_URL", "mine")])
    assert (response.status_code, response.json()["error"]["code"]) == (409, "env_var_conflict")
    assert database_snapshot(runtime) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_var("1BAD"), "key"),
        (_var("A", type="secretive"), "type"),
        (_var("A", target=["staging"]), "target"),
        (_var("A", target=[]), "target"),
        ({"key": "A", "type": "plain", "target": ["production"]}, "value"),
        (_var("A", gitBranch="feat"), "gitBranch"),
        ([_var("A"), {"key": 5}], "[1].key"),
    ],
)
def test_bad_variable_is_400_naming_the_field(
    workspace: Workspace, project: str, runtime: Runtime, body: object, field: str
) -> None:
    before = database_snapshot(runtime)
    response = workspace.add_var(project, body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_request")
    assert field in response.json()["error"]["message"]
    assert database_snapshot(runtime) == before


def test_git_branch_variable_applies_to_that_branch_only(
    workspace: Workspace, project: str
) -> None:
    workspace.add_var(project, _var("API_URL", "base", target=["preview"]))
    workspace.add_var(project, _var("API_URL", "feat", target=["preview"], gitBranch="feat"))
    assert workspace.pull(project, "preview")["API_URL"] == "base"
    assert workspace.pull(project, "preview", "feat")["API_URL"] == "feat"
    assert workspace.pull(project, "preview", "other")["API_URL"] == "base"


def test_pull_with_git_branch_as_a_query_parameter_answers_that_branch(
    client: TestClient, workspace: Workspace, project: str
) -> None:
    workspace.add_var(project, _var("API_URL", "base", target=["preview"]))
    workspace.add_var(project, _var("API_URL", "feat", target=["preview"], gitBranch="feat"))
    pulled = client.get(
        f"/v3/env/pull/{project}/preview", params={"gitBranch": "feat"}, headers=workspace.headers
    )
    assert pulled.status_code == 200
    assert pulled.json()["env"] == workspace.pull(project, "preview", "feat")
    assert pulled.json()["env"]["API_URL"] == "feat"


def test_sensitive_user_variable_is_never_read_back(
    workspace: Workspace, project: str, client: TestClient
) -> None:
    created = workspace.add_var(project, _var("TOKEN", "top-secret-1", type="sensitive"))
    env_id = created.json()["created"][0]["id"]
    assert workspace.pull(project, "production")["TOKEN"] == ""
    single = client.get(f"/v1/projects/{project}/env/{env_id}", headers=workspace.headers)
    assert single.json()["value"] == ""
    listed = client.get(
        f"/v10/projects/{project}/env", params={"decrypt": "true"}, headers=workspace.headers
    )
    assert "top-secret-1" not in listed.text


def test_patch_and_delete_a_user_variable(
    workspace: Workspace, project: str, client: TestClient
) -> None:
    env_id = workspace.add_var(project, _var("A", "1")).json()["created"][0]["id"]
    patched = client.patch(
        f"/v9/projects/{project}/env/{env_id}",
        json={"value": "2", "target": ["production", "preview"]},
        headers=workspace.headers,
    )
    assert patched.status_code == 200
    assert patched.json()["target"] == ["production", "preview"]
    assert workspace.pull(project, "preview")["A"] == "2"
    deleted = client.delete(f"/v9/projects/{project}/env/{env_id}", headers=workspace.headers)
    assert (deleted.status_code, deleted.json()["id"]) == (200, env_id)
    assert "A" not in workspace.pull(project, "production")
    missing = client.delete(f"/v9/projects/{project}/env/{env_id}", headers=workspace.headers)
    assert missing.status_code == 404


def test_patch_into_a_derived_key_is_409(
    workspace: Workspace, project: str, client: TestClient, runtime: Runtime
) -> None:
    env_id = workspace.add_var(project, _var("A", "1")).json()["created"][0]["id"]
    before = database_snapshot(runtime)
    response = client.patch(
        f"/v9/projects/{project}/env/{env_id}",
        json={"key": "DATABASE_URL"},
        headers=workspace.headers,
    )
    assert (response.status_code, response.json()["error"]["code"]) == (409, "env_var_conflict")
    assert database_snapshot(runtime) == before


def test_derived_variable_cannot_be_patched_or_deleted(
    workspace: Workspace, project: str, client: TestClient, runtime: Runtime
) -> None:
    derived = next(r for r in workspace.envs(project) if r["key"] == "DATABASE_URL")
    before = database_snapshot(runtime)
    path = f"/v9/projects/{project}/env/{derived['id']}"
    for response in (
        client.patch(path, json={"value": "x"}, headers=workspace.headers),
        client.delete(path, headers=workspace.headers),
    ):
        assert (response.status_code, response.json()["error"]["code"]) == (
            409,
            "env_managed_by_integration",
        )
    assert database_snapshot(runtime) == before


def test_listing_filters_by_target_and_branch(workspace: Workspace, project: str) -> None:
    workspace.add_var(project, _var("P", target=["production"]))
    workspace.add_var(project, _var("B", target=["preview"], gitBranch="feat"))
    assert {r["key"] for r in workspace.envs(project, target="preview")} == {"B", "DATABASE_URL"}
    assert {r["key"] for r in workspace.envs(project, target="preview", gitBranch="main")} == {
        "DATABASE_URL"
    }
    decrypted = {r["key"]: r["value"] for r in workspace.envs(project, decrypt="true")}
    assert decrypted["DATABASE_URL"] == "derived-v"


def test_pull_of_unknown_target_is_400(
    workspace: Workspace, project: str, client: TestClient
) -> None:
    response = client.get(f"/v3/env/pull/{project}/staging", headers=workspace.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_request")
