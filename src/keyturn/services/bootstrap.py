"""Bootstrap use cases (CONTRACT.md section 1): teams, user tokens, integrations, installations.

Tokens are returned once, at creation, and only their digests are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from keyturn.domain.accounts import (
    CLIENT_SECRET_LENGTH,
    Installation,
    Integration,
    PartnerSettings,
    PartnerSettingsPatch,
    Team,
    TokenKind,
)
from keyturn.domain.errors import Code, Conflict, NotFound
from keyturn.domain.ids import hash_token
from keyturn.services.context import ServiceContext
from keyturn.storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: str
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class IssuedIntegration:
    """A new integration and its client secret, which is shown only now."""

    integration: Integration
    client_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class IssuedInstallation:
    installation: Installation
    access_token: str = field(repr=False)


def create_team(ctx: ServiceContext, slug: str, name: str | None) -> Team:
    with ctx.store.write() as uow:
        if uow.accounts.team_slug_taken(slug):
            raise Conflict(Code.CONFLICT, f"slug: a team with slug {slug!r} already exists")
        team = uow.accounts.add_team(slug, name or slug)
        uow.commit()
    return team


def create_user_token(ctx: ServiceContext, team_id: str, name: str | None) -> IssuedToken:
    token = ctx.ids.token("user")
    with ctx.store.write() as uow:
        if uow.accounts.team(team_id) is None:
            raise NotFound(f"teamId: no team {team_id!r}")
        token_id = uow.accounts.add_token(
            kind=TokenKind.USER,
            token_hash=hash_token(token),
            team_id=team_id,
            installation_id=None,
            name=name or "user token",
        )
        uow.commit()
    return IssuedToken(id=token_id, token=token)


def create_integration(
    ctx: ServiceContext,
    slug: str,
    name: str | None,
    products: list[tuple[str, str | None]],
    settings: PartnerSettings,
) -> IssuedIntegration:
    slugs = [product_slug for product_slug, _ in products]
    if len(set(slugs)) != len(slugs):
        raise Conflict(Code.CONFLICT, "products: two products share a slug")
    client_secret = new_client_secret(ctx)
    with ctx.store.write() as uow:
        if uow.accounts.integration_slug_taken(slug):
            raise Conflict(Code.CONFLICT, f"slug: an integration with slug {slug!r} already exists")
        integration = uow.accounts.add_integration(
            slug, name or slug, [(p_slug, p_name or p_slug) for p_slug, p_name in products]
        )
        _store_settings(uow, integration.id, settings)
        uow.integrations.set_client_secret(integration.id, client_secret)
        uow.commit()
    return IssuedIntegration(
        integration=_with_settings(integration, settings), client_secret=client_secret
    )


def update_integration(
    ctx: ServiceContext, integration_ref: str, patch: Callable[[], PartnerSettingsPatch]
) -> Integration:
    """PATCH an integration (by id or slug); `patch` parses the body after the 404 check."""
    with ctx.store.write() as uow:
        integration = _integration_or_404(uow, integration_ref)
        settings = patch().applied_to(integration.partner_settings)
        _store_settings(uow, integration.id, settings)
        uow.commit()
    return _with_settings(integration, settings)


def renew_client_secret(ctx: ServiceContext, integration_ref: str) -> tuple[Integration, str]:
    """A new client secret for the integration; the old one stops signing at once."""
    client_secret = new_client_secret(ctx)
    with ctx.store.write() as uow:
        integration = _integration_or_404(uow, integration_ref)
        uow.integrations.set_client_secret(integration.id, client_secret)
        uow.commit()
    return integration, client_secret


def new_client_secret(ctx: ServiceContext) -> str:
    """32+ characters of [A-Za-z0-9] (CONTRACT.md 1), from the context's id source."""
    return ctx.ids.base62(CLIENT_SECRET_LENGTH)


def _integration_or_404(uow: UnitOfWork, integration_ref: str) -> Integration:
    integration = uow.accounts.integration_by_id_or_slug(integration_ref)
    if integration is None:
        raise NotFound(f"idOrSlug: no integration {integration_ref!r}")
    return integration


def _store_settings(uow: UnitOfWork, integration_id: str, settings: PartnerSettings) -> None:
    uow.integrations.set_partner_settings(
        integration_id,
        base_url=settings.base_url,
        webhook_url=settings.webhook_url,
        events=settings.events,
    )


def _with_settings(integration: Integration, settings: PartnerSettings) -> Integration:
    return replace(
        integration,
        base_url=settings.base_url,
        webhook_url=settings.webhook_url,
        events=settings.events,
    )


def create_installation(
    ctx: ServiceContext, team_id: str, integration_ref: str
) -> IssuedInstallation:
    """Install an integration (by id or slug) on a team; returns its access token once."""
    token = ctx.ids.token("integration")
    with ctx.store.write() as uow:
        if uow.accounts.team(team_id) is None:
            raise NotFound(f"teamId: no team {team_id!r}")
        integration = uow.accounts.integration_by_id_or_slug(integration_ref)
        if integration is None:
            raise NotFound(f"integration: no integration {integration_ref!r}")
        installation = install_in(uow, team_id, integration, token)
        uow.commit()
    return IssuedInstallation(installation=installation, access_token=token)


def install_in(
    uow: UnitOfWork,
    team_id: str,
    integration: Integration,
    token: str,
    *,
    installation_id: str | None = None,
) -> Installation:
    """Install `integration` on the team in `uow`, with `token` as its access token (the
    admin API's create and the emulator's seed both do it so)."""
    installation = uow.accounts.add_installation(
        team_id, integration.id, installation_id=installation_id
    )
    uow.accounts.add_token(
        kind=TokenKind.INTEGRATION,
        token_hash=hash_token(token),
        team_id=team_id,
        installation_id=installation.id,
        name=f"{integration.slug} installation",
    )
    return installation


def issue_installation_token(ctx: ServiceContext, installation_id: str) -> IssuedToken:
    """Another access token for an existing installation (the demo prints a fresh one)."""
    token = ctx.ids.token("integration")
    with ctx.store.write() as uow:
        installation = uow.accounts.installation(installation_id)
        if installation is None:
            raise NotFound(f"installation: no installation {installation_id!r}")
        token_id = uow.accounts.add_token(
            kind=TokenKind.INTEGRATION,
            token_hash=hash_token(token),
            team_id=installation.team_id,
            installation_id=installation.id,
            name="installation access token",
        )
        uow.commit()
    return IssuedToken(id=token_id, token=token)
