"""Team webhooks (CONTRACT.md 6.3) and the event feed with its deliveries (6.4)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from keyturn.http.body import parse_body, raw_body
from keyturn.http.dependencies import Caller, Context
from keyturn.http.openapi import answers, json_body
from keyturn.http.responses import json_response
from keyturn.http.wire_events import (
    CreatedWebhookOut,
    DeliveriesOut,
    EventsOut,
    RedeliveredOut,
    WebhookIn,
    WebhookOut,
    created_webhook_record,
    delivery_record,
    webhook_record,
)
from keyturn.services import events, webhooks

router = APIRouter(tags=["events"])
Body = Annotated[bytes, Depends(raw_body)]


@router.post(
    "/v1/webhooks",
    openapi_extra=json_body(WebhookIn),
    response_model=None,
    responses=answers(200, CreatedWebhookOut, 400, 401, 403, 404, 413, 503),
)
def create_webhook(context: Context, caller: Caller, body: Body) -> CreatedWebhookOut:
    """A team webhook; its `secret` (which signs its deliveries) is answered here only."""
    team_id = caller.team_id()
    request = parse_body(WebhookIn, body).to_request()
    hook, secret = webhooks.create_webhook(context, team_id, request)
    return created_webhook_record(hook, secret)


@router.get(
    "/v1/webhooks",
    response_model=None,
    responses=answers(200, list[WebhookOut], 400, 401, 403, 503),
)
def list_webhooks(context: Context, caller: Caller) -> list[WebhookOut]:
    """The team's webhooks, as a list (Vercel's shape)."""
    team_id = caller.team_id()
    return [webhook_record(hook) for hook in webhooks.list_webhooks(context, team_id)]


@router.get(
    "/v1/webhooks/{id}",
    response_model=None,
    responses=answers(200, WebhookOut, 400, 401, 403, 404, 503),
)
def get_webhook(id: str, context: Context, caller: Caller) -> WebhookOut:
    team_id = caller.team_id()
    return webhook_record(webhooks.get_webhook(context, team_id, id))


@router.delete(
    "/v1/webhooks/{id}",
    status_code=204,
    response_class=Response,
    responses=answers(204, None, 400, 401, 403, 404, 503),
)
def delete_webhook(id: str, context: Context, caller: Caller) -> Response:
    team_id = caller.team_id()
    webhooks.delete_webhook(context, team_id, id)
    return Response(status_code=204)


@router.get(
    "/v1/events",
    response_model=None,
    responses=answers(200, EventsOut, 400, 401, 403, 503),
)
def list_events(
    context: Context,
    caller: Caller,
    after: str | None = None,
    limit: Annotated[int, Query()] = events.DEFAULT_PAGE,
    type: str | None = None,
) -> EventsOut:
    """The caller's events in order, for polling: pass `next` as `after` for the next page."""
    query = events.FeedQuery(after=after, limit=limit, event_type=type)
    page = events.list_events(context, caller.team, query)
    found: list[Any] = page.events
    return {"events": found, "next": page.next}


@router.get(
    "/v1/events/{id}/deliveries",
    response_model=None,
    responses=answers(200, DeliveriesOut, 400, 401, 403, 404, 503),
)
def event_deliveries(id: str, context: Context, caller: Caller) -> DeliveriesOut:
    found = events.event_deliveries(context, caller.team, id)
    return {"deliveries": [delivery_record(delivery) for delivery in found]}


@router.post(
    "/v1/events/{id}/redeliver",
    status_code=202,
    response_model=None,
    responses=answers(202, RedeliveredOut, 400, 401, 403, 404, 503),
)
def redeliver(id: str, context: Context, caller: Caller) -> Response:
    """Queue every failed delivery of the event again; the worker sends them at once."""
    queued = events.redeliver_event(context, caller.team, id)
    body: RedeliveredOut = {"queued": queued}
    return json_response(body, status_code=202)
