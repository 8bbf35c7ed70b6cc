"""Emulator mode's state and controls (CONTRACT.md 7): reset, faults, the clock, the recorder.

Faults, the recorded requests and the clock's offset live in this process's memory, which is
why emulator mode serves with exactly one worker (`keyturn serve --emulator` refuses more):
with several, each would hold its own and a test would see whichever answered. Everything
else a test sees is in the database, and `reset` empties all of it in one transaction.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from keyturn.domain.accounts import TokenKind
from keyturn.domain.emulator import (
    RECORDED_REQUESTS,
    EmulatorClock,
    Fault,
    FaultSpec,
    RecordedRequest,
    glob_pattern,
)
from keyturn.domain.errors import NotFound
from keyturn.domain.ids import IdSource
from keyturn.services.context import ServiceContext


class FaultBook:
    """The faults in force, in the order they were added; the first that fires applies."""

    def __init__(self, ids: IdSource, rng: random.Random | None = None) -> None:
        self._ids = ids
        # Whether a fault with a probability fires: seeded in tests, else the OS's randomness.
        self._rng = rng if rng is not None else random.SystemRandom()
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()

    def add(self, spec: FaultSpec) -> Fault:
        fault = Fault(
            id=self._ids.new("flt"),
            spec=spec,
            pattern=glob_pattern(spec.path),
            remaining=spec.count,
        )
        with self._lock:
            self._faults[fault.id] = fault
        return fault

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults.values())

    def remove(self, fault_id: str) -> None:
        with self._lock:
            if self._faults.pop(fault_id, None) is None:
                raise NotFound(f"faultId: no fault {fault_id!r}")

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def draw(self, method: str, path: str) -> Fault | None:
        """The fault this request meets, counted as fired; None when none fires."""
        with self._lock:
            for fault in self._faults.values():
                if not fault.matches(method, path):
                    continue
                if fault.spec.probability < 1 and self._rng.random() >= fault.spec.probability:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                fault.fired += 1
                return fault
        return None


class RequestLog:
    """The last `RECORDED_REQUESTS` requests, newest first."""

    def __init__(self, capacity: int = RECORDED_REQUESTS) -> None:
        self._items: deque[RecordedRequest] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, request: RecordedRequest) -> None:
        with self._lock:
            self._items.appendleft(request)

    def newest_first(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class Emulator:
    """What emulator mode adds to a server: its clock (the context's), faults, the recorder."""

    clock: EmulatorClock
    faults: FaultBook
    requests: RequestLog
    ids: IdSource


def new_emulator(ids: IdSource, *, rng: random.Random | None = None) -> Emulator:
    return Emulator(
        clock=EmulatorClock(), faults=FaultBook(ids, rng), requests=RequestLog(), ids=ids
    )


def reset(ctx: ServiceContext, emulator: Emulator) -> None:
    """Empty every table (the schema's version and the signing key aside), the faults and the
    recorder; the clock goes back to the wall clock."""
    with ctx.store.write() as uow:
        uow.emulator.delete_every_row()
        uow.commit()
    emulator.faults.clear()
    emulator.requests.clear()
    emulator.clock.reset()


@dataclass(frozen=True, slots=True)
class RequestView:
    request: RecordedRequest
    token_kind: TokenKind | None


def recorded_requests(
    ctx: ServiceContext, emulator: Emulator, *, limit: int, path_glob: str | None
) -> list[RequestView]:
    """The newest `limit` recorded requests (of paths matching the glob), with the kind of
    token each carried (None: none, or one keyturn does not know)."""
    pattern = glob_pattern(path_glob) if path_glob is not None else None
    chosen = [
        item
        for item in emulator.requests.newest_first()
        if pattern is None or pattern.fullmatch(item.path)
    ][:limit]
    kinds = _token_kinds(ctx, {item.token_digest for item in chosen if item.token_digest})
    return [
        RequestView(
            request=item,
            token_kind=kinds.get(item.token_digest) if item.token_digest else None,
        )
        for item in chosen
    ]


def _token_kinds(ctx: ServiceContext, digests: Iterable[str]) -> dict[str, TokenKind]:
    wanted = set(digests)
    kinds = {digest: TokenKind.ADMIN for digest in wanted if ctx.authenticator.is_admin(digest)}
    rest = wanted - kinds.keys()
    if rest:
        with ctx.store.read() as uow:
            kinds.update(uow.accounts.token_kinds(rest))
    return kinds
