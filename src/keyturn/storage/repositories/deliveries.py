"""Deliveries (CONTRACT.md 6.4): claims by the delivery workers, their outcomes, and the rows
`GET /v1/events/{id}/deliveries` shows.

A claim counts the attempt and moves the row's `next_attempt_at` past the attempt's deadline
(its lease) in one transaction, with `FOR UPDATE SKIP LOCKED` on PostgreSQL: two workers never
claim one attempt. An outcome is recorded only for the attempt claimed (`attempts` unchanged):
a worker that outlived its lease cannot overwrite the attempt that replaced it. A worker that
dies holding a lease loses nothing: the row becomes due again when the lease ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, select, update

from keyturn.domain.clock import Clock
from keyturn.domain.webhooks import ClaimedAttempt, Delivery
from keyturn.storage.dialect import skip_locked
from keyturn.storage.tables import deliveries, events

# Bound names differ from the columns': SQLAlchemy reserves those for its own SET parameters.
RECORD_OUTCOME = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("delivery_id"),
        deliveries.c.attempts == bindparam("attempt"),
        deliveries.c.status == "pending",
    )
    .values(
        status=bindparam("new_status"),
        next_attempt_at=bindparam("next_at"),
        last_status_code=bindparam("status_code"),
        last_error=bindparam("error"),
        delivered_at=bindparam("delivered"),
    )
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed attempt before its secret is looked up."""

    delivery_id: str
    attempt: int
    url: str
    destination_kind: str
    destination_id: str
    body: bytes

    def with_secret(self, secret: str | None) -> ClaimedAttempt:
        return ClaimedAttempt(self.delivery_id, self.attempt, self.url, self.body, secret)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to write after an attempt: the row's new state."""

    delivery_id: str
    attempt: int
    status: str
    next_attempt_at: int | None
    status_code: int | None
    error: str | None
    delivered_at: int | None


class DeliveryRepository:
    def __init__(self, connection: Connection, *, clock: Clock) -> None:
        self._connection = connection
        self._clock = clock

    def claim_due(self, *, limit: int, lease_ms: int) -> list[Claim]:
        """Up to `limit` due attempts, oldest event first, each leased for `lease_ms`."""
        now = self._clock.now_ms()
        due = self._connection.execute(
            skip_locked(
                self._connection,
                select(
                    deliveries.c.id,
                    deliveries.c.event_seq,
                    deliveries.c.attempts,
                    deliveries.c.url,
                    deliveries.c.destination_kind,
                    deliveries.c.destination_id,
                )
                .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
                .order_by(deliveries.c.event_seq, deliveries.c.id)
                .limit(limit),
            )
        ).all()
        if not due:
            return []
        self._connection.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([row.id for row in due]))
            .values(attempts=deliveries.c.attempts + 1, next_attempt_at=now + lease_ms)
        )
        bodies = {
            row.seq: row.body
            for row in self._connection.execute(
                select(events.c.seq, events.c.body).where(
                    events.c.seq.in_({row.event_seq for row in due})
                )
            )
        }
        return [
            Claim(
                delivery_id=row.id,
                attempt=row.attempts + 1,
                url=row.url,
                destination_kind=row.destination_kind,
                destination_id=row.destination_id,
                # Compact and in the stored key order: the bytes signed are the bytes sent.
                body=json.dumps(bodies[row.event_seq], separators=(",", ":")).encode(),
            )
            for row in due
        ]

    def record(self, outcomes: Sequence[Outcome]) -> int:
        """Write the outcomes of claimed attempts; returns how many were still the current
        attempt of their row (the others were taken over after their lease ran out)."""
        if not outcomes:
            return 0
        result = self._connection.execute(
            RECORD_OUTCOME,
            [
                {
                    "delivery_id": outcome.delivery_id,
                    "attempt": outcome.attempt,
                    "new_status": outcome.status,
                    "next_at": outcome.next_attempt_at,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "delivered": outcome.delivered_at,
                }
                for outcome in outcomes
            ],
        )
        return int(result.rowcount)

    def of_event(self, event_seq: int) -> list[Delivery]:
        rows = self._connection.execute(
            select(deliveries)
            .where(deliveries.c.event_seq == event_seq)
            .order_by(deliveries.c.created_at, deliveries.c.id)
        ).all()
        return [_delivery(row) for row in rows]

    def of_destination(
        self, kind: str, destination_id: str, *, limit: int
    ) -> list[tuple[Delivery, str, str, int]]:
        """The destination's newest `limit` deliveries, each with its event's id, type and
        creation time."""
        rows = self._connection.execute(
            select(deliveries, events.c.id.label("event_id"), events.c.type, events.c.created_at)
            .join(events, events.c.seq == deliveries.c.event_seq)
            .where(
                deliveries.c.destination_kind == kind,
                deliveries.c.destination_id == destination_id,
            )
            .order_by(deliveries.c.event_seq.desc(), deliveries.c.id.desc())
            .limit(limit)
        ).all()
        return [(_delivery(row), row.event_id, row.type, row.created_at) for row in rows]

    def requeue_failed_of_destination(
        self, delivery_id: str, kind: str, destination_id: str
    ) -> bool:
        """Make one failed delivery to the destination pending again, due now, with a fresh
        schedule; False when there is no such failed delivery."""
        result = self._connection.execute(
            update(deliveries)
            .where(
                deliveries.c.id == delivery_id,
                deliveries.c.destination_kind == kind,
                deliveries.c.destination_id == destination_id,
                deliveries.c.status == "failed",
            )
            .values(status="pending", attempts=0, next_attempt_at=self._clock.now_ms())
        )
        return bool(result.rowcount == 1)

    def requeue_failed(self, event_seq: int) -> int:
        """Make the event's failed deliveries pending again, due now, with a fresh schedule."""
        result = self._connection.execute(
            update(deliveries)
            .where(and_(deliveries.c.event_seq == event_seq, deliveries.c.status == "failed"))
            .values(status="pending", attempts=0, next_attempt_at=self._clock.now_ms())
        )
        return int(result.rowcount)


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        destination_kind=row.destination_kind,
        destination_id=row.destination_id,
        url=row.url,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
    )
