"""Master key rotation: which keys the data needs, and re-encrypting it under the current key.

Re-encryption runs in batches, each its own short transaction, so a server sharing the database
keeps serving (on SQLite a batch holds the write lock for milliseconds). It is resumable because
there is nothing to resume: a run selects only ciphertexts another key sealed, so after an
interruption the next run picks up what is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keyturn.storage.sealed_columns import SEALED_COLUMNS
from keyturn.storage.unit_of_work import Store

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class ReencryptResult:
    rewritten: int
    batches: int
    # Ciphertexts still under another key when the run ended: written meanwhile by a process
    # that still seals with an older key, or left by `max_batches`.
    remaining: int


def count_to_reencrypt(store: Store) -> int:
    """How many ciphertexts another key than the ring's primary sealed."""
    with store.read() as unit:
        return unit.ciphertexts.count_not_under(store.keys.primary_id)


def reencrypt(
    store: Store,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int | None = None,
    on_batch: Callable[[int], None] = lambda found: None,
) -> ReencryptResult:
    """Re-seal every ciphertext not under the primary key; `on_batch(rows seen)` per commit."""
    if batch_size < 1:
        raise ValueError(f"the batch size must be at least 1, not {batch_size}")
    rewritten = batches = 0
    for sealed in SEALED_COLUMNS:
        after = None
        while max_batches is None or batches < max_batches:
            with store.write() as unit:
                batch = unit.ciphertexts.reseal_batch(sealed, limit=batch_size, after=after)
                unit.commit()
            if batch.found == 0:
                break
            batches += 1
            rewritten += batch.rewritten
            after = batch.last_key
            on_batch(batch.found)
    return ReencryptResult(
        rewritten=rewritten, batches=batches, remaining=count_to_reencrypt(store)
    )
