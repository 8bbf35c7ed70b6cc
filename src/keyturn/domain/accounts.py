"""Who is who: teams, integrations and their products, installations, tokens, projects."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    integration_id: str
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Integration:
    id: str
    slug: str
    name: str
    products: tuple[Product, ...]


@dataclass(frozen=True, slots=True)
class Installation:
    id: str
    team_id: str
    integration_id: str


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    team_id: str
    name: str
    created_at: int
    updated_at: int


class TokenKind(StrEnum):
    ADMIN = "admin"
    USER = "user"
    INTEGRATION = "integration"


@dataclass(frozen=True, slots=True)
class Principal:
    """Whom a request's token speaks for; `installation_id` only for integration tokens."""

    kind: TokenKind
    team_id: str | None = None
    installation_id: str | None = None
    token_id: str | None = None
