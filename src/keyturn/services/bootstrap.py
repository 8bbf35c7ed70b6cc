"""Bootstrap use cases (CONTRACT.md section 1): teams, user tokens, integrations, installations.

Tokens are returned once, at creation, and only their digests are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keyturn.domain.accounts import Installation, Integration, Team, TokenKind
from keyturn.domain.errors import Code, Conflict, NotFound
from keyturn.domain.ids import hash_token
from keyturn.services.context import ServiceContext


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: str
    token: str = field(repr=False)


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
    ctx: ServiceContext, slug: str, name: str | None, products: list[tuple[str, str | None]]
) -> Integration:
    slugs = [product_slug for product_slug, _ in products]
    if len(set(slugs)) != len(slugs):
        raise Conflict(Code.CONFLICT, "products: two products share a slug")
    with ctx.store.write() as uow:
        if uow.accounts.integration_slug_taken(slug):
            raise Conflict(Code.CONFLICT, f"slug: an integration with slug {slug!r} already exists")
        integration = uow.accounts.add_integration(
            slug, name or slug, [(p_slug, p_name or p_slug) for p_slug, p_name in products]
        )
        uow.commit()
    return integration


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
        installation = uow.accounts.add_installation(team_id, integration.id)
        uow.accounts.add_token(
            kind=TokenKind.INTEGRATION,
            token_hash=hash_token(token),
            team_id=team_id,
            installation_id=installation.id,
            name=f"{integration.slug} installation",
        )
        uow.commit()
    return IssuedInstallation(installation=installation, access_token=token)


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
