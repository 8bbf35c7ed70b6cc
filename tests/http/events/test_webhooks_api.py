"""Team webhooks (CONTRACT.md 6.3) with Vercel's shapes: the secret only in the create answer."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from keyturn.app import Runtime
from keyturn.storage.tables import webhooks
from tests.conftest import Workspace, seed_partner

HOOK = {"url": "https://example.com/hook", "events": ["deployment.created", "project.created"]}


def test_create_answers_vercels_shape_with_the_secret_once(
    workspace: Workspace, runtime: Runtime
) -> None:
    project = workspace.create_project("web")
    created = workspace.client.post(
        "/v1/webhooks", json={**HOOK, "projectIds": [project]}, headers=workspace.headers
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert set(body) == {
        "id",
        "url",
        "events",
        "ownerId",
        "createdAt",
        "updatedAt",
        "projectIds",
        "secret",
    }
    assert body["id"].startswith("hook_")
    assert body["ownerId"] == workspace.partner.team_id
    assert body["events"] == HOOK["events"]
    assert body["projectIds"] == [project]
    assert len(body["secret"]) >= 32
    listed = workspace.client.get("/v1/webhooks", headers=workspace.headers)
    got = workspace.client.get(f"/v1/webhooks/{body['id']}", headers=workspace.headers)
    without_secret = {key: value for key, value in body.items() if key != "secret"}
    assert listed.json() == [without_secret]
    assert got.json() == without_secret
    # Sealed at rest: the database holds no copy of the secret in clear.
    with runtime.store.engine.connect() as connection:
        sealed = connection.execute(select(webhooks.c.secret_ciphertext)).scalar_one()
    assert body["secret"].encode() not in bytes(sealed)


def test_a_hook_without_project_ids_has_no_project_ids_key(workspace: Workspace) -> None:
    created = workspace.client.post("/v1/webhooks", json=HOOK, headers=workspace.headers)
    assert "projectIds" not in created.json()


def test_delete_removes_the_hook(workspace: Workspace) -> None:
    hook = workspace.client.post("/v1/webhooks", json=HOOK, headers=workspace.headers).json()
    deleted = workspace.client.delete(f"/v1/webhooks/{hook['id']}", headers=workspace.headers)
    assert deleted.status_code == 204
    assert workspace.client.get("/v1/webhooks", headers=workspace.headers).json() == []
    gone = workspace.client.get(f"/v1/webhooks/{hook['id']}", headers=workspace.headers)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "not_found")


def test_bad_urls_and_unknown_events_are_400_naming_the_field(workspace: Workspace) -> None:
    cases = [
        ({**HOOK, "url": "ftp://example.com/x"}, "url"),
        ({**HOOK, "url": "/relative"}, "url"),
        ({**HOOK, "events": ["deployment.created", "nope.happened"]}, "events[1]"),
        ({**HOOK, "events": []}, "events"),
        ({"url": HOOK["url"]}, "events"),
        ({**HOOK, "projectIds": "prj_x"}, "projectIds"),
    ]
    for body, field in cases:
        response = workspace.client.post("/v1/webhooks", json=body, headers=workspace.headers)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == "bad_request"
        assert error["message"].startswith(field), (field, error)
    assert workspace.client.get("/v1/webhooks", headers=workspace.headers).json() == []


def test_an_unknown_project_is_404_and_creates_nothing(workspace: Workspace) -> None:
    response = workspace.client.post(
        "/v1/webhooks", json={**HOOK, "projectIds": ["prj_missing"]}, headers=workspace.headers
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert workspace.client.get("/v1/webhooks", headers=workspace.headers).json() == []


def test_another_teams_hook_is_403_and_integration_tokens_are_refused(
    workspace: Workspace, client: TestClient
) -> None:
    hook = workspace.client.post("/v1/webhooks", json=HOOK, headers=workspace.headers).json()
    other = seed_partner(client, "other")
    other_user = {"Authorization": f"Bearer {other.user_token}"}
    for method in ("GET", "DELETE"):
        response = client.request(method, f"/v1/webhooks/{hook['id']}", headers=other_user)
        assert response.status_code == 403, (method, response.text)
    assert client.get("/v1/webhooks", headers=other_user).json() == []
    partner_token = {"Authorization": f"Bearer {workspace.partner.token}"}
    assert client.get("/v1/webhooks", headers=partner_token).status_code == 403
