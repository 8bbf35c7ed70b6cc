"""Teams, integrations, products, installations, tokens and projects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, insert, or_, select, update

from keyturn.domain.accounts import Installation, Integration, Product, Team, TokenKind
from keyturn.domain.clock import Clock
from keyturn.domain.ids import IdSource
from keyturn.storage.driver import DriverStatement
from keyturn.storage.tables import installations, integrations, products, teams, tokens


@dataclass(frozen=True, slots=True)
class TokenState:
    id: str
    revoked_at: int | None
    expires_at: int | None


@dataclass(frozen=True, slots=True)
class StoredToken:
    id: str
    kind: TokenKind
    token_hash: str
    team_id: str
    installation_id: str | None
    # Milliseconds since the epoch past which the token answers 401; None: never.
    expires_at: int | None = None


# Every authenticated request runs this query: built once and run on the driver's connection
# (storage/driver.py), in `StoredToken`'s field order.
TOKEN_COLUMNS = (
    tokens.c.id,
    tokens.c.kind,
    tokens.c.token_hash,
    tokens.c.team_id,
    tokens.c.installation_id,
    tokens.c.expires_at,
)
LIVE_TOKEN = (tokens.c.token_hash == bindparam("token_hash"), tokens.c.revoked_at.is_(None))
LIVE_TOKEN_BY_HASH = DriverStatement(select(*TOKEN_COLUMNS).where(*LIVE_TOKEN))


def stored_token(row: Sequence[Any]) -> StoredToken:
    """A row of `TOKEN_COLUMNS`."""
    token_id, kind, digest, team_id, installation_id, expires_at = row
    return StoredToken(token_id, TokenKind(kind), digest, team_id, installation_id, expires_at)


class AccountRepository:
    def __init__(self, connection: Connection, *, clock: Clock, ids: IdSource) -> None:
        self._connection = connection
        self._clock = clock
        self._ids = ids

    # Teams

    def add_team(self, slug: str, name: str, *, team_id: str | None = None) -> Team:
        """A new team; `team_id` when the caller gives one (a seed), else a new id."""
        team = Team(id=team_id or self._ids.new("team"), slug=slug, name=name)
        self._connection.execute(
            insert(teams).values(id=team.id, slug=slug, name=name, created_at=self._clock.now_ms())
        )
        return team

    def team(self, team_id: str) -> Team | None:
        row = self._connection.execute(select(teams).where(teams.c.id == team_id)).first()
        return Team(id=row.id, slug=row.slug, name=row.name) if row else None

    def team_slug_taken(self, slug: str) -> bool:
        return self._exists(select(teams.c.id).where(teams.c.slug == slug))

    def team_by_slug(self, slug: str) -> Team | None:
        row = self._connection.execute(select(teams).where(teams.c.slug == slug)).first()
        return Team(id=row.id, slug=row.slug, name=row.name) if row else None

    # Integrations and their products

    def add_integration(
        self,
        slug: str,
        name: str,
        product_specs: list[tuple[str, str]],
        *,
        integration_id: str | None = None,
        product_ids: list[str | None] | None = None,
    ) -> Integration:
        """A new integration and its products; given ids (a seed) are kept, the rest made."""
        integration_id = integration_id or self._ids.new("oac")
        given = product_ids or [None] * len(product_specs)
        self._connection.execute(
            insert(integrations).values(
                id=integration_id, slug=slug, name=name, created_at=self._clock.now_ms()
            )
        )
        added = tuple(
            Product(
                id=product_id or self._ids.new("iap"),
                integration_id=integration_id,
                slug=p_slug,
                name=p_name,
            )
            for (p_slug, p_name), product_id in zip(product_specs, given, strict=True)
        )
        if added:
            self._connection.execute(
                insert(products),
                [
                    {"id": p.id, "integration_id": p.integration_id, "slug": p.slug, "name": p.name}
                    for p in added
                ],
            )
        return Integration(id=integration_id, slug=slug, name=name, products=added)

    def integration_slug_taken(self, slug: str) -> bool:
        return self._exists(select(integrations.c.id).where(integrations.c.slug == slug))

    def integration_by_id_or_slug(self, reference: str) -> Integration | None:
        row = self._connection.execute(
            select(integrations).where(
                or_(integrations.c.id == reference, integrations.c.slug == reference)
            )
        ).first()
        if row is None:
            return None
        found = self._connection.execute(
            select(products).where(products.c.integration_id == row.id).order_by(products.c.slug)
        ).all()
        return Integration(
            id=row.id,
            slug=row.slug,
            name=row.name,
            products=tuple(map(_product, found)),
            base_url=row.base_url,
            webhook_url=row.webhook_url,
            events=tuple(row.events or ()),
        )

    def product_of_integration(self, integration_id: str, reference: str) -> Product | None:
        """The integration's product whose id or slug is `reference`."""
        row = self._connection.execute(
            select(products).where(
                products.c.integration_id == integration_id,
                or_(products.c.id == reference, products.c.slug == reference),
            )
        ).first()
        return _product(row) if row else None

    def product(self, product_id: str) -> Product | None:
        row = self._connection.execute(select(products).where(products.c.id == product_id)).first()
        return _product(row) if row else None

    # Installations

    def add_installation(
        self, team_id: str, integration_id: str, *, installation_id: str | None = None
    ) -> Installation:
        installation = Installation(
            id=installation_id or self._ids.new("icfg"),
            team_id=team_id,
            integration_id=integration_id,
        )
        self._connection.execute(
            insert(installations).values(
                id=installation.id,
                team_id=team_id,
                integration_id=integration_id,
                created_at=self._clock.now_ms(),
            )
        )
        return installation

    def first_installation(self, team_id: str, integration_id: str) -> Installation | None:
        row = self._connection.execute(
            select(installations)
            .where(
                installations.c.team_id == team_id,
                installations.c.integration_id == integration_id,
            )
            .order_by(installations.c.created_at)
        ).first()
        if row is None:
            return None
        return Installation(id=row.id, team_id=row.team_id, integration_id=row.integration_id)

    def installation(self, installation_id: str) -> Installation | None:
        row = self._connection.execute(
            select(installations).where(installations.c.id == installation_id)
        ).first()
        if row is None:
            return None
        return Installation(id=row.id, team_id=row.team_id, integration_id=row.integration_id)

    # Tokens (only digests are stored)

    def add_token(
        self,
        *,
        kind: TokenKind,
        token_hash: str,
        team_id: str,
        installation_id: str | None,
        name: str,
        expires_at: int | None = None,
    ) -> str:
        token_id = self._ids.new("tok")
        self._connection.execute(
            insert(tokens).values(
                id=token_id,
                kind=kind.value,
                token_hash=token_hash,
                team_id=team_id,
                installation_id=installation_id,
                name=name,
                created_at=self._clock.now_ms(),
                expires_at=expires_at,
            )
        )
        return token_id

    def live_token_by_hash(self, token_hash: str) -> StoredToken | None:
        """The unrevoked token with this digest."""
        row = LIVE_TOKEN_BY_HASH.first(self._connection, {"token_hash": token_hash})
        return None if row is None else stored_token(row)

    def token_hash_taken(self, token_hash: str) -> bool:
        """Whether any token, revoked or not, has this digest."""
        return self._exists(select(tokens.c.id).where(tokens.c.token_hash == token_hash))

    def token_kinds(self, token_hashes: Iterable[str]) -> dict[str, TokenKind]:
        """The kind of each known token among these digests (revoked and expired ones too)."""
        rows = self._connection.execute(
            select(tokens.c.token_hash, tokens.c.kind).where(
                tokens.c.token_hash.in_(list(token_hashes))
            )
        )
        return {row.token_hash: TokenKind(row.kind) for row in rows}

    def installation_token(
        self, installation_id: str, token_hash: str, *, for_update: bool = False
    ) -> TokenState | None:
        """The installation's integration token with this digest, revoked or not."""
        query = select(tokens).where(
            tokens.c.installation_id == installation_id,
            tokens.c.kind == TokenKind.INTEGRATION.value,
            tokens.c.token_hash == token_hash,
        )
        row = self._connection.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            return None
        return TokenState(id=row.id, revoked_at=row.revoked_at, expires_at=row.expires_at)

    def live_installation_tokens(self, installation_id: str, *, now_ms: int) -> list[str]:
        """Ids of the installation's integration tokens neither revoked nor expired, locked
        against a concurrent revoke (PostgreSQL; SQLite's write transaction is exclusive)."""
        rows = self._connection.execute(
            select(tokens.c.id)
            .where(
                tokens.c.installation_id == installation_id,
                tokens.c.kind == TokenKind.INTEGRATION.value,
                tokens.c.revoked_at.is_(None),
                or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now_ms),
            )
            .with_for_update()
        )
        return [row.id for row in rows]

    def revoke_token(self, token_id: str) -> None:
        self._connection.execute(
            update(tokens).where(tokens.c.id == token_id).values(revoked_at=self._clock.now_ms())
        )

    def _exists(self, query: Select[tuple[str]]) -> bool:
        return self._connection.execute(query).first() is not None


def _product(row: Row[tuple[str, str, str, str]]) -> Product:
    return Product(id=row.id, integration_id=row.integration_id, slug=row.slug, name=row.name)
