"""Id lists for `IN (...)` in batches: a statement binds at most 65,535 parameters on
PostgreSQL (fewer on some SQLite builds), and a resource may have more connected projects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

BATCH_SIZE = 5_000
# SQLite refuses expressions nested deeper than 1,000: an `OR` of this many terms stays clear.
MAX_OR_TERMS = 200


def batches(values: Iterable[str]) -> Iterator[list[str]]:
    """The distinct values, sorted, in lists of at most `BATCH_SIZE`."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), BATCH_SIZE):
        yield ordered[start : start + BATCH_SIZE]
