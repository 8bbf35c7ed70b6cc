"""Installation credentials (CONTRACT.md 8): rotate and revoke, token expiry on the clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime, build_runtime, create_app
from keyturn.domain.clock import SettableClock
from keyturn.settings import Settings
from tests.conftest import Partner, admin_headers, seed_partner
from tests.http.emulator.world import row_counts

HOUR_MS = 3600 * 1000


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(1_800_000_000_000)


@pytest.fixture
def timed_runtime(settings: Settings, clock: SettableClock) -> Iterator[Runtime]:
    runtime = build_runtime(settings, clock=clock)
    yield runtime
    runtime.store.engine.dispose()


@pytest.fixture
def timed(timed_runtime: Runtime) -> Iterator[Partner]:
    with TestClient(create_app(timed_runtime)) as client:
        yield seed_partner(client)


def client_secret(partner: Partner) -> str:
    made = partner.client.post(
        f"/v1/admin/integrations/{partner.integration_id}/secret", headers=admin_headers()
    )
    assert made.status_code == 201, made.text
    secret: str = made.json()["clientSecret"]
    return secret


def rotate(partner: Partner, body: object, token: str | None = None) -> Any:
    return partner.client.post(
        f"/v1/installations/{partner.installation_id}/credentials/rotate",
        json=body,
        headers=partner.auth(token),
    )


def revoke(partner: Partner, body: object, token: str | None = None) -> Any:
    return partner.client.post(
        f"/v1/installations/{partner.installation_id}/credentials/revoke",
        json=body,
        headers=partner.auth(token),
    )


def works(partner: Partner, token: str) -> int:
    listing = partner.client.get(
        f"/v1/installations/{partner.installation_id}/resources", headers=partner.auth(token)
    )
    status: int = listing.status_code
    return status


def test_rotate_answers_a_new_token_with_vercels_shape_and_the_old_one_stays_valid(
    partner: Partner,
) -> None:
    secret = client_secret(partner)

    response = rotate(partner, {"client_secret": secret, "client_id": partner.integration_id})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "oauth2-token"
    assert body["expires_in"] == 3600
    assert body["scope"] == f"installation:{partner.installation_id}"
    assert body["access_token"] != partner.token
    assert works(partner, body["access_token"]) == 200
    assert works(partner, partner.token) == 200


@pytest.mark.parametrize(
    "body",
    [
        {"client_secret": "wrong"},
        {"client_secret": "SECRET", "client_id": "oac_someone_else"},
    ],
)
def test_rotate_with_a_wrong_client_secret_or_id_is_403_and_makes_no_token(
    partner: Partner, runtime: Runtime, body: dict[str, str]
) -> None:
    secret = client_secret(partner)
    body = {key: secret if value == "SECRET" else value for key, value in body.items()}
    before = row_counts(runtime.store.engine)

    response = rotate(partner, body)

    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"
    assert row_counts(runtime.store.engine) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "client_secret"),
        ({"client_secret": 5}, "client_secret"),
        ({"client_secret": ""}, "client_secret"),
        ({"client_secret": "x", "client_id": 1}, "client_id"),
        ({"client_secret": "x", "scope": "all"}, "scope"),
        ([], "body"),
    ],
)
def test_rotate_with_a_bad_body_is_400_naming_the_field(
    partner: Partner, runtime: Runtime, body: object, field: str
) -> None:
    before = row_counts(runtime.store.engine)

    response = rotate(partner, body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["fields"][0]["key"] == field
    assert row_counts(runtime.store.engine) == before


def test_credentials_routes_take_this_installations_token(client: TestClient) -> None:
    partner = seed_partner(client)
    other = seed_partner(client, slug="other")
    secret = client_secret(partner)
    body = {"client_secret": secret, "token": partner.token}
    for route in (rotate, revoke):
        assert route(partner, body, token=other.token).status_code == 403
        assert route(partner, body, token=partner.user_token).status_code == 403
        missing = client.post(f"/v1/installations/{partner.installation_id}/credentials/rotate")
        assert missing.status_code == 401
    assert works(partner, partner.token) == 200


def test_a_rotated_token_expires_after_the_ttl_on_the_clock(
    timed: Partner, clock: SettableClock
) -> None:
    new = rotate(timed, {"client_secret": client_secret(timed)}).json()["access_token"]

    clock.advance(HOUR_MS - 1)
    assert works(timed, new) == 200
    clock.advance(1)
    expired = timed.client.get(
        f"/v1/installations/{timed.installation_id}/resources", headers=timed.auth(new)
    )

    assert expired.status_code == 401
    error = expired.json()["error"]
    assert error["invalidToken"] is True
    assert "expired" in error["message"]
    # The admin API's token never expires.
    clock.advance(10 * 365 * 24 * HOUR_MS)
    assert works(timed, timed.token) == 200


def test_the_ttl_setting_sets_expires_in(settings: Settings) -> None:
    runtime = build_runtime(settings.model_copy(update={"access_token_ttl_s": 60}))
    try:
        with TestClient(create_app(runtime)) as client:
            partner = seed_partner(client)
            answer = rotate(partner, {"client_secret": client_secret(partner)}).json()
    finally:
        runtime.store.engine.dispose()
    assert answer["expires_in"] == 60


def test_revoke_retires_the_named_token_at_once_and_again_says_already(partner: Partner) -> None:
    secret = client_secret(partner)
    new = rotate(partner, {"client_secret": secret}).json()["access_token"]

    first = revoke(partner, {"token": partner.token, "client_secret": secret}, token=new)

    assert first.status_code == 200, first.text
    assert first.json() == {"revoked": True, "already_revoked": False}
    assert works(partner, partner.token) == 401
    again = revoke(partner, {"token": partner.token, "client_secret": secret}, token=new)
    assert again.json() == {"revoked": True, "already_revoked": True}
    assert works(partner, new) == 200


def test_revoking_a_token_not_of_this_installation_is_404(client: TestClient) -> None:
    partner = seed_partner(client)
    other = seed_partner(client, slug="other")
    secret = client_secret(partner)
    for token in (other.token, partner.user_token, "kt_integration_unknown", "not a token!"):
        response = revoke(partner, {"token": token, "client_secret": secret})
        assert response.status_code == 404, (token, response.text)
    assert works(other, other.token) == 200


def test_revoking_the_last_live_token_is_409_and_changes_nothing(
    timed: Partner, clock: SettableClock, timed_runtime: Runtime
) -> None:
    secret = client_secret(timed)
    # A second token that has expired is not live: the first is still the last one.
    rotate(timed, {"client_secret": secret})
    clock.advance(HOUR_MS)
    before = row_counts(timed_runtime.store.engine)

    response = revoke(timed, {"token": timed.token, "client_secret": secret})

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "last_live_credential"
    assert works(timed, timed.token) == 200
    assert row_counts(timed_runtime.store.engine) == before


def test_revoke_with_a_wrong_client_secret_is_403_and_revokes_nothing(partner: Partner) -> None:
    secret = client_secret(partner)
    new = rotate(partner, {"client_secret": secret}).json()["access_token"]

    response = revoke(partner, {"token": partner.token, "client_secret": "wrong"}, token=new)

    assert response.status_code == 403
    assert works(partner, partner.token) == 200
