"""Team webhooks (CONTRACT.md 6.3): create, list, read and delete a team's hooks.

A hook's secret is generated here and answered once, by the create; afterwards only the
delivery worker opens it, to sign.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyturn.domain.accounts import partner_url_problem
from keyturn.domain.errors import BadRequest, FieldError, Forbidden, NotFound
from keyturn.domain.events import unknown_event_types
from keyturn.domain.webhooks import Delivery, Webhook
from keyturn.services.context import ServiceContext
from keyturn.services.projects import find_project
from keyturn.storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    url: str
    events: tuple[str, ...]
    project_ids: tuple[str, ...] | None = None


def create_webhook(
    ctx: ServiceContext, team_id: str, request: WebhookRequest
) -> tuple[Webhook, str]:
    """The new hook and its secret; 400 for a bad url or an unknown event type."""
    # The rule of an integration's webhookUrl (1), for a team's hook too.
    problem = partner_url_problem(request.url)
    if problem is not None:
        raise BadRequest(f"url: {problem}", (FieldError("url", problem),))
    if not request.events:
        message = "lists no event type; name at least one"
        raise BadRequest(f"events: {message}", (FieldError("events", message),))
    unknown = unknown_event_types(list(request.events))
    if unknown:
        index = request.events.index(unknown[0])
        message = f"{unknown[0]!r} is not an event type keyturn sends"
        raise BadRequest(f"events[{index}]: {message}", (FieldError(f"events[{index}]", message),))
    with ctx.store.write() as uow:
        project_ids = None
        if request.project_ids is not None:
            # Ids or names, as elsewhere; kept as ids, each once, in the order given.
            project_ids = list(
                dict.fromkeys(find_project(uow, team_id, ref).id for ref in request.project_ids)
            )
        hook, secret = uow.webhooks.add(
            team_id, request.url, list(dict.fromkeys(request.events)), project_ids
        )
        uow.commit()
    return hook, secret


def list_webhooks(ctx: ServiceContext, team_id: str) -> list[Webhook]:
    with ctx.store.read() as uow:
        return uow.webhooks.of_team(team_id)


def get_webhook(ctx: ServiceContext, team_id: str, webhook_id: str) -> Webhook:
    with ctx.store.read() as uow:
        return _team_webhook(uow, team_id, webhook_id)


def delete_webhook(ctx: ServiceContext, team_id: str, webhook_id: str) -> None:
    """Remove the hook; its deliveries still pending fail, saying it was removed."""
    with ctx.store.write() as uow:
        uow.webhooks.delete(_team_webhook(uow, team_id, webhook_id))
        uow.commit()


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """A delivery to a team webhook, with the event it carries (by id and type)."""

    delivery: Delivery
    event_id: str
    event_type: str
    event_created_at: int


def webhook_deliveries(
    ctx: ServiceContext, team_id: str, webhook_id: str, *, limit: int
) -> tuple[Webhook, list[WebhookDelivery]]:
    """The team's hook and its newest `limit` deliveries; another team's hook is 403."""
    with ctx.store.read() as uow:
        hook = _team_webhook(uow, team_id, webhook_id)
        found = uow.deliveries.of_destination("webhook", hook.id, limit=limit)
    return hook, [WebhookDelivery(*row) for row in found]


def redeliver_webhook_delivery(
    ctx: ServiceContext, team_id: str, webhook_id: str, delivery_id: str
) -> bool:
    """Queue one failed delivery of the team's hook again, due now (as `POST
    /v1/events/{id}/redeliver` does for an event's); False when it had not failed."""
    with ctx.store.write() as uow:
        hook = _team_webhook(uow, team_id, webhook_id)
        queued = uow.deliveries.requeue_failed_of_destination(delivery_id, "webhook", hook.id)
        uow.commit()
    return queued


def _team_webhook(uow: UnitOfWork, team_id: str, webhook_id: str) -> Webhook:
    hook = uow.webhooks.get(webhook_id)
    if hook is None:
        raise NotFound(f"id: no webhook {webhook_id!r}")
    if hook.team_id != team_id:
        raise Forbidden(f"webhook {webhook_id!r} belongs to another team")
    return hook
