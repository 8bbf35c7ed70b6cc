"""Webhook rules (CONTRACT.md 6.2-6.4): who receives which event, how a delivery is signed,
and when a failed one is tried again.

Pure functions: the outbox (storage) asks `integration_receives` and `webhook_receives` which
destinations an event goes to, the delivery worker signs with `signature` and reschedules with
`retry_delay_ms`. The randomness of the jitter is handed in, so tests can fix it.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from keyturn.domain.events import (
    DEPLOYMENT_CREATED,
    PROJECT_CONNECTED,
    PROJECT_CREATED,
    PROJECT_DISCONNECTED,
    PROJECT_REMOVED,
    VERCEL_EVENT_TYPES,
)

SIGNATURE_HEADER = "x-vercel-signature"

# Events that concern one project: a team webhook's `projectIds` narrows these only.
PROJECT_EVENT_TYPES = frozenset(
    {PROJECT_CONNECTED, PROJECT_DISCONNECTED, DEPLOYMENT_CREATED, PROJECT_CREATED, PROJECT_REMOVED}
)

# The backoff (6.4): the n-th retry waits about FIRST_RETRY_MS * GROWTH**(n-1), capped, and
# jittered down by up to half so that receivers that failed together are not retried together.
# With the default 8 attempts the last one comes 1.5 to 3 hours after the first, and the first
# retry within 2 s.
FIRST_RETRY_MS = 2_000
GROWTH = 4
MAX_RETRY_MS = 6 * 3_600_000
DEFAULT_MAX_ATTEMPTS = 8


def signature(secret: str, body: bytes) -> str:
    """`x-vercel-signature`: lower-case hex HMAC-SHA1 of the raw body, keyed with `secret`."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def retry_delay_ms(failed_attempts: int, rng: random.Random) -> int:
    """How long to wait after the `failed_attempts`-th failed attempt (1 for the first)."""
    if failed_attempts < 1:
        raise ValueError("a retry follows at least one failed attempt")
    # Capped in the exponent too, so a large attempt count cannot build a huge integer.
    ceiling: int = min(MAX_RETRY_MS, FIRST_RETRY_MS * GROWTH ** min(failed_attempts - 1, 16))
    return ceiling - int(rng.random() * ceiling / 2)


def integration_receives(event_type: str, opted_in: Collection[str]) -> bool:
    """An integration with a webhook URL gets Vercel's types, and keyturn's it listed (6.2)."""
    return event_type in VERCEL_EVENT_TYPES or event_type in opted_in


def webhook_receives(
    event_type: str,
    subscribed: Collection[str],
    project_ids: Collection[str] | None,
    event_project_id: str | None,
) -> bool:
    """A team webhook gets the types it lists; with `projectIds`, project events of those only."""
    if event_type not in subscribed:
        return False
    if project_ids is None or event_type not in PROJECT_EVENT_TYPES:
        return True
    return event_project_id in project_ids


@dataclass(frozen=True, slots=True)
class Webhook:
    """A team webhook (6.3); its secret is kept apart and shown once, at creation."""

    id: str
    team_id: str
    url: str
    events: tuple[str, ...]
    project_ids: tuple[str, ...] | None
    created_at: int
    updated_at: int


DeliveryStatus = Literal["pending", "delivered", "failed"]
DestinationKind = Literal["integration", "webhook"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event's delivery to one destination, as `GET /v1/events/{id}/deliveries` shows it."""

    id: str
    destination_kind: DestinationKind
    destination_id: str
    url: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: int | None
    delivered_at: int | None


@dataclass(frozen=True, slots=True)
class ClaimedAttempt:
    """An attempt a worker holds: what to send where, signed with `secret` (None: no secret
    to sign with any more, the destination is gone)."""

    delivery_id: str
    attempt: int
    url: str
    body: bytes = field(repr=False)
    secret: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one attempt got: a status code, or an error (a timeout, a refused connection)."""

    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
