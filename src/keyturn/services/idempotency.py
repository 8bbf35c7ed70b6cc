"""Idempotency-Key (CONTRACT.md 5.6) as use cases: claim a key, keep or drop its answer.

Two ways a keyed write runs, with the same outcome:

* **In the write's own transaction** (the hot secrets PUT): the use case looks the key up
  right after the token and keeps its answer in the transaction that makes the change, so a
  key costs no transaction (and no lock) of its own. Of two requests with one key at once, the
  second learns at that insert that the first took it: its change is rolled back and it
  replays the first's answer (`KeyTakenMeanwhile`, `replay_after_race`). A refusal rolls the
  change back, so its answer is kept
  afterwards (`keep_refusal`), in a transaction of its own: the refusal changed nothing, so a
  same-key request that runs in between cannot cause a second effect either.
* **Around any other write** (`claim`, then `finish`): a transaction claims the key for a lease
  on the clock, the route runs as it would without one, and a last transaction keeps its
  answer or, for an answer that is not kept (401, 403, 429, 5xx), drops the claim. A second
  request meanwhile gets 409; a process that dies leaves a claim that lapses with its lease.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from keyturn.domain.accounts import Principal
from keyturn.domain.errors import Code, Conflict, Unauthorized
from keyturn.domain.idempotency import (
    HEADER,
    LEASE_MS,
    RETENTION_MS,
    KeptResponse,
    check_key,
    is_kept_status,
    purges_expired,
    record_id,
    replay_of,
    scope_of,
)
from keyturn.services.auth import Credentials, identify
from keyturn.services.context import ServiceContext
from keyturn.storage.unit_of_work import UnitOfWork

T = TypeVar("T")


class KeyTakenMeanwhile(Exception):
    """Another request with the key kept its answer while this one ran: roll this one back and
    replay that answer (`replay_after_race`)."""


class Replay(Exception):
    """The key's first request has answered already: answer `response` again."""

    def __init__(self, response: KeptResponse) -> None:
        super().__init__("replay of a kept answer")
        self.response = response


@dataclass(slots=True)
class KeyedRequest:
    """A write that came with an `Idempotency-Key` header, as the HTTP layer saw it.

    `free` is set once the use case found the key free in its transaction: the record's id
    and whether a stale row of it exists; `kept` once it kept the answer there.
    """

    key: str
    method: str
    path: str
    fingerprint: str
    free: tuple[str, bool] | None = None
    kept: bool = False

    def record_id(self, scope: str) -> str:
        return record_id(scope, self.method, self.path, self.key)


@dataclass(frozen=True, slots=True)
class InlineKey(Generic[T]):
    """A key kept in the write's own transaction; `answer` turns the use case's result into
    the answer the route will give (and a replay gives again)."""

    request: KeyedRequest
    answer: Callable[[T], KeptResponse] = field(repr=False)

    def check(self, ctx: ServiceContext, uow: UnitOfWork, principal: Principal) -> None:
        """Right after the token: 400 for a malformed key, `Replay` for a known one, 422 or
        409 for a misused one; otherwise the key is free as of this read (`keep` learns
        whether another request took it since)."""
        scope = scope_of(principal)
        if scope is None:
            return
        check_key(self.request.key)
        found_id = self.request.record_id(scope)
        record = uow.idempotency.find(found_id)
        replay = replay_of(record, self.request.fingerprint, ctx.clock.now_ms())
        if replay is not None:
            raise Replay(replay)
        self.request.free = (found_id, record is not None)

    def keep(self, uow: UnitOfWork, result: T) -> None:
        """Keep the answer to `result` in the use case's transaction, before it commits."""
        if self.request.free is None:
            return
        found_id, stale = self.request.free
        kept = uow.idempotency.keep(
            found_id,
            self.request.fingerprint,
            self.answer(result),
            retention_ms=RETENTION_MS,
            replace=stale,
        )
        if not kept:
            raise KeyTakenMeanwhile()
        if purges_expired(found_id):
            uow.idempotency.purge_expired()
        self.request.kept = True


def replay_after_race(ctx: ServiceContext, request: KeyedRequest) -> KeptResponse:
    """The answer of the request that took the key while this one ran (422 if that one was
    another request)."""
    if request.free is None:
        raise RuntimeError("replay_after_race is for a key `InlineKey.check` found free")
    found_id, _ = request.free
    with ctx.store.read() as uow:
        record = uow.idempotency.find(found_id)
    replay = replay_of(record, request.fingerprint, ctx.clock.now_ms())
    if replay is None:
        # Gone again already (its retention is 24 hours): only a clock moved that far can do it.
        raise Conflict(
            Code.IDEMPOTENCY_KEY_IN_USE, f"{HEADER}: another request with this key ran; retry"
        )
    return replay


def keep_refusal(ctx: ServiceContext, request: KeyedRequest, response: KeptResponse) -> None:
    """Keep the answer of an in-transaction write that was refused (and so rolled back), unless
    the key was taken meanwhile."""
    if request.free is None or request.kept or not is_kept_status(response.status):
        return
    found_id, _ = request.free
    with ctx.store.write() as uow:
        record = uow.idempotency.find_for_update(found_id)
        if record is not None and record.expires_at > ctx.clock.now_ms():
            return
        uow.idempotency.keep(
            found_id,
            request.fingerprint,
            response,
            retention_ms=RETENTION_MS,
            replace=record is not None,
        )
        uow.commit()


@dataclass(frozen=True, slots=True)
class Claim:
    """A key held by a request that is running, until `finish`."""

    record_id: str
    claim: str
    fingerprint: str


def claim(
    ctx: ServiceContext, credentials: Credentials, request: KeyedRequest
) -> Claim | KeptResponse | None:
    """Claim the key before the route runs: a `Claim`, the kept answer to replay, or None when
    the request runs without a key (its token is refused, which the route answers, or it is
    the admin token, which has no scope). 400, 422 and 409 as in `InlineKey.check`."""
    with ctx.store.write() as uow:
        try:
            principal = identify(uow, credentials)
        except Unauthorized:
            return None
        scope = scope_of(principal)
        if scope is None:
            return None
        check_key(request.key)
        found_id = request.record_id(scope)
        record = uow.idempotency.find_for_update(found_id)
        replay = replay_of(record, request.fingerprint, ctx.clock.now_ms())
        if replay is not None:
            return replay
        held = uow.idempotency.claim(
            found_id, request.fingerprint, lease_ms=LEASE_MS, replace=record is not None
        )
        uow.commit()
    return Claim(record_id=found_id, claim=held, fingerprint=request.fingerprint)


def finish(ctx: ServiceContext, held: Claim, response: KeptResponse | None) -> None:
    """Keep the route's answer under the claim, or drop the claim when the answer is not kept
    (None: the route failed without one)."""
    with ctx.store.write() as uow:
        if response is not None and is_kept_status(response.status):
            uow.idempotency.keep_claimed(
                held.record_id,
                held.claim,
                held.fingerprint,
                response,
                retention_ms=RETENTION_MS,
            )
        else:
            uow.idempotency.release(held.record_id, held.claim)
        uow.idempotency.purge_expired()
        uow.commit()
