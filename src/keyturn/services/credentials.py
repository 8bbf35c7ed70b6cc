"""Installation credentials (CONTRACT.md 8): a partner rotates and revokes its own access
tokens, as Vercel lets it, without the customer reinstalling.

Both calls take a live token of the installation and the integration's current client secret
(and, when sent, its client id). A rotated token expires `access_token_ttl_s` after it was made,
on the context's clock (so the emulator's `advanceMs` expires it); tokens the admin API makes do
not. Revoking never leaves an installation without a live token: the partner would be locked
out, and only the customer could let it back in.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from keyturn.domain.accounts import Installation, TokenKind
from keyturn.domain.errors import Code, Conflict, Forbidden, NotFound
from keyturn.domain.ids import TOKEN_SHAPE, hash_token
from keyturn.services.auth import Credentials, identify, require_installation
from keyturn.services.context import ServiceContext
from keyturn.storage.unit_of_work import UnitOfWork

# Vercel's `token_type` of an installation access token; a kind, not a credential.
TOKEN_TYPE = "oauth2-token"  # noqa: S105  # a token type name, not a secret


@dataclass(frozen=True, slots=True)
class ClientProof:
    """What the partner proves it is the integration with."""

    client_secret: str = field(repr=False)
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class RotatedToken:
    access_token: str = field(repr=False)
    expires_in_s: int
    scope: str


@dataclass(frozen=True, slots=True)
class Revocation:
    revoked: bool
    already_revoked: bool


def rotate_credential(
    ctx: ServiceContext,
    credentials: Credentials,
    installation_id: str,
    proof: ClientProof,
    *,
    ttl_s: int,
) -> RotatedToken:
    """A new access token for the installation; the caller's token stays valid."""
    token = ctx.ids.token("integration")
    with ctx.store.write() as uow:
        installation = _proven_installation(uow, credentials, installation_id, proof)
        uow.accounts.add_token(
            kind=TokenKind.INTEGRATION,
            token_hash=hash_token(token),
            team_id=installation.team_id,
            installation_id=installation.id,
            name="rotated installation access token",
            expires_at=uow.clock.now_ms() + ttl_s * 1000,
        )
        uow.commit()
    return RotatedToken(
        access_token=token, expires_in_s=ttl_s, scope=f"installation:{installation_id}"
    )


def revoke_credential(
    ctx: ServiceContext,
    credentials: Credentials,
    installation_id: str,
    proof: ClientProof,
    token: str,
) -> Revocation:
    """Revoke one of the installation's tokens (404 if it is not one of them); 409 when it is
    the installation's last live token."""
    with ctx.store.write() as uow:
        _proven_installation(uow, credentials, installation_id, proof)
        found = (
            uow.accounts.installation_token(installation_id, hash_token(token), for_update=True)
            if TOKEN_SHAPE.fullmatch(token)
            else None
        )
        if found is None:
            raise NotFound("token: not a token of this installation")
        if found.revoked_at is not None:
            return Revocation(revoked=True, already_revoked=True)
        live = uow.accounts.live_installation_tokens(installation_id, now_ms=uow.clock.now_ms())
        if live == [found.id]:
            raise Conflict(
                Code.LAST_LIVE_CREDENTIAL,
                "token: it is the installation's last live token; rotate first for another",
            )
        uow.accounts.revoke_token(found.id)
        uow.commit()
    return Revocation(revoked=True, already_revoked=False)


def _proven_installation(
    uow: UnitOfWork, credentials: Credentials, installation_id: str, proof: ClientProof
) -> Installation:
    """The caller's installation, once its token (401/403), then the client secret and id (403)
    check out."""
    require_installation(identify(uow, credentials), installation_id)
    installation = uow.accounts.installation(installation_id)
    if installation is None:
        # The token belongs to it, so it exists; a concurrent reset may have removed both.
        raise NotFound(f"integrationConfigurationId: no installation {installation_id!r}")
    expected = uow.integrations.client_secret(installation.integration_id)
    if expected is None or not hmac.compare_digest(proof.client_secret.encode(), expected.encode()):
        raise Forbidden("client_secret: not the integration's current client secret")
    if proof.client_id is not None and proof.client_id != installation.integration_id:
        raise Forbidden("client_id: not this installation's integration")
    return installation
