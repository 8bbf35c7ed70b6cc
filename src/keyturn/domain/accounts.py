"""Who is who: teams, integrations and their products, installations, tokens, projects."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

# A client secret is 32+ characters of [A-Za-z0-9] (CONTRACT.md 1): 40 base62 characters are
# about 238 bits, as strong as the tokens keyturn issues.
CLIENT_SECRET_LENGTH: Final = 40
# Partner URLs are stored and answered on every read of the integration, so they are bounded.
MAX_URL_LENGTH: Final = 2048


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
    """An integration; its id is also its OAuth `clientId`, the audience of keyturn's tokens."""

    id: str
    slug: str
    name: str
    products: tuple[Product, ...]
    base_url: str | None = None
    webhook_url: str | None = None
    events: tuple[str, ...] = ()

    @property
    def partner_settings(self) -> PartnerSettings:
        return PartnerSettings(
            base_url=self.base_url, webhook_url=self.webhook_url, events=self.events
        )


@dataclass(frozen=True, slots=True)
class PartnerSettings:
    """How keyturn reaches an integration's partner: its API (5.3) and webhooks (6.2)."""

    base_url: str | None = None
    webhook_url: str | None = None
    events: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PartnerSettingsPatch:
    """A PATCH of partner settings: only the fields named in `given` change, to their value in
    `settings` (None clears a URL, an empty tuple the events)."""

    given: frozenset[str]
    settings: PartnerSettings

    def applied_to(self, current: PartnerSettings) -> PartnerSettings:
        return replace(current, **{name: getattr(self.settings, name) for name in self.given})


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


def partner_url_problem(url: str) -> str | None:
    """Why `url` cannot be a partner's `baseUrl` or `webhookUrl`, or None when it can: it must
    be an absolute `http` or `https` URL with a host."""
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(character.isspace() or not character.isprintable() for character in url):
        return "must not contain whitespace or control characters"
    try:
        parts = urlsplit(url)
        # urlsplit checks the port only when asked for it.
        _ = parts.port
    except ValueError:
        return "must be an absolute http or https URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http or https URL"
    return None


def user_id_of(principal: Principal) -> str:
    """The user a token speaks for. keyturn keeps no users apart from their tokens, so a user
    token is its user: `user_` and the random part of the token's id (of the team's, for a
    principal without a token id). `/v2/user` and the partner tokens of 5.3 name the same."""
    source = principal.token_id or principal.team_id or ""
    return "user_" + source.split("_", 1)[-1]
