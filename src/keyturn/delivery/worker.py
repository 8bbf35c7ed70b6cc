"""The delivery worker: claim due attempts, send them side by side, record what they got.

One loop per process. Each round claims up to `batch_size` due attempts (a transaction of its
own), sends them on `concurrency` threads through one shared HTTP client, and records the
outcomes in one more transaction. A round that found a full batch goes again at once; otherwise
the loop waits `poll_interval_s`, so a new event goes out well within 2 s of its commit. Pacing
uses the wall clock; every rule (what is due, the retry times) uses the services' clock.
Each round also records the rotation requests that timed out with no write to meet them, so
that their `rotation-failed` events are written (and delivered) without waiting for one.
"""

from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from keyturn.domain.errors import ServiceUnavailable
from keyturn.services.context import ServiceContext
from keyturn.services.delivery import (
    AttemptSender,
    DeliveryPolicy,
    claim_attempts,
    record_outcomes,
)
from keyturn.services.rotations import record_timed_out_rotations

logger = logging.getLogger("keyturn.delivery")

POLL_INTERVAL_S = 0.25
# After an unexpected error, how long the loop waits before it tries again.
ERROR_PAUSE_S = 2.0


@dataclass
class DeliveryStats:
    attempts: int = 0
    delivered: int = 0
    rounds: int = 0


class DeliveryWorker:
    def __init__(
        self,
        ctx: ServiceContext,
        sender: AttemptSender,
        *,
        policy: DeliveryPolicy,
        batch_size: int = 64,
        concurrency: int = 16,
        poll_interval_s: float = POLL_INTERVAL_S,
        rng: random.Random | None = None,
    ) -> None:
        self._ctx = ctx
        self._sender = sender
        self._policy = policy
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        # Jitter only, not secrets: a seeded generator makes a test's schedule reproducible.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311  # jitter, not security
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="keyturn-send")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = DeliveryStats()

    def __repr__(self) -> str:
        return f"DeliveryWorker(batch_size={self._batch_size})"

    def run_once(self) -> int:
        """One round: claim, send, record. Returns how many attempts it sent."""
        attempts = claim_attempts(self._ctx, limit=self._batch_size, policy=self._policy)
        if not attempts:
            return 0
        outcomes = list(self._pool.map(self._sender.send, attempts))
        record_outcomes(
            self._ctx,
            list(zip(attempts, outcomes, strict=True)),
            policy=self._policy,
            rng=self._rng,
        )
        self.stats.rounds += 1
        self.stats.attempts += len(attempts)
        self.stats.delivered += sum(outcome.delivered for outcome in outcomes)
        return len(attempts)

    def run(self) -> None:
        """Deliver until `stop()`; a database that is down pauses the loop, never ends it."""
        while not self._stop.is_set():
            try:
                # Rotations past their deadline end here when no write meets them, so their
                # `rotation-failed` event goes out too (services/rotations.py).
                record_timed_out_rotations(self._ctx)
                sent = self.run_once()
            except ServiceUnavailable:
                logger.warning("delivery paused: the database is unavailable")
                self._stop.wait(ERROR_PAUSE_S)
                continue
            except Exception as exc:
                # The type only: an exception's message could quote what it was handling.
                logger.error("delivery round failed: %s", type(exc).__name__)
                self._stop.wait(ERROR_PAUSE_S)
                continue
            if sent < self._batch_size:
                self._stop.wait(self._poll_interval_s)

    def start(self) -> None:
        """Run in a background thread (`keyturn serve`)."""
        self._thread = threading.Thread(target=self.run, name="keyturn-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._pool.shutdown(wait=True)
