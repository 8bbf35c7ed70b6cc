"""Bootstrap API (CONTRACT.md 1): keyturn's own, for the admin token only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from keyturn.domain.accounts import Integration
from keyturn.http.body import parse_body, parsed_when_asked, raw_body
from keyturn.http.dependencies import Caller, Context
from keyturn.http.openapi import answers, json_body
from keyturn.http.wire import InstallationIn, IntegrationIn, IntegrationPatchIn, TeamIn, TokenIn
from keyturn.http.wire_out import (
    ClientSecretOut,
    CreatedIntegrationOut,
    InstallationOut,
    IntegrationOut,
    TeamOut,
    UserTokenOut,
)
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
    responses=answers(201, CreatedIntegrationOut, 400, 401, 403, 409, 413, 503),
)
def create_integration(context: Context, caller: Caller, body: Body) -> CreatedIntegrationOut:
    require_admin(caller.principal())
    request = parse_body(IntegrationIn, body)
    issued = bootstrap.create_integration(
        context,
        request.slug,
        request.name,
        [(product.slug, product.name) for product in request.products],
        request.partner_settings(),
    )
    return {**integration_out(issued.integration), "clientSecret": issued.client_secret}


@router.patch(
    "/integrations/{idOrSlug}",
    openapi_extra=json_body(IntegrationPatchIn),
    response_model=None,
    responses=answers(200, IntegrationOut, 400, 401, 403, 404, 413, 503),
)
def update_integration(
    idOrSlug: str, context: Context, caller: Caller, body: Body
) -> IntegrationOut:
    """Set or clear (`null`) the partner's `baseUrl`, `webhookUrl` and `events`."""
    require_admin(caller.principal())
    patch = parsed_when_asked(lambda: parse_body(IntegrationPatchIn, body).to_domain())
    return integration_out(bootstrap.update_integration(context, idOrSlug, patch))


@router.post(
    "/integrations/{idOrSlug}/secret",
    status_code=201,
    response_model=None,
    responses=answers(201, ClientSecretOut, 401, 403, 404, 503),
)
def renew_client_secret(idOrSlug: str, context: Context, caller: Caller) -> ClientSecretOut:
    """A new client secret; the old one stops signing at once."""
    require_admin(caller.principal())
    integration, client_secret = bootstrap.renew_client_secret(context, idOrSlug)
    return {"clientId": integration.id, "clientSecret": client_secret}


def integration_out(integration: Integration) -> IntegrationOut:
    """An integration as every answer shows it: never its client secret."""
    return {
        "id": integration.id,
        "slug": integration.slug,
        "name": integration.name,
        "products": [
            {"id": product.id, "slug": product.slug, "name": product.name}
            for product in integration.products
        ],
        "clientId": integration.id,
        "baseUrl": integration.base_url,
        "webhookUrl": integration.webhook_url,
        "events": list(integration.events),
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
