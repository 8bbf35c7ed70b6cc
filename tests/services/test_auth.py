"""Owner-path authorization (`require_installation_owner`): whose installation a user reaches."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from keyturn.domain.accounts import Principal, TokenKind
from keyturn.domain.errors import Forbidden, NotFound
from keyturn.services.auth import require_installation_owner
from tests.conftest import Partner, seed_partner


def _user_of(partner: Partner) -> Principal:
    return Principal(kind=TokenKind.USER, team_id=partner.team_id)


def test_a_user_of_the_installations_team_gets_the_installation(
    runtime: Runtime, partner: Partner
) -> None:
    with runtime.store.read() as uow:
        installation = require_installation_owner(uow, _user_of(partner), partner.installation_id)
    assert (installation.id, installation.team_id) == (partner.installation_id, partner.team_id)


def test_a_user_of_another_team_is_refused_with_403(
    runtime: Runtime, partner: Partner, client: TestClient
) -> None:
    other = seed_partner(client, slug="other")
    with runtime.store.read() as uow, pytest.raises(Forbidden, match="another team"):
        require_installation_owner(uow, _user_of(other), partner.installation_id)


def test_an_installation_that_does_not_exist_is_404(runtime: Runtime, partner: Partner) -> None:
    with runtime.store.read() as uow, pytest.raises(NotFound) as refused:
        require_installation_owner(uow, _user_of(partner), "icfg_missing")
    assert refused.value.code == "not_found"
    assert "integrationConfigurationId" in refused.value.message


@pytest.mark.parametrize("kind", [TokenKind.INTEGRATION, TokenKind.ADMIN])
def test_a_token_that_is_not_a_user_token_is_refused_with_403(
    runtime: Runtime, partner: Partner, kind: TokenKind
) -> None:
    principal = Principal(
        kind=kind, team_id=partner.team_id, installation_id=partner.installation_id
    )
    with runtime.store.read() as uow, pytest.raises(Forbidden, match="user token"):
        require_installation_owner(uow, principal, partner.installation_id)
