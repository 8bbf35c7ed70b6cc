"""Wire shapes of emulator mode's control routes (CONTRACT.md 7): bodies in, answers out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from keyturn.domain.emulator import DEFAULT_RETRY_AFTER_S, FaultSpec
from keyturn.http.wire import WireModel

CLOSED = ConfigDict(extra="forbid")
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# A fault waits at most this long: past it a client has surely given up, and a typo in a test
# (latencyMs: 300000) should not hang its suite.
MAX_LATENCY_MS = 60_000


class FaultIn(WireModel):
    """Body of `POST /v1/admin/faults`."""

    path: str = Field(min_length=1, max_length=2048)
    method: Method | None = None
    status: int | None = Field(default=None, ge=200, le=599)
    # Any JSON value, answered as the fault's body instead of keyturn's.
    body: Any = None
    latencyMs: int | None = Field(default=None, ge=0, le=MAX_LATENCY_MS)
    count: int | None = Field(default=None, ge=1)
    probability: float | None = Field(default=None, gt=0, le=1)
    retryAfterS: int | None = Field(default=None, ge=0, le=86_400)

    def to_domain(self) -> FaultSpec:
        return FaultSpec(
            path=self.path,
            method=self.method,
            status=self.status,
            body=self.body,
            latency_ms=self.latencyMs or 0,
            count=self.count,
            probability=1.0 if self.probability is None else float(self.probability),
            retry_after_s=DEFAULT_RETRY_AFTER_S if self.retryAfterS is None else self.retryAfterS,
        )


class ClockIn(WireModel):
    """Body of `POST /v1/admin/clock`."""

    advanceMs: int = Field(ge=0)


@with_config(CLOSED)
class FaultOut(TypedDict):
    id: str
    path: str
    method: str | None
    status: int | None
    body: Any
    latencyMs: int
    count: int | None
    probability: float
    retryAfterS: int
    # How many more times it fires (null: every time) and how many times it has.
    remaining: int | None
    fired: int


@with_config(CLOSED)
class FaultsOut(TypedDict):
    faults: list[FaultOut]


@with_config(CLOSED)
class ClockOut(TypedDict):
    now: int
    offsetMs: int


@with_config(CLOSED)
class RecordedRequestOut(TypedDict):
    id: str
    at: int
    method: str
    path: str
    query: str
    status: int
    durationMs: int
    tokenKind: Literal["admin", "user", "integration"] | None
    idempotencyKey: str | None


@with_config(CLOSED)
class RecordedRequestsOut(TypedDict):
    requests: list[RecordedRequestOut]
