"""Bootstrap API (CONTRACT.md 1): admin token only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from keyturn.app import Runtime
from keyturn.domain.ids import TOKEN_SHAPE, hash_token
from tests.conftest import Partner, admin_headers


def test_create_team_answers_201_with_ids(client: TestClient) -> None:
    response = client.post(
        "/v1/admin/teams", json={"slug": "t1", "name": "Team"}, headers=admin_headers()
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("team_")
    assert (body["slug"], body["name"]) == ("t1", "Team")


def test_taken_team_slug_is_409(client: TestClient) -> None:
    client.post("/v1/admin/teams", json={"slug": "t1"}, headers=admin_headers())
    response = client.post("/v1/admin/teams", json={"slug": "t1"}, headers=admin_headers())
    assert response.status_code == 409


def test_issued_tokens_use_only_word_characters(partner: Partner) -> None:
    assert TOKEN_SHAPE.fullmatch(partner.user_token)
    assert TOKEN_SHAPE.fullmatch(partner.token)


def test_integration_answers_products_with_ids(client: TestClient) -> None:
    response = client.post(
        "/v1/admin/integrations",
        json={"slug": "acme", "name": "Acme", "products": [{"slug": "pg", "name": "Postgres"}]},
        headers=admin_headers(),
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("oac_")
    assert body["products"][0]["id"].startswith("iap_")
    assert body["products"][0]["slug"] == "pg"


def test_installation_of_unknown_integration_is_404(client: TestClient) -> None:
    team = client.post("/v1/admin/teams", json={"slug": "t1"}, headers=admin_headers()).json()
    response = client.post(
        "/v1/admin/installations",
        json={"teamId": team["id"], "integration": "nope"},
        headers=admin_headers(),
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_installation_by_integration_id_or_slug(partner: Partner, client: TestClient) -> None:
    for reference in (partner.integration_id, "acme"):
        response = client.post(
            "/v1/admin/installations",
            json={"teamId": partner.team_id, "integration": reference},
            headers=admin_headers(),
        )
        assert response.status_code == 201
        body = response.json()
        assert body["id"].startswith("icfg_")
        assert (body["teamId"], body["integrationId"]) == (partner.team_id, partner.integration_id)


def test_bootstrap_refuses_user_and_integration_tokens(
    partner: Partner, client: TestClient
) -> None:
    for token in (partner.user_token, partner.token):
        response = client.post("/v1/admin/teams", json={"slug": "x"}, headers=partner.auth(token))
        assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")


def test_bootstrap_without_token_is_401(client: TestClient) -> None:
    response = client.post("/v1/admin/teams", json={"slug": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["missingToken"] is True


def test_bad_team_slug_is_400_naming_slug(client: TestClient) -> None:
    response = client.post("/v1/admin/teams", json={"slug": "Has Spaces"}, headers=admin_headers())
    assert response.status_code == 400
    assert "slug" in response.json()["error"]["message"]


def test_revoked_token_is_401_invalid_token(
    partner: Partner, client: TestClient, runtime: Runtime
) -> None:
    with runtime.store.write() as uow:
        stored = uow.accounts.live_token_by_hash(hash_token(partner.token))
        assert stored is not None
        uow.accounts.revoke_token(stored.id)
        uow.commit()
    response = client.get(
        f"/v1/installations/{partner.installation_id}/resources", headers=partner.auth()
    )
    assert response.status_code == 401
    assert response.json()["error"]["invalidToken"] is True
