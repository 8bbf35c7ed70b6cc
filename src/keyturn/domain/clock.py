"""The one source of time: every timestamp and time-based rule asks a `Clock`.

Timestamps on the wire and in storage are integer milliseconds since the epoch. `SystemClock`
is the only place in keyturn that reads the wall clock; tests (and the emulator) hand a
`SettableClock` instead, so that rules such as a retention window or a timeout are exercised by
moving time, not by sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Integer milliseconds since the epoch."""
        ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def __repr__(self) -> str:
        return "SystemClock()"


class SettableClock:
    """A clock that moves only when told: starts at `start_ms` (or the wall clock's now)."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now_ms = SystemClock().now_ms() if start_ms is None else start_ms

    def __repr__(self) -> str:
        return f"SettableClock({self._now_ms})"

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        """Move forward by `ms`; time does not run backwards, so a negative step is refused."""
        if ms < 0:
            raise ValueError("a clock advances by a non-negative number of milliseconds")
        self._now_ms += ms

    def set(self, ms: int) -> None:
        """Jump to `ms`, in either direction (a test arranging a moment, not time passing)."""
        self._now_ms = ms
