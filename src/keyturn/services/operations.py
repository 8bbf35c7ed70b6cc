"""Operational checks: is this process ready to serve (CONTRACT.md 4)?

Ready means the database answers and the key ring holds every key the stored ciphertexts name.
The key check counts ciphertexts by key id, a scan of every sealed column, so its answer is kept
for `KEY_RECHECK_S` seconds; the database ping runs on every probe. The interval matters when
several processes share one PostgreSQL database and one of them starts sealing with a key the
others lack (a rotation with a process not yet restarted): those others turn unready within
that time, instead of answering 500 on every secret they cannot open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from keyturn.storage.unit_of_work import Store

KEY_RECHECK_S = 30.0


@dataclass(frozen=True)
class _KeyCheck:
    at: float
    missing: tuple[bytes, ...]


class Readiness:
    """Answers why the process is not ready, or None when it is."""

    def __init__(
        self,
        store: Store,
        *,
        recheck_after_s: float = KEY_RECHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._recheck_after_s = recheck_after_s
        self._clock = clock
        # Replaced whole, never mutated: concurrent probes (the route runs in a thread pool)
        # at worst both recount.
        self._last: _KeyCheck | None = None

    def problem(self) -> str | None:
        if not self._store.ping():
            return "the database does not answer"
        now = self._clock()
        last = self._last
        if last is None or now - last.at >= self._recheck_after_s:
            in_use = self._store.key_ids_in_use()
            if in_use is None:
                return "the database does not answer"
            held = self._store.keys.key_ids
            last = _KeyCheck(at=now, missing=tuple(sorted(set(in_use) - held)))
            self._last = last
        if last.missing:
            ids = ", ".join(key_id.hex() for key_id in last.missing)
            return f"the data needs key id {ids}, which this server's master keys do not hold"
        return None
