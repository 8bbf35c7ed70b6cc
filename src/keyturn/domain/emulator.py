"""The emulator's rules (CONTRACT.md 7), without I/O: its clock, path globs, faults and the
shape of a recorded request.

The emulator's clock is the wall clock plus an offset that only grows (`advance`), so that a
test moves keyturn's time forward for every time-based rule at once and never sees it run
backwards; only a reset puts the offset back to 0. A path glob's `*` matches any characters,
`/` included; every other character stands for itself (no `?` or `[...]` classes, so a path
never has to be escaped).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from keyturn.domain.clock import Clock, SystemClock

# What a fault or a recorder query may say about a request's method.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# How many requests the recorder keeps, newest first.
RECORDED_REQUESTS = 1000
# A 429 without a body of its own waits this long in `Retry-After` (seconds).
DEFAULT_RETRY_AFTER_S = 1
# The `total` of Vercel's rate-limit answer: the emulator has no real limit, so it names one.
RATE_LIMIT_TOTAL = 100


class EmulatorClock:
    """The wall clock plus an offset that only grows; thread-safe (routes run in threads)."""

    def __init__(self, wall: Clock | None = None) -> None:
        self._wall = wall if wall is not None else SystemClock()
        self._offset_ms = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EmulatorClock(offset_ms={self._offset_ms})"

    def now_ms(self) -> int:
        return self._wall.now_ms() + self._offset_ms

    @property
    def offset_ms(self) -> int:
        return self._offset_ms

    def advance(self, ms: int) -> int:
        """Move forward by `ms` (not negative); returns the new time."""
        if ms < 0:
            raise ValueError("the emulator's clock only moves forward")
        with self._lock:
            self._offset_ms += ms
        return self.now_ms()

    def reset(self) -> None:
        with self._lock:
            self._offset_ms = 0


def glob_pattern(glob: str) -> re.Pattern[str]:
    """A path glob as a regular expression: `*` is any characters, `/` included."""
    return re.compile(".*".join(re.escape(part) for part in glob.split("*")), re.DOTALL)


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """What `POST /v1/admin/faults` asked for; `status` None means latency only."""

    path: str
    method: str | None = None
    status: int | None = None
    body: Any = None
    latency_ms: int = 0
    count: int | None = None
    probability: float = 1.0
    retry_after_s: int = DEFAULT_RETRY_AFTER_S


@dataclass(slots=True)
class Fault:
    id: str
    spec: FaultSpec
    pattern: re.Pattern[str] = field(repr=False)
    # How many more times it fires; None: every time.
    remaining: int | None = None
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.remaining == 0:
            return False
        if self.spec.method is not None and self.spec.method != method.upper():
            return False
        return self.pattern.fullmatch(path) is not None


def rate_limited_body(now_ms: int, retry_after_s: int) -> dict[str, Any]:
    """Vercel's 429 body: the limit is spent and resets `retry_after_s` from now."""
    reset_ms = now_ms + retry_after_s * 1000
    return {
        "error": {
            "code": "rate_limited",
            "message": f"Rate limit exceeded; try again in {retry_after_s} seconds",
            "limit": {
                "remaining": 0,
                "reset": reset_ms // 1000,
                "resetMs": reset_ms,
                "total": RATE_LIMIT_TOTAL,
            },
        }
    }


def rate_limit_headers(now_ms: int, retry_after_s: int) -> dict[str, str]:
    """The headers Vercel sends with a 429: `Retry-After` and `X-RateLimit-*`."""
    return {
        "Retry-After": str(retry_after_s),
        "X-RateLimit-Limit": str(RATE_LIMIT_TOTAL),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str((now_ms + retry_after_s * 1000) // 1000),
    }


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the recorder keeps it: never a header value (but the idempotency key,
    which is not a secret), a body or a token; `token_digest` stays in memory to tell the
    token's kind when the recorder is read."""

    id: str
    at: int
    method: str
    path: str
    query: str
    status: int
    duration_ms: int
    token_digest: str | None = field(repr=False)
    idempotency_key: str | None
