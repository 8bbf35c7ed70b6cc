"""Rotation requests (CONTRACT.md 5.3): the owner asks for new credentials; both sides list them.

`POST {owner path}/secrets/rotate` answers 200 when the partner rotated at once, 202 when it
will, and 502 `partner_error` with the failed rotation when it did not; the service makes the
partner call outside any transaction. The token keyturn signs for the partner names, as its
issuer, `KEYTURN_OIDC_ISSUER` or else this server's base URL as the request reached it.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request, Response

from keyturn.domain.errors import PartnerError
from keyturn.domain.event_payloads import rotation_fields
from keyturn.domain.rotations import Rotation
from keyturn.http.body import parse_body, parsed_when_asked, raw_body
from keyturn.http.dependencies import Caller, Context
from keyturn.http.openapi import answers, json_body
from keyturn.http.responses import json_response
from keyturn.http.wire import RotateIn
from keyturn.http.wire_out import RotationAnswerOut, RotationOut, RotationsOut
from keyturn.services import rotations
from keyturn.services.rotations import RotationFailed

SECRETS = "/resources/{resourceId}/secrets"
owner = APIRouter(
    prefix="/v1/integrations/installations/{integrationConfigurationId}", tags=["rotations"]
)
partner = APIRouter(prefix="/v1/installations/{integrationConfigurationId}", tags=["rotations"])
Body = Annotated[bytes, Depends(raw_body)]


@owner.post(
    SECRETS + "/rotate",
    openapi_extra=json_body(RotateIn, required=False),
    response_model=None,
    responses={
        **answers(200, RotationAnswerOut, 400, 401, 403, 404, 409, 413, 502, 503),
        202: {"model": RotationAnswerOut, "description": "The partner will rotate"},
    },
)
def request_rotation(
    integrationConfigurationId: str,
    resourceId: str,
    request: Request,
    context: Context,
    caller: Caller,
    body: Body,
) -> Response:
    """Ask the resource's partner for new secrets (Vercel's rotation request)."""
    rotate = parsed_when_asked(
        lambda: (parse_body(RotateIn, body) if body.strip() else RotateIn()).to_domain()
    )
    issuer = context.oidc_issuer or str(request.base_url).rstrip("/")
    try:
        answer = rotations.request_rotation(
            context,
            caller.team,
            integrationConfigurationId,
            resourceId,
            rotate,
            issuer=issuer,
        )
    except RotationFailed as failed:
        raise PartnerError(failed.message, {"rotation": rotation_out(failed.rotation)}) from None
    return json_response(
        {"rotation": rotation_out(answer.rotation)}, status_code=200 if answer.completed else 202
    )


@owner.get(
    SECRETS + "/rotations",
    response_model=None,
    responses=answers(200, RotationsOut, 400, 401, 403, 404, 503),
)
def list_rotations_for_owner(
    integrationConfigurationId: str, resourceId: str, context: Context, caller: Caller
) -> RotationsOut:
    """The resource's rotation requests, newest first."""
    found = rotations.list_rotations_for_owner(
        context, caller.team, integrationConfigurationId, resourceId
    )
    return {"rotations": [rotation_out(rotation) for rotation in found]}


@partner.get(
    SECRETS + "/rotations",
    response_model=None,
    responses=answers(200, RotationsOut, 400, 401, 403, 404, 503),
)
def list_rotations_for_partner(
    integrationConfigurationId: str, resourceId: str, context: Context, caller: Caller
) -> RotationsOut:
    """The resource's rotation requests, newest first."""
    found = rotations.list_rotations_for_partner(
        context, caller.credentials, integrationConfigurationId, resourceId
    )
    return {"rotations": [rotation_out(rotation) for rotation in found]}


def rotation_out(rotation: Rotation) -> RotationOut:
    """R of the contract: absent values are null.

    The rotation events carry the same R, so both take it from the one builder in the domain
    (which cannot know the HTTP layer's typed dict); the wire tests check the shape.
    """
    return cast("RotationOut", rotation_fields(rotation))
