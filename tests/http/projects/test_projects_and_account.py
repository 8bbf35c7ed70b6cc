"""Projects (CONTRACT.md 3.1) and the account endpoints Vercel's CLI calls (3.4)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from keyturn.domain.clock import SettableClock
from tests.conftest import Partner, Workspace, admin_headers, seed_partner


def test_create_get_list_delete_project(
    workspace: Workspace, partner: Partner, client: TestClient
) -> None:
    created = client.post(
        "/v11/projects", json={"name": "web", "framework": "nextjs"}, headers=workspace.headers
    )
    assert created.status_code == 200
    project = created.json()
    assert project["id"].startswith("prj_")
    assert (project["name"], project["accountId"]) == ("web", partner.team_id)
    for reference in (project["id"], "web"):
        got = client.get(f"/v9/projects/{reference}", headers=workspace.headers)
        assert (got.status_code, got.json()["id"]) == (200, project["id"])
    listed = client.get("/v9/projects", headers=workspace.headers).json()["projects"]
    assert [p["id"] for p in listed] == [project["id"]]
    assert (
        client.delete(f"/v9/projects/{project['id']}", headers=workspace.headers).status_code == 204
    )
    assert client.get(f"/v9/projects/{project['id']}", headers=workspace.headers).status_code == 404


def test_project_name_taken_is_409(workspace: Workspace, client: TestClient) -> None:
    workspace.create_project("web")
    response = client.post("/v11/projects", json={"name": "web"}, headers=workspace.headers)
    assert response.status_code == 409


@pytest.mark.parametrize("name", ["Web", "has space", "a---b", "", "x" * 101])
def test_bad_project_name_is_400(workspace: Workspace, client: TestClient, name: str) -> None:
    response = client.post("/v11/projects", json={"name": name}, headers=workspace.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_request")


def test_deleting_a_project_removes_its_connections(
    partner: Partner, workspace: Workspace, client: TestClient
) -> None:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "1"}])
    project = workspace.create_project("web")
    workspace.connect(project)
    workspace.deploy({"name": "web"})
    assert client.delete(f"/v9/projects/{project}", headers=workspace.headers).status_code == 204
    listed = client.get(workspace.connections_path(), headers=workspace.headers)
    assert listed.json() == {"connections": []}


def test_another_teams_project_is_403_and_unknown_is_404(
    workspace: Workspace, client: TestClient
) -> None:
    other = Workspace(seed_partner(client, "other"))
    theirs = other.create_project("theirs")
    assert client.get(f"/v9/projects/{theirs}", headers=workspace.headers).status_code == 403
    assert client.get(f"/v10/projects/{theirs}/env", headers=workspace.headers).status_code == 403
    assert (
        client.get("/v3/env/pull/" + theirs + "/production", headers=workspace.headers).status_code
        == 403
    )
    assert client.get("/v9/projects/theirs", headers=workspace.headers).status_code == 404


def test_team_id_query_must_be_the_tokens_team(
    partner: Partner, workspace: Workspace, client: TestClient
) -> None:
    project = workspace.create_project("web")
    ok = client.get(
        f"/v9/projects/{project}", params={"teamId": partner.team_id}, headers=workspace.headers
    )
    assert ok.status_code == 200
    by_slug = client.get(
        f"/v9/projects/{project}", params={"slug": "acme-team"}, headers=workspace.headers
    )
    assert by_slug.status_code == 200
    other = seed_partner(client, "other")
    wrong = client.get(
        f"/v9/projects/{project}", params={"teamId": other.team_id}, headers=workspace.headers
    )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize("kind", ["integration", "admin", "none"])
def test_user_endpoints_refuse_other_tokens(
    partner: Partner, client: TestClient, kind: str
) -> None:
    headers = {"integration": partner.auth(), "admin": admin_headers(), "none": {}}[kind]
    response = client.get("/v9/projects", headers=headers)
    assert response.status_code == (401 if kind == "none" else 403)


def test_user_and_team_lookups(partner: Partner, workspace: Workspace, client: TestClient) -> None:
    user = client.get("/v2/user", headers=workspace.headers).json()["user"]
    assert user["id"].startswith("user_")
    assert (user["defaultTeamId"], user["username"]) == (partner.team_id, "acme-team")
    for path in (f"/teams/{partner.team_id}", f"/v2/teams/{partner.team_id}", "/teams/acme-team"):
        team = client.get(path, headers=workspace.headers).json()
        assert (team["id"], team["slug"]) == (partner.team_id, "acme-team")
    other = seed_partner(client, "other")
    assert client.get(f"/teams/{other.team_id}", headers=workspace.headers).status_code == 403


def test_custom_environments_are_empty(workspace: Workspace, client: TestClient) -> None:
    project = workspace.create_project("web")
    for path in (
        f"/projects/{project}/custom-environments",
        f"/v9/projects/{project}/custom-environments",
    ):
        response = client.get(path, headers=workspace.headers)
        assert (response.status_code, response.json()) == (200, {"environments": []})


def test_project_timestamps_follow_the_apps_clock(
    workspace: Workspace, client: TestClient, clock: SettableClock
) -> None:
    clock.set(1_700_000_000_000)
    first = client.post("/v11/projects", json={"name": "first"}, headers=workspace.headers)
    clock.advance(90_000)
    second = client.post("/v11/projects", json={"name": "second"}, headers=workspace.headers)
    assert (first.json()["createdAt"], second.json()["createdAt"]) == (
        1_700_000_000_000,
        1_700_000_090_000,
    )
    assert second.json()["updatedAt"] == 1_700_000_090_000
