"""Installation credentials (CONTRACT.md 8): rotate and revoke, with Vercel's shapes, so that
`@vercel/sdk`'s `marketplace.rotateInstallationCredential` and
`marketplace.revokeInstallationCredential` work unchanged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from keyturn.http.body import parse_body, raw_body
from keyturn.http.dependencies import Caller, Context
from keyturn.http.openapi import answers, json_body
from keyturn.http.wire import WireModel
from keyturn.services import credentials
from keyturn.services.auth import require_installation

router = APIRouter(prefix="/v1/installations/{integrationConfigurationId}", tags=["marketplace"])
Body = Annotated[bytes, Depends(raw_body)]


class RotateIn(WireModel):
    client_secret: str = Field(min_length=1, repr=False)
    client_id: str | None = Field(default=None, min_length=1)

    def proof(self) -> credentials.ClientProof:
        return credentials.ClientProof(client_secret=self.client_secret, client_id=self.client_id)


class RevokeIn(RotateIn):
    token: str = Field(min_length=1, repr=False)


@with_config(ConfigDict(extra="forbid"))
class RotatedOut(TypedDict):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


@with_config(ConfigDict(extra="forbid"))
class RevokedOut(TypedDict):
    revoked: bool
    already_revoked: bool


@router.post(
    "/credentials/rotate",
    openapi_extra=json_body(RotateIn),
    response_model=None,
    responses=answers(200, RotatedOut, 400, 401, 403, 404, 413, 503),
)
def rotate_credential(
    integrationConfigurationId: str, request: Request, context: Context, caller: Caller, body: Body
) -> RotatedOut:
    """A new access token for the installation; the old one stays valid."""
    # Token first (401/403), then the body (400), then the client secret (403).
    require_installation(caller.principal(), integrationConfigurationId)
    proof = parse_body(RotateIn, body).proof()
    rotated = credentials.rotate_credential(
        context,
        caller.credentials,
        integrationConfigurationId,
        proof,
        ttl_s=request.app.state.access_token_ttl_s,
    )
    return {
        "access_token": rotated.access_token,
        "token_type": credentials.TOKEN_TYPE,
        "expires_in": rotated.expires_in_s,
        "scope": rotated.scope,
    }


@router.post(
    "/credentials/revoke",
    openapi_extra=json_body(RevokeIn),
    response_model=None,
    responses=answers(200, RevokedOut, 400, 401, 403, 404, 409, 413, 503),
)
def revoke_credential(
    integrationConfigurationId: str, context: Context, caller: Caller, body: Body
) -> RevokedOut:
    """Revoke one of the installation's tokens; never its last live one (409)."""
    require_installation(caller.principal(), integrationConfigurationId)
    request = parse_body(RevokeIn, body)
    revocation = credentials.revoke_credential(
        context, caller.credentials, integrationConfigurationId, request.proof(), request.token
    )
    return {"revoked": revocation.revoked, "already_revoked": revocation.already_revoked}
