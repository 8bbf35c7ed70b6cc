"""The dashboard's pages of section 6: the team's event feed and its webhooks' deliveries.

The feed reads newest first (what an owner looks for is what just happened), a page at a
time with a cursor, and can keep one event type. A webhook's page lists its newest deliveries
with their state, and a failed one can be sent again: a CSRF-protected form that htmx posts,
answered with the refreshed table. Events hold names and ids only, so the payload shown is
never a secret; another team's webhook answers 404 like one that does not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from keyturn.dashboard.views import (
    Viewer,
    int_param,
    render_page,
    run_action,
    run_view,
    see_other,
    state_of,
    storable,
)
from keyturn.domain.events import KEYTURN_EVENT_TYPES, VERCEL_EVENT_TYPES
from keyturn.services import events, webhooks

EVENTS_PER_PAGE: Final = 25
MOST_EVENTS_PER_PAGE: Final = 100
DELIVERIES_SHOWN: Final = 50

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def _subject(body: dict[str, Any]) -> str:
    """What an event is about, in a few words: its resource, deployment or project."""
    payload = body["payload"]
    parts = []
    if "resource" in payload:
        parts.append(f"resource {payload['resource']['id']}")
    if "deployment" in payload:
        parts.append(f"deployment {payload['deployment']['id']}")
    if "project" in payload:
        project = payload["project"]
        parts.append(f"project {project.get('name', project['id'])}")
    if "name" in payload:
        parts.append(f"{payload['name']} v{payload['fromVersion']} to v{payload['toVersion']}")
    if "rotation" in payload:
        parts.append(f"rotation {payload['rotation']['status']}")
    return ", ".join(parts)


@router.get("/events")
def events_page(request: Request) -> Response:
    def build(viewer: Viewer) -> Response:
        query = request.query_params
        before = query.get("before") or None
        event_type = query.get("type") or None
        if before is not None:
            storable(before)
        limit = int_param(query, "limit", EVENTS_PER_PAGE, most=MOST_EVENTS_PER_PAGE)
        page = events.team_events_newest_first(
            state_of(request).context,
            viewer.team_id,
            before=before,
            limit=limit,
            event_type=event_type,
        )
        older = None
        if page.next is not None:
            older = "/dashboard/events?" + urlencode(
                {"before": page.next, **({"type": event_type} if event_type else {})}
            )
        shown = [
            {
                "body": body,
                "subject": _subject(body),
                "payload": json.dumps(body["payload"], indent=2),
            }
            for body in page.events
        ]
        template = "_events.html" if request.headers.get("HX-Request") else "events.html"
        return render_page(
            viewer,
            template,
            nav="events",
            shown=shown,
            older=older,
            event_type=event_type,
            first_page=before is None,
            types=VERCEL_EVENT_TYPES + KEYTURN_EVENT_TYPES,
        )

    return run_view(request, build)


@router.get("/webhooks")
def webhooks_page(request: Request) -> Response:
    def build(viewer: Viewer) -> Response:
        hooks = webhooks.list_webhooks(state_of(request).context, viewer.team_id)
        return render_page(viewer, "webhooks.html", nav="webhooks", hooks=hooks)

    return run_view(request, build)


# What a webhook's page says after a redelivery, by outcome.
REDELIVERY_NOTICES: Final = {
    "queued": "Queued again: the delivery worker sends it within seconds.",
    "unchanged": "That delivery had not failed, so it was left as it is.",
}


def _webhook_page(
    request: Request, viewer: Viewer, webhook_id: str, notice: str | None
) -> Response:
    hook, found = webhooks.webhook_deliveries(
        state_of(request).context, viewer.team_id, webhook_id, limit=DELIVERIES_SHOWN
    )
    template = "_deliveries.html" if request.headers.get("HX-Request") else "webhook.html"
    return render_page(
        viewer,
        template,
        nav="webhooks",
        hook=hook,
        deliveries=found,
        most=DELIVERIES_SHOWN,
        notice=notice,
    )


@router.get("/webhooks/{webhook_id}")
def webhook_page(request: Request, webhook_id: str) -> Response:
    def build(viewer: Viewer) -> Response:
        storable(webhook_id)
        notice = REDELIVERY_NOTICES.get(request.query_params.get("redelivery", ""))
        return _webhook_page(request, viewer, webhook_id, notice)

    return run_view(request, build)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
def redeliver(
    request: Request,
    webhook_id: str,
    delivery_id: str,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Send a failed delivery of the team's webhook again (due now, a fresh schedule)."""

    def build(viewer: Viewer) -> Response:
        storable(webhook_id, delivery_id)
        queued = webhooks.redeliver_webhook_delivery(
            state_of(request).context, viewer.team_id, webhook_id, delivery_id
        )
        outcome = "queued" if queued else "unchanged"
        if request.headers.get("HX-Request"):
            return _webhook_page(request, viewer, webhook_id, REDELIVERY_NOTICES[outcome])
        return see_other(f"/dashboard/webhooks/{webhook_id}?redelivery={outcome}")

    return run_action(request, csrf_token, build)
