"""Teams, integrations, products, installations, tokens and projects."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, Select, bindparam, insert, or_, select, update

from keyturn.domain.accounts import Installation, Integration, Product, Team, TokenKind
from keyturn.domain.clock import Clock
from keyturn.domain.ids import IdSource
from keyturn.storage.tables import installations, integrations, products, teams, tokens


@dataclass(frozen=True, slots=True)
class StoredToken:
    id: str
    kind: TokenKind
    token_hash: str
    team_id: str
    installation_id: str | None


# Every authenticated request runs this query: built once, it costs SQLAlchemy no statement
# construction and no cache-key computation per request (about 120 us each on SQLite here).
LIVE_TOKEN_BY_HASH = select(tokens).where(
    tokens.c.token_hash == bindparam("token_hash"), tokens.c.revoked_at.is_(None)
)


class AccountRepository:
    def __init__(self, connection: Connection, *, clock: Clock, ids: IdSource) -> None:
        self._connection = connection
        self._clock = clock
        self._ids = ids

    # Teams

    def add_team(self, slug: str, name: str) -> Team:
        team = Team(id=self._ids.new("team"), slug=slug, name=name)
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
        self, slug: str, name: str, product_specs: list[tuple[str, str]]
    ) -> Integration:
        integration_id = self._ids.new("oac")
        self._connection.execute(
            insert(integrations).values(
                id=integration_id, slug=slug, name=name, created_at=self._clock.now_ms()
            )
        )
        added = tuple(
            Product(
                id=self._ids.new("iap"), integration_id=integration_id, slug=p_slug, name=p_name
            )
            for p_slug, p_name in product_specs
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

    def add_installation(self, team_id: str, integration_id: str) -> Installation:
        installation = Installation(
            id=self._ids.new("icfg"), team_id=team_id, integration_id=integration_id
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
            )
        )
        return token_id

    def live_token_by_hash(self, token_hash: str) -> StoredToken | None:
        """The unrevoked token with this digest."""
        row = self._connection.execute(LIVE_TOKEN_BY_HASH, {"token_hash": token_hash}).first()
        if row is None:
            return None
        return StoredToken(
            id=row.id,
            kind=TokenKind(row.kind),
            token_hash=row.token_hash,
            team_id=row.team_id,
            installation_id=row.installation_id,
        )

    def revoke_token(self, token_id: str) -> None:
        self._connection.execute(
            update(tokens).where(tokens.c.id == token_id).values(revoked_at=self._clock.now_ms())
        )

    def _exists(self, query: Select[tuple[str]]) -> bool:
        return self._connection.execute(query).first() is not None


def _product(row: Row[tuple[str, str, str, str]]) -> Product:
    return Product(id=row.id, integration_id=row.integration_id, slug=row.slug, name=row.name)
