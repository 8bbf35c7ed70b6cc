"""Marketplace API (CONTRACT.md 2): what a partner calls with its installation token.

Each route keeps the contract's check order: the token (401/403), then the resource (404),
then the body's shape (400), then the rules (422) inside the service, which commits or changes
nothing. The secrets PUT does all of it in one transaction (`http.body.parsed_when_asked`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from keyturn.domain.conditions import Preconditions, etag
from keyturn.domain.idempotency import KeptResponse
from keyturn.http.body import parse_body, parsed_when_asked, raw_body
from keyturn.http.dependencies import Caller, Context, request_credentials
from keyturn.http.idempotency import keeps_key_in_transaction, key_of, replayed
from keyturn.http.openapi import answers, json_body, request_parameters
from keyturn.http.request_route import RequestRoute
from keyturn.http.responses import json_response
from keyturn.http.threads import in_worker_thread
from keyturn.http.wire import ResourceImportIn, ResourcePatchIn, RollbackIn, SecretsUpdateIn
from keyturn.http.wire_out import (
    EmptyOut,
    ListedResourceOut,
    ResourceNameOut,
    ResourceOut,
    ResourcesOut,
    RolledBackOut,
)
from keyturn.services import idempotency, resources, secrets
from keyturn.services.auth import Credentials, require_installation
from keyturn.services.context import ServiceContext
from keyturn.services.idempotency import InlineKey, KeyedRequest, KeyTakenMeanwhile, Replay
from keyturn.services.resources import ResourceView

router = APIRouter(prefix="/v1/installations/{integrationConfigurationId}", tags=["marketplace"])
# The secrets PUT reads its own request (see below), so FastAPI calls it as it is.
secrets_put = APIRouter(
    prefix="/v1/installations/{integrationConfigurationId}",
    tags=["marketplace"],
    route_class=RequestRoute,
)
Body = Annotated[bytes, Depends(raw_body)]
IF_MATCH_DESCRIPTION = (
    '`"<secretsVersion>"`, a comma-separated list of them, or `*`: '
    "412 unless one is the resource's current secrets version (CONTRACT.md 5.5)"
)
IfMatch = Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DESCRIPTION)]
IfNoneMatch = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        description="`*`: create only, 412 when the resource already exists",
    ),
]


IF_MATCH_DOC = ("If-Match", IF_MATCH_DESCRIPTION)
PARTNER_PATH = ("integrationConfigurationId",)


# The secrets PUT reads its request itself instead of through FastAPI's parameters and
# dependencies: resolving seven of them cost more CPU than the rest of a no-op PUT's routing
# (cProfile, docs/performance.md "Fourth pass"). What they did is here, in the same order.
@secrets_put.put(
    "/resources/{resourceId}/secrets",
    status_code=201,
    openapi_extra={
        **json_body(SecretsUpdateIn),
        **request_parameters((*PARTNER_PATH, "resourceId"), (IF_MATCH_DOC,)),
    },
    response_model=None,
    responses=answers(201, EmptyOut, 400, 401, 403, 404, 409, 412, 413, 422, 503),
)
@keeps_key_in_transaction
async def update_resource_secrets(request: Request) -> Response:
    """Push a resource's secrets: full replace, or `partial` to replace only those sent."""
    return await _update_secrets_of(request, product_ref=None)


@secrets_put.put(
    "/products/{integrationProductIdOrSlug}/resources/{resourceId}/secrets",
    status_code=201,
    openapi_extra={
        **json_body(SecretsUpdateIn),
        **request_parameters(
            (*PARTNER_PATH, "integrationProductIdOrSlug", "resourceId"), (IF_MATCH_DOC,)
        ),
    },
    deprecated=True,
    response_model=None,
    responses=answers(201, EmptyOut, 400, 401, 403, 404, 409, 412, 413, 422, 503),
)
@keeps_key_in_transaction
async def update_resource_secrets_by_product(request: Request) -> Response:
    """The deprecated alias; 404 unless the product is the resource's."""
    return await _update_secrets_of(
        request, product_ref=request.path_params["integrationProductIdOrSlug"]
    )


async def _update_secrets_of(request: Request, product_ref: str | None) -> Response:
    """The secrets PUT's parameters, read as the `Caller`, `Body` and `IfMatch` dependencies
    and `key_of` would (a bad header is a 401 before anything else), then the write in one
    thread-pool hop."""
    context: ServiceContext = request.app.state.context
    credentials = request_credentials(request, context)
    body = await request.body()
    return await in_worker_thread(
        _update_secrets,
        context,
        credentials,
        request.path_params["integrationConfigurationId"],
        request.path_params["resourceId"],
        body,
        product_ref,
        key_of(request),
        request.headers.get("if-match"),
    )


def _update_secrets(
    context: ServiceContext,
    credentials: Credentials,
    installation_id: str,
    partner_id: str,
    body: bytes,
    product_ref: str | None,
    keyed: KeyedRequest | None,
    if_match: str | None,
) -> Response:
    update = parsed_when_asked(lambda: parse_body(SecretsUpdateIn, body).to_domain())
    try:
        version = secrets.update_resource_secrets(
            context,
            credentials,
            installation_id,
            partner_id,
            update,
            product_ref=product_ref,
            preconditions=Preconditions(if_match=if_match),
            key=None if keyed is None else InlineKey(keyed, _secrets_updated),
        )
    except Replay as replay:
        return replayed(replay.response)
    except KeyTakenMeanwhile:
        if keyed is None:
            raise
        return replayed(idempotency.replay_after_race(context, keyed))
    answer = _secrets_updated(version)
    return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))


def _secrets_updated(version: int) -> KeptResponse:
    """The secrets PUT's answer: 201 `{}` with the version it left as the ETag."""
    return KeptResponse(
        status=201, body=b"{}", headers={"content-type": "application/json", "etag": etag(version)}
    )


@router.post(
    "/resources/{resourceId}/secrets/rollback",
    status_code=201,
    openapi_extra=json_body(RollbackIn),
    response_model=None,
    responses=answers(201, RolledBackOut, 400, 401, 403, 404, 409, 412, 413, 422, 503),
)
def roll_back_secrets(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
    body: Body,
    if_match: IfMatch = None,
) -> Response:
    """Make the secret set that of an earlier version again, as a new version."""
    version = parsed_when_asked(lambda: parse_body(RollbackIn, body).version)
    current = secrets.roll_back_secrets(
        context,
        caller.credentials,
        integrationConfigurationId,
        resourceId,
        version,
        preconditions=Preconditions(if_match=if_match),
    )
    return json_response({"version": current}, status_code=201, headers={"ETag": etag(current)})


@router.put(
    "/resources/{resourceId}",
    openapi_extra=json_body(ResourceImportIn),
    response_model=None,
    responses=answers(200, ResourceNameOut, 400, 401, 403, 404, 409, 412, 413, 422, 503),
)
def import_resource(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
    body: Body,
    if_none_match: IfNoneMatch = None,
) -> ResourceNameOut:
    """Create or update a resource (an upsert); `secrets` replaces its whole set."""
    require_installation(caller.principal(), integrationConfigurationId)
    request = parse_body(ResourceImportIn, body)
    resource = resources.import_resource(
        context,
        integrationConfigurationId,
        resourceId,
        request.fields(),
        request.secrets_update(),
        Preconditions(if_none_match=if_none_match),
    )
    return {"name": resource.name}


@router.patch(
    "/resources/{resourceId}",
    openapi_extra=json_body(ResourcePatchIn),
    response_model=None,
    responses=answers(200, ResourceNameOut, 400, 401, 403, 404, 409, 412, 413, 422, 503),
)
def patch_resource(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
    body: Body,
    if_match: IfMatch = None,
) -> ResourceNameOut:
    require_installation(caller.principal(), integrationConfigurationId)
    preconditions = Preconditions(if_match=if_match)
    secrets.ensure_resource_exists(
        context, integrationConfigurationId, resourceId, preconditions=preconditions
    )
    request = parse_body(ResourcePatchIn, body)
    resource = resources.patch_resource(
        context,
        integrationConfigurationId,
        resourceId,
        request.fields(),
        request.secrets_update(),
        preconditions,
    )
    return {"name": resource.name}


@router.get(
    "/resources/{resourceId}",
    response_model=None,
    responses=answers(200, ResourceOut, 400, 401, 403, 404, 503),
)
def get_resource(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
    response: Response,
) -> ResourceOut:
    """A resource with the names of its secrets, never their values; its secrets version is
    the `ETag` that `If-Match` names."""
    require_installation(caller.principal(), integrationConfigurationId)
    view = resources.get_resource(context, integrationConfigurationId, resourceId)
    response.headers["ETag"] = etag(view.resource.secrets_version)
    return _resource_body(view)


@router.get(
    "/resources",
    response_model=None,
    responses=answers(200, ResourcesOut, 400, 401, 403, 503),
)
def list_resources(
    integrationConfigurationId: str,
    context: Context,
    caller: Caller,
) -> ResourcesOut:
    require_installation(caller.principal(), integrationConfigurationId)
    views = resources.list_resources(context, integrationConfigurationId)
    return {"resources": [_listed_resource(view) for view in views]}


@router.delete(
    "/resources/{resourceId}",
    status_code=204,
    response_class=Response,
    responses=answers(204, None, 400, 401, 403, 404, 503),
)
def delete_resource(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
) -> Response:
    require_installation(caller.principal(), integrationConfigurationId)
    resources.delete_resource(context, integrationConfigurationId, resourceId)
    return Response(status_code=204)


def _resource_body(view: ResourceView) -> ResourceOut:
    resource = view.resource
    body: ResourceOut = {
        "id": resource.partner_id,
        "internalId": resource.internal_id,
        "name": resource.name,
        "status": resource.status,
        "productId": resource.product_id,
        "secretsVersion": resource.secrets_version,
        "secretNames": list(view.secret_names),
    }
    # Unset descriptive fields are left out, not sent as null.
    if resource.ownership is not None:
        body["ownership"] = resource.ownership
    if resource.metadata is not None:
        body["metadata"] = resource.metadata
    if resource.billing_plan is not None:
        body["billingPlan"] = resource.billing_plan
    if resource.notification is not None:
        body["notification"] = resource.notification
    if resource.extras is not None:
        body["extras"] = resource.extras
    rotation = view.latest_rotation
    if rotation is not None:
        # Vercel's fields, from the latest rotation request (5.3); left out before the first.
        body["secretRotationRequestedAt"] = rotation.requested_at
        body["secretRotationRequestedReason"] = rotation.reason
        body["secretRotationRequestedBy"] = rotation.requested_by
        body["secretRotationCompletedAt"] = rotation.completed_at
    return body


def _listed_resource(view: ResourceView) -> ListedResourceOut:
    return {"partnerId": view.resource.partner_id, **_resource_body(view)}
