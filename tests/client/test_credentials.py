"""The client's installation credential methods (CONTRACT.md 8) over real HTTP, blocking and
async, on both databases; expiry follows the server's clock, moved by the test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from keyturn.client import APIError
from keyturn.domain.clock import SettableClock
from tests.client.conftest import ClientFactory
from tests.conftest import ADMIN_TOKEN


@dataclass(frozen=True)
class Installed:
    installation_id: str
    token: str
    client_id: str
    client_secret: str


@pytest.fixture
def installed(api: ClientFactory) -> Installed:
    admin = api(ADMIN_TOKEN)
    team = admin.create_team("acme-team")
    integration = admin.create_integration("acme", [{"slug": "postgres"}])
    installation = admin.create_installation(team.id, "acme")
    return Installed(
        installation.id, installation.access_token, integration.client_id, integration.client_secret
    )


def test_rotate_credentials_gives_a_new_token_and_the_old_one_keeps_working(
    api: ClientFactory, installed: Installed
) -> None:
    old = api(installed.token)
    new = old.rotate_credentials(
        installed.installation_id, installed.client_secret, client_id=installed.client_id
    )
    assert new.token_type == "oauth2-token"
    assert new.scope == f"installation:{installed.installation_id}"
    assert new.expires_in == 3600
    assert new.access_token != installed.token
    assert new.access_token not in repr(new)
    assert api(new.access_token).list_resources(installed.installation_id) == []
    assert old.list_resources(installed.installation_id) == []


@pytest.mark.parametrize(
    ("secret_ok", "client_id"), [(False, None), (True, "oac_notthisintegration")]
)
def test_rotate_credentials_with_a_wrong_secret_or_client_id_is_403_and_mints_nothing(
    api: ClientFactory, installed: Installed, secret_ok: bool, client_id: str | None
) -> None:
    partner = api(installed.token)
    secret = installed.client_secret if secret_ok else "not-the-secret"
    with pytest.raises(APIError) as caught:
        partner.rotate_credentials(installed.installation_id, secret, client_id=client_id)
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    # Nothing minted: the original token is still the last live one, so revoking it is refused.
    with pytest.raises(APIError) as last:
        partner.revoke_credential(
            installed.installation_id, installed.token, installed.client_secret
        )
    assert (last.value.status, last.value.code) == (409, "last_live_credential")


def test_rotate_credentials_for_another_installation_is_403(
    api: ClientFactory, installed: Installed
) -> None:
    with pytest.raises(APIError) as caught:
        api(installed.token).rotate_credentials("icfg_someoneelse", installed.client_secret)
    assert (caught.value.status, caught.value.code) == (403, "forbidden")


def test_revoke_credential_stops_the_token_once_and_refuses_the_last_live_one(
    api: ClientFactory, installed: Installed
) -> None:
    partner = api(installed.token)
    new = partner.rotate_credentials(installed.installation_id, installed.client_secret)
    revoked = partner.revoke_credential(
        installed.installation_id, new.access_token, installed.client_secret
    )
    assert (revoked.revoked, revoked.already_revoked) == (True, False)
    again = partner.revoke_credential(
        installed.installation_id, new.access_token, installed.client_secret
    )
    assert (again.revoked, again.already_revoked) == (True, True)
    with pytest.raises(APIError) as caught:
        api(new.access_token).list_resources(installed.installation_id)
    assert caught.value.status == 401
    with pytest.raises(APIError) as caught:
        partner.revoke_credential(
            installed.installation_id,
            installed.token,
            installed.client_secret,
            client_id=installed.client_id,
        )
    assert (caught.value.status, caught.value.code) == (409, "last_live_credential")
    assert partner.list_resources(installed.installation_id) == []


def test_revoke_credential_of_a_token_not_of_the_installation_is_404(
    api: ClientFactory, installed: Installed
) -> None:
    with pytest.raises(APIError) as caught:
        api(installed.token).revoke_credential(
            installed.installation_id, "kt_not_a_token_of_this_one_0001", installed.client_secret
        )
    assert caught.value.status == 404


def test_a_rotated_token_expires_on_the_servers_clock(
    api: ClientFactory, installed: Installed, clock: SettableClock
) -> None:
    new = api(installed.token).rotate_credentials(
        installed.installation_id, installed.client_secret
    )
    fresh = api(new.access_token)
    clock.advance(new.expires_in * 1000 - 1)
    assert fresh.list_resources(installed.installation_id) == []
    clock.advance(1)
    with pytest.raises(APIError) as caught:
        fresh.list_resources(installed.installation_id)
    assert caught.value.status == 401
    assert caught.value.details.get("invalidToken") is True
    assert "expired" in caught.value.message
