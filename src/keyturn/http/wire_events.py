"""Wire shapes of events and webhooks (CONTRACT.md 6), Vercel's field names.

The webhooks API takes and answers what Vercel's does (the `vercel webhooks` commands send
these bodies), so its body ignores keys keyturn does not use.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from keyturn.domain.webhooks import Delivery, Webhook
from keyturn.http.wire import WireModel
from keyturn.services.webhooks import WebhookRequest

CLOSED = ConfigDict(extra="forbid")
MAX_URL_LENGTH = 2048


class WebhookIn(WireModel):
    model_config = ConfigDict(extra="ignore", strict=True, hide_input_in_errors=True)

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    events: list[str] = Field(min_length=1, max_length=100)
    projectIds: list[str] | None = Field(default=None, max_length=1000)

    def to_request(self) -> WebhookRequest:
        return WebhookRequest(
            url=self.url,
            events=tuple(self.events),
            project_ids=None if self.projectIds is None else tuple(self.projectIds),
        )


@with_config(CLOSED)
class WebhookOut(TypedDict):
    id: str
    url: str
    events: list[str]
    ownerId: str
    createdAt: int
    updatedAt: int
    projectIds: NotRequired[list[str]]


@with_config(CLOSED)
class CreatedWebhookOut(TypedDict):
    id: str
    url: str
    events: list[str]
    ownerId: str
    createdAt: int
    updatedAt: int
    projectIds: NotRequired[list[str]]
    secret: str


@with_config(CLOSED)
class EventOut(TypedDict):
    id: str
    type: str
    createdAt: int
    region: None
    payload: dict[str, Any]


@with_config(CLOSED)
class EventsOut(TypedDict):
    events: list[EventOut]
    next: str | None


@with_config(CLOSED)
class DestinationOut(TypedDict):
    kind: Literal["integration", "webhook"]
    id: str
    url: str


@with_config(CLOSED)
class DeliveryOut(TypedDict):
    id: str
    destination: DestinationOut
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    lastStatusCode: int | None
    lastError: str | None
    nextAttemptAt: int | None
    deliveredAt: int | None


@with_config(CLOSED)
class DeliveriesOut(TypedDict):
    deliveries: list[DeliveryOut]


@with_config(CLOSED)
class RedeliveredOut(TypedDict):
    queued: int


def webhook_record(hook: Webhook) -> WebhookOut:
    record: WebhookOut = {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events),
        "ownerId": hook.team_id,
        "createdAt": hook.created_at,
        "updatedAt": hook.updated_at,
    }
    if hook.project_ids is not None:
        record["projectIds"] = list(hook.project_ids)
    return record


def created_webhook_record(hook: Webhook, secret: str) -> CreatedWebhookOut:
    record: CreatedWebhookOut = {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events),
        "ownerId": hook.team_id,
        "createdAt": hook.created_at,
        "updatedAt": hook.updated_at,
        "secret": secret,
    }
    if hook.project_ids is not None:
        record["projectIds"] = list(hook.project_ids)
    return record


def delivery_record(delivery: Delivery) -> DeliveryOut:
    return {
        "id": delivery.id,
        "destination": {
            "kind": delivery.destination_kind,
            "id": delivery.destination_id,
            "url": delivery.url,
        },
        "status": delivery.status,
        "attempts": delivery.attempts,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "nextAttemptAt": delivery.next_attempt_at,
        "deliveredAt": delivery.delivered_at,
    }
