"""Bearer tokens: who a request speaks for, and whether that reaches what it asks for.

Tokens are stored as SHA-256 digests (`domain.ids.hash_token`) and compared with
`hmac.compare_digest`.
"""

from __future__ import annotations

import hmac

from keyturn.domain.accounts import Principal, TokenKind
from keyturn.domain.errors import Forbidden, Unauthorized
from keyturn.domain.ids import TOKEN_SHAPE, hash_token
from keyturn.storage.unit_of_work import Store


class Authenticator:
    """Turns an `Authorization` header into a `Principal`, or refuses with a 401."""

    def __init__(self, store: Store, admin_token_hash: str) -> None:
        self._store = store
        self._admin_token_hash = admin_token_hash

    def __repr__(self) -> str:
        return "Authenticator()"

    def authenticate(self, authorization: str | None) -> Principal:
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
        if hmac.compare_digest(digest, self._admin_token_hash):
            return Principal(kind=TokenKind.ADMIN)
        with self._store.read() as uow:
            row = uow.accounts.live_token_by_hash(digest)
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            raise Unauthorized("the token is unknown or revoked", missing=False)
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
