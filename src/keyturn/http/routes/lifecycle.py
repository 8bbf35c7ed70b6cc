"""The rotation lifecycle's read side and its owner action (CONTRACT.md 5.1, 5.2): a
resource's secrets history, its usage ledger, and redeploying what is stale.

History and usage answer on the partner path (integration token) and on the owner path (a
user token of the installation's team) with the same body. Query parameters are read as text
and checked by the service after the token and the resource, so a bad `limit` on an unknown
resource is a 404 and the 400 names the parameter.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from keyturn.http.dependencies import Caller, Context
from keyturn.http.openapi import answers
from keyturn.http.responses import json_response
from keyturn.http.wire_out import (
    RedeployedOut,
    SecretsUsageOut,
    SecretsVersionsOut,
    SecretValueUsageOut,
)
from keyturn.http.wire_projects import deployment_record
from keyturn.services import ledger
from keyturn.services.ledger import Asker, UsageView, VersionsView

PARTNER_PATH = "/v1/installations/{integrationConfigurationId}/resources/{resourceId}"
OWNER_PATH = "/v1/integrations/installations/{integrationConfigurationId}/resources/{resourceId}"

router = APIRouter(tags=["lifecycle"])

Limit = Annotated[str | None, Query(description="Versions per page, 1 to 100 (default 20)")]
Until = Annotated[
    str | None, Query(description="List only the versions below this one (the next page)")
]
State = Annotated[
    str | None,
    Query(
        description="Only `current` values, superseded values still `in-use`, or `revocable` ones"
    ),
]


@router.get(
    PARTNER_PATH + "/secrets/versions",
    response_model=None,
    responses=answers(200, SecretsVersionsOut, 400, 401, 403, 404, 503),
)
def partner_secrets_versions(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
    limit: Limit = None,
    until: Until = None,
) -> JSONResponse:
    """The resource's secrets versions, newest first: names added, changed, removed."""
    return _versions(
        context, caller.credentials, integrationConfigurationId, resourceId, limit, until
    )


@router.get(
    OWNER_PATH + "/secrets/versions",
    response_model=None,
    responses=answers(200, SecretsVersionsOut, 400, 401, 403, 404, 503),
)
def owner_secrets_versions(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
    limit: Limit = None,
    until: Until = None,
) -> JSONResponse:
    """The partner's history of the resource, for the installation's team."""
    return _versions(context, caller.team, integrationConfigurationId, resourceId, limit, until)


@router.get(
    PARTNER_PATH + "/secrets/usage",
    response_model=None,
    responses=answers(200, SecretsUsageOut, 400, 401, 403, 404, 503),
)
def partner_secrets_usage(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
    state: State = None,
) -> JSONResponse:
    """Every stored value of every secret, with the live deployments that still run it."""
    return _usage(context, caller.credentials, integrationConfigurationId, resourceId, state)


@router.get(
    OWNER_PATH + "/secrets/usage",
    response_model=None,
    responses=answers(200, SecretsUsageOut, 400, 401, 403, 404, 503),
)
def owner_secrets_usage(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
    state: State = None,
) -> JSONResponse:
    """The usage ledger of the resource, for the installation's team."""
    return _usage(context, caller.team, integrationConfigurationId, resourceId, state)


@router.post(
    OWNER_PATH + "/secrets/redeploy-stale",
    status_code=201,
    response_model=None,
    responses=answers(201, RedeployedOut, 400, 401, 403, 404, 503),
)
def redeploy_stale(
    integrationConfigurationId: str, resourceId: str, context: Context, caller: Caller
) -> JSONResponse:
    """Redeploy each connected project's target and branch whose newest deployment is stale."""
    views = ledger.redeploy_stale(context, caller.team, integrationConfigurationId, resourceId)
    body: RedeployedOut = {"deployments": [deployment_record(view) for view in views]}
    return json_response(body, status_code=201)


def _versions(
    context: Context,
    asker: Asker,
    installation_id: str,
    partner_id: str,
    limit: str | None,
    until: str | None,
) -> JSONResponse:
    view = ledger.list_versions(
        context, asker, installation_id, partner_id, limit=limit, until=until
    )
    return json_response(_versions_body(view))


def _versions_body(view: VersionsView) -> SecretsVersionsOut:
    return {
        "currentVersion": view.current_version,
        "versions": [
            {
                "version": change.record.version,
                "createdAt": change.record.created_at,
                "source": change.record.source,
                "rotationId": change.record.rotation_id,
                "added": list(change.added),
                "changed": list(change.changed),
                "removed": list(change.removed),
            }
            for change in view.versions
        ],
    }


def _usage(
    context: Context, asker: Asker, installation_id: str, partner_id: str, state: str | None
) -> JSONResponse:
    view = ledger.secrets_usage(context, asker, installation_id, partner_id, state=state)
    return json_response(_usage_body(view))


def _usage_body(view: UsageView) -> SecretsUsageOut:
    values: list[SecretValueUsageOut] = [
        {
            "name": value.span.name,
            "fromVersion": value.span.from_version,
            "toVersion": value.span.to_version,
            "current": value.span.current,
            "supersededAt": value.span.superseded_at,
            "expiresAt": value.span.expires_at,
            "liveDeployments": value.live_deployments,
            "servingDeployments": value.serving_deployments,
            "deploymentIds": list(value.deployment_ids),
            "safeToRevoke": value.safe_to_revoke,
        }
        for value in view.values
    ]
    return {"currentVersion": view.current_version, "values": values}
