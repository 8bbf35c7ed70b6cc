"""Integrations' partner settings (CONTRACT.md 1, v2): `baseUrl`, `webhookUrl`, `events`,
`clientId` and `clientSecret`, on create, `PATCH` and `POST .../secret`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from keyturn.app import Runtime
from keyturn.domain.events import ROTATION_COMPLETED, SECRETS_UPDATED
from keyturn.storage.tables import integrations
from tests.conftest import Partner, admin_headers

CLIENT_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9]{32,}$")
INTEGRATION_KEYS = {"id", "slug", "name", "products", "clientId", "baseUrl", "webhookUrl", "events"}


def create(client: TestClient, **body: object) -> Any:
    payload = {"slug": "acme", "products": [{"slug": "pg"}], **body}
    return client.post("/v1/admin/integrations", json=payload, headers=admin_headers())


def patch(client: TestClient, reference: str, body: object) -> Any:
    return client.patch(f"/v1/admin/integrations/{reference}", json=body, headers=admin_headers())


def current(client: TestClient, reference: str) -> dict[str, Any]:
    """The integration as it is now: an empty PATCH changes nothing and answers it."""
    response = patch(client, reference, {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_create_answers_the_settings_the_client_id_and_a_client_secret(
    client: TestClient,
) -> None:
    response = create(
        client,
        baseUrl="https://partner.example/api",
        webhookUrl="http://127.0.0.1:9000/hooks",
        events=[SECRETS_UPDATED, ROTATION_COMPLETED],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == INTEGRATION_KEYS | {"clientSecret"}
    assert body["clientId"] == body["id"]
    assert body["id"].startswith("oac_")
    assert body["baseUrl"] == "https://partner.example/api"
    assert body["webhookUrl"] == "http://127.0.0.1:9000/hooks"
    assert body["events"] == [SECRETS_UPDATED, ROTATION_COMPLETED]
    assert CLIENT_SECRET_SHAPE.fullmatch(body["clientSecret"])


def test_create_without_settings_answers_nulls_and_no_events(client: TestClient) -> None:
    body = create(client).json()
    assert (body["baseUrl"], body["webhookUrl"], body["events"]) == (None, None, [])


def test_two_integrations_get_different_client_secrets(client: TestClient) -> None:
    first = create(client).json()["clientSecret"]
    second = create(client, slug="other").json()["clientSecret"]
    assert first != second


@pytest.mark.parametrize(
    "url",
    [
        "ftp://partner.example",
        "/relative/path",
        "partner.example",
        "https://",
        "http://host:99999",
        "https://partner.example/a b",
        "javascript:alert(1)",
        "https://" + "a" * 2048 + ".example",
    ],
)
@pytest.mark.parametrize("field", ["baseUrl", "webhookUrl"])
def test_create_refuses_a_url_that_is_not_absolute_http_and_creates_nothing(
    client: TestClient, field: str, url: str
) -> None:
    response = create(client, **{field: url})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["message"].startswith(f"{field}:")
    assert [item["key"] for item in error["fields"]] == [field]
    # The slug is still free: nothing was created.
    assert create(client).status_code == 201


def test_create_refuses_an_unknown_event_type_naming_its_index(client: TestClient) -> None:
    response = create(client, events=[SECRETS_UPDATED, "resource.secrets.exploded"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith("events[1]:")
    assert "resource.secrets.exploded" not in error["message"]
    assert create(client).status_code == 201


def test_create_refuses_null_settings(client: TestClient) -> None:
    response = create(client, baseUrl=None)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("baseUrl:")


def test_listing_an_event_type_twice_keeps_it_once(client: TestClient) -> None:
    body = create(client, events=[SECRETS_UPDATED, SECRETS_UPDATED]).json()
    assert body["events"] == [SECRETS_UPDATED]


def test_patch_changes_only_the_fields_sent(partner: Partner, client: TestClient) -> None:
    response = patch(client, partner.integration_id, {"baseUrl": "https://p.example"})
    assert response.status_code == 200, response.text
    assert patch(client, "acme", {"events": [SECRETS_UPDATED]}).status_code == 200
    body = current(client, partner.integration_id)
    assert set(body) == INTEGRATION_KEYS
    assert body["baseUrl"] == "https://p.example"
    assert body["webhookUrl"] is None
    assert body["events"] == [SECRETS_UPDATED]
    assert [p["slug"] for p in body["products"]] == ["postgres", "redis"]


def test_patch_with_null_clears_a_setting(partner: Partner, client: TestClient) -> None:
    patch(
        client,
        partner.integration_id,
        {
            "baseUrl": "https://p.example",
            "webhookUrl": "https://p.example/h",
            "events": [SECRETS_UPDATED],
        },
    )
    response = patch(client, partner.integration_id, {"webhookUrl": None, "events": None})
    assert response.status_code == 200
    body = response.json()
    assert (body["baseUrl"], body["webhookUrl"], body["events"]) == ("https://p.example", None, [])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"baseUrl": "ftp://p.example"}, "baseUrl"),
        ({"webhookUrl": "nope"}, "webhookUrl"),
        ({"events": ["deployment.exploded"]}, "events[0]"),
        ({"events": "resource.deleted"}, "events"),
        ({"clientSecret": "x" * 40}, "clientSecret"),
        ({"baseUrl": 7}, "baseUrl"),
    ],
)
def test_patch_refuses_a_bad_field_and_changes_nothing(
    partner: Partner, client: TestClient, body: dict[str, object], field: str
) -> None:
    patch(client, partner.integration_id, {"baseUrl": "https://p.example"})
    before = current(client, partner.integration_id)
    response = patch(client, partner.integration_id, {"webhookUrl": "https://ok.example", **body})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"{field}:")
    assert current(client, partner.integration_id) == before


def test_patch_of_an_unknown_integration_is_404_before_the_body(client: TestClient) -> None:
    response = patch(client, "oac_nope", {"baseUrl": "ftp://x"})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_patch_refuses_a_body_that_is_not_an_object(partner: Partner, client: TestClient) -> None:
    response = patch(client, partner.integration_id, ["baseUrl"])
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_request")


def test_new_client_secret_replaces_the_old_one(
    partner: Partner, client: TestClient, runtime: Runtime
) -> None:
    with runtime.store.read() as uow:
        old = uow.integrations.client_secret(partner.integration_id)
    response = client.post(
        f"/v1/admin/integrations/{partner.integration_id}/secret", headers=admin_headers()
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"clientId", "clientSecret"}
    assert body["clientId"] == partner.integration_id
    assert CLIENT_SECRET_SHAPE.fullmatch(body["clientSecret"])
    assert body["clientSecret"] != old
    with runtime.store.read() as uow:
        assert uow.integrations.client_secret(partner.integration_id) == body["clientSecret"]
    # Answers other than these two never show it.
    assert "clientSecret" not in current(client, partner.integration_id)


def test_client_secret_is_sealed_at_rest(client: TestClient, runtime: Runtime) -> None:
    secret = create(client).json()["clientSecret"]
    with runtime.store.engine.connect() as connection:
        stored = connection.execute(select(integrations.c.client_secret_ciphertext)).scalar_one()
    assert secret.encode() not in bytes(stored)


def test_new_client_secret_of_an_unknown_integration_is_404(client: TestClient) -> None:
    response = client.post("/v1/admin/integrations/nope/secret", headers=admin_headers())
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/v1/admin/integrations/acme"), ("POST", "/v1/admin/integrations/acme/secret")],
)
def test_integration_admin_routes_refuse_other_tokens(
    partner: Partner, client: TestClient, method: str, path: str
) -> None:
    before = current(client, "acme")
    assert client.request(method, path, json={}).status_code == 401
    for token in (partner.user_token, partner.token):
        response = client.request(method, path, json={"baseUrl": None}, headers=partner.auth(token))
        assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
    assert current(client, "acme") == before
