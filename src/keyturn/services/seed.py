"""Seeding the emulator from a fixture (CONTRACT.md 7): a whole world in one transaction.

The fixture mirrors the bootstrap (1), resource (2.2), project (3.1) and connection (3.2)
bodies, one list per part, linked by id. Every item goes through the rules its own route
applies (the secret rules, slug and name uniqueness, a connection's key conflicts), inside
one write unit: the first item that breaks one answers, named by its place in the fixture
(`resources[0].secrets[1].name`), and nothing at all is created. Ids, tokens and client
secrets a fixture gives are kept, so that a test can hard-code them; their shapes are
checked first (an id's prefix, the token alphabet).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TypeVar

from keyturn.domain.accounts import (
    PartnerSettings,
    Project,
    Team,
    TokenKind,
)
from keyturn.domain.environment import Connection
from keyturn.domain.errors import (
    BadRequest,
    Code,
    Conflict,
    FieldError,
    KeyturnError,
    RuleViolation,
)
from keyturn.domain.ids import TOKEN_SHAPE, hash_token
from keyturn.domain.resources import Resource, ResourceFields
from keyturn.domain.secrets import Secret, validate_secrets
from keyturn.services.bootstrap import (
    IssuedInstallation,
    IssuedIntegration,
    install_in,
    new_client_secret,
)
from keyturn.services.connections import ConnectionRequest, connect_in
from keyturn.services.context import ServiceContext
from keyturn.services.projects import check_project_name
from keyturn.services.resources import ResourceView, import_in, views_of
from keyturn.services.secrets import SecretsUpdate
from keyturn.storage.unit_of_work import UnitOfWork

S = TypeVar("S")
T = TypeVar("T")
# A given id: its kind's prefix, `_`, then base62 (Vercel's ids are 24 of them; a test's own
# may be shorter or longer).
GIVEN_ID_BODY = re.compile(r"^[A-Za-z0-9]{1,64}$")
# A seeded token must be as hard to guess as the shortest token a person would hard-code.
MIN_TOKEN_LENGTH = 16
# Where an inner refusal's message names its field: `secrets[1].name must ...`, `slug: ...`.
LEADING_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*(?=[: ])")


@dataclass(frozen=True, slots=True)
class TokenSeed:
    token: str | None = field(default=None, repr=False)
    name: str | None = None


@dataclass(frozen=True, slots=True)
class TeamSeed:
    slug: str
    id: str | None = None
    name: str | None = None
    tokens: tuple[TokenSeed, ...] = ()


@dataclass(frozen=True, slots=True)
class ProductSeed:
    slug: str
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class IntegrationSeed:
    slug: str
    products: tuple[ProductSeed, ...]
    id: str | None = None
    name: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    settings: PartnerSettings = field(default_factory=PartnerSettings)


@dataclass(frozen=True, slots=True)
class InstallationSeed:
    team_id: str
    integration: str
    id: str | None = None
    access_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ResourceSeed:
    installation_id: str
    partner_id: str
    fields: ResourceFields
    secrets: tuple[Secret, ...] | None = None


@dataclass(frozen=True, slots=True)
class ProjectSeed:
    team_id: str
    name: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectionSeed:
    installation_id: str
    resource_id: str
    request: ConnectionRequest


@dataclass(frozen=True, slots=True)
class Fixture:
    teams: tuple[TeamSeed, ...] = ()
    integrations: tuple[IntegrationSeed, ...] = ()
    installations: tuple[InstallationSeed, ...] = ()
    resources: tuple[ResourceSeed, ...] = ()
    projects: tuple[ProjectSeed, ...] = ()
    connections: tuple[ConnectionSeed, ...] = ()


@dataclass(frozen=True, slots=True)
class SeededToken:
    id: str
    name: str
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SeededTeam:
    team: Team
    tokens: tuple[SeededToken, ...]


@dataclass(frozen=True, slots=True)
class SeededResource:
    installation_id: str
    view: ResourceView


@dataclass(frozen=True, slots=True)
class SeededConnection:
    installation_id: str
    resource_id: str
    connection: Connection


@dataclass(frozen=True, slots=True)
class SeededWorld:
    teams: tuple[SeededTeam, ...]
    integrations: tuple[IssuedIntegration, ...]
    installations: tuple[IssuedInstallation, ...]
    resources: tuple[SeededResource, ...]
    projects: tuple[Project, ...]
    connections: tuple[SeededConnection, ...]


def seed_world(ctx: ServiceContext, fixture: Fixture) -> SeededWorld:
    """Create everything the fixture describes, or nothing (the first refusal answers)."""
    with ctx.store.write() as uow:
        teams = _each("teams", fixture.teams, partial(_team, ctx, uow))
        integrations = _each("integrations", fixture.integrations, partial(_integration, ctx, uow))
        installations = _each(
            "installations", fixture.installations, partial(_installation, ctx, uow)
        )
        resources = _each("resources", fixture.resources, partial(_resource, uow))
        projects = _each("projects", fixture.projects, partial(_project, uow))
        connections = _each("connections", fixture.connections, partial(_connection, uow))
        # Read again once every item is in: the secrets a resource was imported with moved its
        # version after the import returned it.
        current = [
            uow.resources.live(installation_id, resource.partner_id)
            for installation_id, resource in resources
        ]
        views = views_of(uow, [resource for resource in current if resource is not None])
        uow.commit()
    return SeededWorld(
        teams=teams,
        integrations=integrations,
        installations=installations,
        resources=tuple(
            SeededResource(installation_id=installation_id, view=view)
            for (installation_id, _), view in zip(resources, views, strict=True)
        ),
        projects=projects,
        connections=connections,
    )


def _team(ctx: ServiceContext, uow: UnitOfWork, seed: TeamSeed) -> SeededTeam:
    _check_id("id", seed.id, "team")
    _not_taken(uow.accounts.team(seed.id) is not None if seed.id else False, "id", seed.id)
    if uow.accounts.team_slug_taken(seed.slug):
        raise Conflict(Code.CONFLICT, f"slug: a team with slug {seed.slug!r} already exists")
    team = uow.accounts.add_team(seed.slug, seed.name or seed.slug, team_id=seed.id)
    tokens = []
    for index, token_seed in enumerate(seed.tokens):
        where = f"tokens[{index}].token"
        token = _token(ctx, uow, where, token_seed.token, "user")
        name = token_seed.name or "user token"
        token_id = uow.accounts.add_token(
            kind=TokenKind.USER,
            token_hash=hash_token(token),
            team_id=team.id,
            installation_id=None,
            name=name,
        )
        tokens.append(SeededToken(id=token_id, name=name, token=token))
    return SeededTeam(team=team, tokens=tuple(tokens))


def _integration(ctx: ServiceContext, uow: UnitOfWork, seed: IntegrationSeed) -> IssuedIntegration:
    _check_id("id", seed.id, "oac")
    for index, product in enumerate(seed.products):
        _check_id(f"products[{index}].id", product.id, "iap")
    slugs = [product.slug for product in seed.products]
    if len(set(slugs)) != len(slugs):
        raise Conflict(Code.CONFLICT, "products: two products share a slug")
    ids = [product.id for product in seed.products if product.id is not None]
    if len(set(ids)) != len(ids):
        raise Conflict(Code.CONFLICT, "products: two products share an id")
    if seed.id is not None:
        _not_taken(uow.accounts.integration_by_id_or_slug(seed.id) is not None, "id", seed.id)
    for index, product_id in enumerate(product.id for product in seed.products):
        if product_id is not None:
            _not_taken(
                uow.accounts.product(product_id) is not None, f"products[{index}].id", product_id
            )
    if uow.accounts.integration_slug_taken(seed.slug):
        raise Conflict(
            Code.CONFLICT, f"slug: an integration with slug {seed.slug!r} already exists"
        )
    integration = uow.accounts.add_integration(
        seed.slug,
        seed.name or seed.slug,
        [(product.slug, product.name or product.slug) for product in seed.products],
        integration_id=seed.id,
        product_ids=[product.id for product in seed.products],
    )
    settings = seed.settings
    uow.integrations.set_partner_settings(
        integration.id,
        base_url=settings.base_url,
        webhook_url=settings.webhook_url,
        events=settings.events,
    )
    client_secret = seed.client_secret or new_client_secret(ctx)
    uow.integrations.set_client_secret(integration.id, client_secret)
    return IssuedIntegration(
        integration=replace(
            integration,
            base_url=settings.base_url,
            webhook_url=settings.webhook_url,
            events=settings.events,
        ),
        client_secret=client_secret,
    )


def _installation(
    ctx: ServiceContext, uow: UnitOfWork, seed: InstallationSeed
) -> IssuedInstallation:
    _check_id("id", seed.id, "icfg")
    if seed.id is not None:
        _not_taken(uow.accounts.installation(seed.id) is not None, "id", seed.id)
    if uow.accounts.team(seed.team_id) is None:
        raise RuleViolation(Code.NOT_FOUND, f"teamId: no team {seed.team_id!r}")
    integration = uow.accounts.integration_by_id_or_slug(seed.integration)
    if integration is None:
        raise RuleViolation(Code.NOT_FOUND, f"integration: no integration {seed.integration!r}")
    token = _token(ctx, uow, "accessToken", seed.access_token, "integration")
    installation = install_in(uow, seed.team_id, integration, token, installation_id=seed.id)
    return IssuedInstallation(installation=installation, access_token=token)


def _resource(uow: UnitOfWork, seed: ResourceSeed) -> tuple[str, Resource]:
    if uow.accounts.installation(seed.installation_id) is None:
        raise RuleViolation(
            Code.NOT_FOUND, f"installationId: no installation {seed.installation_id!r}"
        )
    if uow.resources.live(seed.installation_id, seed.partner_id) is not None:
        raise Conflict(
            Code.CONFLICT, f"id: the installation already has a resource {seed.partner_id!r}"
        )
    if seed.secrets is not None:
        validate_secrets(seed.secrets)
    update = None if seed.secrets is None else SecretsUpdate(seed.secrets)
    resource = import_in(uow, seed.installation_id, seed.partner_id, seed.fields, update)
    return seed.installation_id, resource


def _project(uow: UnitOfWork, seed: ProjectSeed) -> Project:
    _check_id("id", seed.id, "prj")
    check_project_name(seed.name)
    if seed.id is not None:
        _not_taken(uow.projects.by_id(seed.id) is not None, "id", seed.id)
    if uow.accounts.team(seed.team_id) is None:
        raise RuleViolation(Code.NOT_FOUND, f"teamId: no team {seed.team_id!r}")
    if uow.projects.by_name(seed.team_id, seed.name) is not None:
        raise Conflict(Code.CONFLICT, f"name: the team already has a project {seed.name!r}")
    return uow.projects.add(seed.team_id, seed.name, project_id=seed.id)


def _connection(uow: UnitOfWork, seed: ConnectionSeed) -> SeededConnection:
    installation = uow.accounts.installation(seed.installation_id)
    if installation is None:
        raise RuleViolation(
            Code.NOT_FOUND, f"installationId: no installation {seed.installation_id!r}"
        )
    connection = connect_in(
        uow, installation.team_id, seed.installation_id, seed.resource_id, seed.request
    )
    return SeededConnection(
        installation_id=seed.installation_id, resource_id=seed.resource_id, connection=connection
    )


def _check_id(where: str, given: str | None, prefix: str) -> None:
    if given is None:
        return
    head, underscore, body = given.partition("_")
    if head != prefix or not underscore or not GIVEN_ID_BODY.fullmatch(body):
        message = f"must be {prefix}_ followed by 1 to 64 letters or digits"
        raise BadRequest(f"{where}: {message}", (FieldError(where, message),))


def _not_taken(taken: bool, where: str, given: str | None) -> None:
    if taken:
        raise Conflict(Code.CONFLICT, f"{where}: {given!r} already exists")


def _token(ctx: ServiceContext, uow: UnitOfWork, where: str, given: str | None, kind: str) -> str:
    if given is None:
        return ctx.ids.token(kind)
    if not TOKEN_SHAPE.fullmatch(given) or len(given) < MIN_TOKEN_LENGTH:
        message = (
            f"must be {MIN_TOKEN_LENGTH} to 256 letters, digits or underscores (the vercel CLI "
            "refuses any other character)"
        )
        raise BadRequest(f"{where}: {message}", (FieldError(where, message),))
    digest = hash_token(given)
    if ctx.authenticator.is_admin(digest) or uow.accounts.token_hash_taken(digest):
        # Which token holds it is not said: that would tell a guesser they guessed right.
        raise Conflict(Code.CONFLICT, f"{where}: the token is already in use")
    return given


def _each(part: str, seeds: Sequence[S], make: Callable[[S], T]) -> tuple[T, ...]:
    """`make` of each seed, in order; a refusal is renamed to the item it came from."""
    made = []
    for index, item in enumerate(seeds):
        try:
            made.append(make(item))
        except KeyturnError as refusal:
            raise _renamed(f"{part}[{index}]", refusal) from None
    return tuple(made)


def _renamed(item: str, refusal: KeyturnError) -> KeyturnError:
    named = LEADING_FIELD.match(refusal.message)
    if named is not None:
        key = f"{item}.{named.group(0)}"
        message = f"{item}.{refusal.message}"
    else:
        key, message = item, f"{item}: {refusal.message}"
    if isinstance(refusal, BadRequest):
        inner = refusal.fields[0].message if refusal.fields else refusal.message
        return BadRequest(message, (FieldError(key, inner),))
    # Any other refusal is a rule the fixture breaks (a 422), whatever its route would answer:
    # the admin seeding is neither unauthorised nor looking up something by its URL.
    return RuleViolation(Code(refusal.code), message)
