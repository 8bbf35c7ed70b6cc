"""Bootstrap API (CONTRACT.md 1): keyturn's own, for the admin token only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from keyturn.http.body import parse_body, raw_body
from keyturn.http.dependencies import Caller, Context
from keyturn.http.openapi import answers, json_body
from keyturn.http.wire import InstallationIn, IntegrationIn, TeamIn, TokenIn
from keyturn.http.wire_out import InstallationOut, IntegrationOut, TeamOut, UserTokenOut
from keyturn.services import bootstrap
from keyturn.services.auth import require_admin

router = APIRouter(prefix="/v1/admin", tags=["bootstrap"])
Body = Annotated[bytes, Depends(raw_body)]


@router.post(
    "/teams",
    status_code=201,
    openapi_extra=json_body(TeamIn),
    response_model=None,
    responses=answers(201, TeamOut, 400, 401, 403, 409, 413, 503),
)
def create_team(context: Context, caller: Caller, body: Body) -> TeamOut:
    require_admin(caller.principal())
    request = parse_body(TeamIn, body)
    team = bootstrap.create_team(context, request.slug, request.name)
    return {"id": team.id, "slug": team.slug, "name": team.name}


@router.post(
    "/teams/{teamId}/tokens",
    status_code=201,
    openapi_extra=json_body(TokenIn, required=False),
    response_model=None,
    responses=answers(201, UserTokenOut, 400, 401, 403, 404, 409, 413, 503),
)
def create_user_token(teamId: str, context: Context, caller: Caller, body: Body) -> UserTokenOut:
    require_admin(caller.principal())
    request = parse_body(TokenIn, body) if body.strip() else TokenIn()
    issued = bootstrap.create_user_token(context, teamId, request.name)
    return {"id": issued.id, "token": issued.token}


@router.post(
    "/integrations",
    status_code=201,
    openapi_extra=json_body(IntegrationIn),
    response_model=None,
    responses=answers(201, IntegrationOut, 400, 401, 403, 409, 413, 503),
)
def create_integration(context: Context, caller: Caller, body: Body) -> IntegrationOut:
    require_admin(caller.principal())
    request = parse_body(IntegrationIn, body)
    integration = bootstrap.create_integration(
        context,
        request.slug,
        request.name,
        [(product.slug, product.name) for product in request.products],
    )
    return {
        "id": integration.id,
        "slug": integration.slug,
        "name": integration.name,
        "products": [
            {"id": product.id, "slug": product.slug, "name": product.name}
            for product in integration.products
        ],
    }


@router.post(
    "/installations",
    status_code=201,
    openapi_extra=json_body(InstallationIn),
    response_model=None,
    responses=answers(201, InstallationOut, 400, 401, 403, 404, 409, 413, 503),
)
def create_installation(context: Context, caller: Caller, body: Body) -> InstallationOut:
    require_admin(caller.principal())
    request = parse_body(InstallationIn, body)
    issued = bootstrap.create_installation(context, request.teamId, request.integration)
    return {
        "id": issued.installation.id,
        "teamId": issued.installation.team_id,
        "integrationId": issued.installation.integration_id,
        "accessToken": issued.access_token,
    }
