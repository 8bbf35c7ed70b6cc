"""Bearer tokens: who a request speaks for, and whether that reaches what it asks for.

Tokens are stored as SHA-256 digests (`domain.ids.hash_token`) and compared with
`hmac.compare_digest`. The header is checked without the database (`Authenticator.credentials`);
the look-up (`identify`) runs in whichever unit of work the use case opens.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field, replace

from keyturn.domain.accounts import Installation, Principal, TokenKind
from keyturn.domain.errors import BadRequest, Forbidden, NotFound, Unauthorized
from keyturn.domain.ids import TOKEN_SHAPE, hash_token
from keyturn.storage.repositories.accounts import StoredToken
from keyturn.storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Credentials:
    """A request's bearer token, checked for shape and kept only as its digest.

    Whose it is gets looked up by `identify` in a unit of work: the use case's own, for the
    writes that run in one transaction, so the token costs no transaction of its own.
    """

    digest: str = field(repr=False)
    admin: bool
    # A refusal of the request that must wait for the token's look-up (an unknown token is a
    # 401 first): `identify` raises it once the token is known to be good.
    refusal: BadRequest | None = None

    def refusing(self, refusal: BadRequest) -> Credentials:
        return replace(self, refusal=refusal)


class Authenticator:
    """Turns an `Authorization` header into `Credentials`, or refuses it (401)."""

    def __init__(self, admin_token_hash: str) -> None:
        self._admin_token_hash = admin_token_hash

    def __repr__(self) -> str:
        return "Authenticator()"

    def credentials(self, authorization: str | None) -> Credentials:
        """The header's token; 401 when it is missing or malformed. Touches no database."""
        if not authorization or not authorization.strip():
            raise Unauthorized("an Authorization: Bearer <token> header is required", missing=True)
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not TOKEN_SHAPE.fullmatch(token):
            raise Unauthorized(
                "the Authorization header must be 'Bearer <token>' with a token of letters, "
                "digits and underscores",
                missing=False,
            )
        digest = hash_token(token)
        return Credentials(digest, admin=self.is_admin(digest))

    def is_admin(self, digest: str) -> bool:
        """Whether a token's digest is the admin token's."""
        return hmac.compare_digest(digest, self._admin_token_hash)


ADMIN = Principal(kind=TokenKind.ADMIN)


def identify(uow: UnitOfWork, credentials: Credentials) -> Principal:
    """Whom `credentials` speak for, read in `uow`; 401 when the token is unknown or revoked,
    then the request's waiting refusal, if any."""
    principal = ADMIN if credentials.admin else _token_principal(uow, credentials.digest)
    if credentials.refusal is not None:
        raise credentials.refusal
    return principal


def _token_principal(uow: UnitOfWork, digest: str) -> Principal:
    return token_principal(uow.accounts.live_token_by_hash(digest), digest, uow.clock.now_ms())


def token_principal(row: StoredToken | None, digest: str, now_ms: int) -> Principal:
    """Whom the live token `row` (read by its digest `digest`) speaks for at `now_ms`; 401 when
    there is none or it has expired."""
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise Unauthorized("the token is unknown or revoked", missing=False)
    if row.expires_at is not None and row.expires_at <= now_ms:
        raise Unauthorized(
            f"the token expired at {row.expires_at} (ms since the epoch); rotate the "
            "installation's credentials for a new one",
            missing=False,
        )
    return Principal(
        kind=row.kind,
        team_id=row.team_id,
        installation_id=row.installation_id,
        token_id=row.id,
    )


def require_admin(principal: Principal) -> None:
    if principal.kind is not TokenKind.ADMIN:
        raise Forbidden("this endpoint takes the admin token")


def require_installation(principal: Principal, installation_id: str) -> None:
    """An integration token reaches its own installation and nothing else."""
    if principal.kind is not TokenKind.INTEGRATION:
        raise Forbidden("this endpoint takes an integration (installation access) token")
    if principal.installation_id != installation_id:
        raise Forbidden("the token does not belong to installation " + repr(installation_id))


def require_user(principal: Principal) -> str:
    """A user token's team id; 403 for any other kind of token."""
    if principal.kind is not TokenKind.USER or principal.team_id is None:
        raise Forbidden("this endpoint takes a user token")
    return principal.team_id


def require_installation_owner(
    uow: UnitOfWork, principal: Principal, installation_id: str
) -> Installation:
    """The installation an owner-path route (`/v1/integrations/installations/{icfg}/...`) names.

    The owner path takes a user token of the installation's team: any other kind of token is a
    403. An installation that does not exist is a 404 `not_found` (a user may learn that an id
    names nothing; unlike the partner path, there is no installation the token is bound to); an
    existing one of another team is a 403.
    """
    return team_installation(uow, require_user(principal), installation_id)


def team_installation(uow: UnitOfWork, team_id: str, installation_id: str) -> Installation:
    """Installation `installation_id` of team `team_id`: 404 when none, 403 when another's."""
    installation = uow.accounts.installation(installation_id)
    if installation is None:
        raise NotFound(f"integrationConfigurationId: no installation {installation_id!r}")
    if installation.team_id != team_id:
        raise Forbidden(f"installation {installation_id!r} belongs to another team")
    return installation
