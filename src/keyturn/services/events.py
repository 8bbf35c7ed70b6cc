"""The event feed and its deliveries (CONTRACT.md 6.4): what a caller may read of the outbox.

A user token sees its team's events; an integration token the events that involve its
installation. Others' events answer 403, unknown ones 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keyturn.domain.accounts import Principal, TokenKind
from keyturn.domain.errors import BadRequest, FieldError, Forbidden, NotFound
from keyturn.domain.events import EVENT_TYPES
from keyturn.domain.webhooks import Delivery
from keyturn.services.auth import identify
from keyturn.services.context import ServiceContext
from keyturn.services.projects import TeamCaller, check_team_scope
from keyturn.storage.repositories.events import StoredEvent
from keyturn.storage.unit_of_work import UnitOfWork

MAX_PAGE = 100
DEFAULT_PAGE = 50


@dataclass(frozen=True, slots=True)
class FeedQuery:
    after: str | None = None
    limit: int = DEFAULT_PAGE
    event_type: str | None = None


@dataclass(frozen=True, slots=True)
class FeedPage:
    events: list[dict[str, Any]]
    next: str | None


def list_events(ctx: ServiceContext, caller: TeamCaller, query: FeedQuery) -> FeedPage:
    """The caller's events after `query.after`, oldest first; `next` when there are more."""
    if not 1 <= query.limit <= MAX_PAGE:
        message = f"must be between 1 and {MAX_PAGE}"
        raise BadRequest(f"limit: {message}", (FieldError("limit", message),))
    if query.event_type is not None and query.event_type not in EVENT_TYPES:
        message = f"{query.event_type!r} is not an event type keyturn sends"
        raise BadRequest(f"type: {message}", (FieldError("type", message),))
    with ctx.store.read() as uow:
        principal = _principal(uow, caller)
        scope = _scope(principal)
        after_seq = 0
        if query.after is not None:
            cursor = uow.events.find(query.after)
            if cursor is None or not _visible(cursor, principal):
                message = f"names no event of yours ({query.after!r})"
                raise BadRequest(f"after: {message}", (FieldError("after", message),))
            after_seq = cursor.seq
        found = uow.events.page(
            **scope, after_seq=after_seq, limit=query.limit + 1, event_type=query.event_type
        )
    page = found[: query.limit]
    more = len(found) > query.limit
    return FeedPage(events=page, next=page[-1]["id"] if more else None)


def team_events_newest_first(
    ctx: ServiceContext,
    team_id: str,
    *,
    before: str | None,
    limit: int,
    event_type: str | None,
) -> FeedPage:
    """The team's events before the event `before` (from the newest when None), newest first;
    `next` names the last one when older ones remain. An unknown type or another team's
    cursor is not found."""
    if event_type is not None and event_type not in EVENT_TYPES:
        raise NotFound(f"type: {event_type!r} is not an event type keyturn sends")
    with ctx.store.read() as uow:
        before_seq = None
        if before is not None:
            cursor = uow.events.find(before)
            if cursor is None or cursor.team_id != team_id:
                raise NotFound(f"before: names no event of the team ({before!r})")
            before_seq = cursor.seq
        found = uow.events.newest_of_team(
            team_id, before_seq=before_seq, limit=limit + 1, event_type=event_type
        )
    page = found[:limit]
    return FeedPage(events=page, next=page[-1]["id"] if len(found) > limit else None)


def event_deliveries(ctx: ServiceContext, caller: TeamCaller, event_id: str) -> list[Delivery]:
    with ctx.store.read() as uow:
        event = _caller_event(uow, _principal(uow, caller), event_id)
        return uow.deliveries.of_event(event.seq)


def redeliver_event(ctx: ServiceContext, caller: TeamCaller, event_id: str) -> int:
    """Queue the event's failed deliveries again, due now; returns how many."""
    with ctx.store.write() as uow:
        event = _caller_event(uow, _principal(uow, caller), event_id)
        queued = uow.deliveries.requeue_failed(event.seq)
        uow.commit()
    return queued


def _principal(uow: UnitOfWork, caller: TeamCaller) -> Principal:
    """The caller; a user token's `?teamId=` or `?slug=` must name its team (else 403)."""
    principal = identify(uow, caller.credentials)
    if principal.kind is TokenKind.USER and principal.team_id is not None:
        check_team_scope(uow, principal.team_id, caller.team_ref, caller.team_slug)
    return principal


def _scope(principal: Principal) -> dict[str, str]:
    if principal.kind is TokenKind.USER and principal.team_id is not None:
        return {"team_id": principal.team_id}
    if principal.kind is TokenKind.INTEGRATION and principal.installation_id is not None:
        return {"installation_id": principal.installation_id}
    raise Forbidden("events are read with a user or an integration token")


def _visible(event: StoredEvent, principal: Principal) -> bool:
    if principal.kind is TokenKind.USER:
        return event.team_id == principal.team_id
    if principal.kind is TokenKind.INTEGRATION:
        return principal.installation_id in event.installation_ids
    return False


def _caller_event(uow: UnitOfWork, principal: Principal, event_id: str) -> StoredEvent:
    if principal.kind not in (TokenKind.USER, TokenKind.INTEGRATION):
        raise Forbidden("events are read with a user or an integration token")
    event = uow.events.find(event_id)
    if event is None:
        raise NotFound(f"id: no event {event_id!r}")
    if not _visible(event, principal):
        raise Forbidden(f"event {event_id!r} is not one of the token's")
    return event
