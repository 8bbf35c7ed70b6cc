"""The delivery use cases the worker runs (CONTRACT.md 6.4): claim due attempts, record what
they got.

Claiming and recording are separate transactions with the sending in between, so no database
transaction is held open while a receiver takes its time. A claim leases its rows for the
attempt's timeout plus a margin; a worker that dies mid-attempt leaves rows that become due
again when the lease ends, so what was committed is delivered at least once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from keyturn.domain.webhooks import (
    DEFAULT_MAX_ATTEMPTS,
    AttemptOutcome,
    ClaimedAttempt,
    retry_delay_ms,
)
from keyturn.services.context import ServiceContext
from keyturn.storage.repositories.deliveries import Outcome

# Beyond the attempt's own timeout, how long a claim stays the worker's: the time to record
# the outcome, which takes milliseconds unless the database stalls.
LEASE_MARGIN_MS = 10_000


class AttemptSender(Protocol):
    """What the worker sends through (keyturn.outbound.webhooks in a server)."""

    def send(self, attempt: ClaimedAttempt) -> AttemptOutcome: ...


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    timeout_s: float = 10.0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    @property
    def lease_ms(self) -> int:
        return int(self.timeout_s * 1000) + LEASE_MARGIN_MS


def claim_attempts(
    ctx: ServiceContext, *, limit: int, policy: DeliveryPolicy
) -> list[ClaimedAttempt]:
    """Up to `limit` due attempts, now this caller's to send (and no other worker's)."""
    with ctx.store.write() as uow:
        claims = uow.deliveries.claim_due(limit=limit, lease_ms=policy.lease_ms)
        secrets = uow.webhooks.secrets(
            claim.destination_id for claim in claims if claim.destination_kind == "webhook"
        )
        # An integration signs with its client secret as it is now: a new one signs at once.
        for integration_id in {
            c.destination_id for c in claims if c.destination_kind == "integration"
        }:
            client_secret = uow.integrations.client_secret(integration_id)
            if client_secret is not None:
                secrets[integration_id] = client_secret
        uow.commit()
    return [claim.with_secret(secrets.get(claim.destination_id)) for claim in claims]


def record_outcomes(
    ctx: ServiceContext,
    results: Sequence[tuple[ClaimedAttempt, AttemptOutcome]],
    *,
    policy: DeliveryPolicy,
    rng: random.Random,
) -> int:
    """Record each attempt's outcome: delivered, retried later (backoff) or failed for good.
    Returns how many were recorded (an attempt whose lease another worker took is not)."""
    now = ctx.clock.now_ms()
    outcomes = []
    for attempt, outcome in results:
        if outcome.delivered:
            status, next_at, delivered_at = "delivered", None, now
        elif attempt.attempt >= policy.max_attempts:
            status, next_at, delivered_at = "failed", None, None
        else:
            status, next_at, delivered_at = (
                "pending",
                now + retry_delay_ms(attempt.attempt, rng),
                None,
            )
        outcomes.append(
            Outcome(
                delivery_id=attempt.delivery_id,
                attempt=attempt.attempt,
                status=status,
                next_attempt_at=next_at,
                status_code=outcome.status_code,
                error=outcome.error,
                delivered_at=delivered_at,
            )
        )
    with ctx.store.write() as uow:
        recorded = uow.deliveries.record(outcomes)
        uow.commit()
    return recorded
