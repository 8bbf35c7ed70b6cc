"""The outbox (CONTRACT.md 6.1): events written in the transaction of their change, with one
delivery row per destination, and the feed that reads them back.

Services `emit` while they work; the unit of work `flush`es just before it commits, so the
events and their deliveries commit with the change or not at all. Flushing numbers the events
(`seq`) under a lock held until the commit (PostgreSQL; a SQLite writer is alone anyway): `seq`
order is commit order, so a reader that has seen event n has seen every event before it, and
the feed's cursor never skips one. The lock is taken last, just before COMMIT, so writers
share it only for their final statements.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from keyturn.domain.clock import Clock
from keyturn.domain.event_payloads import NewEvent, event_body
from keyturn.domain.ids import IdSource
from keyturn.domain.webhooks import integration_receives, webhook_receives
from keyturn.storage.dialect import advisory_lock_id
from keyturn.storage.driver import DriverStatement
from keyturn.storage.tables import (
    deliveries,
    event_installations,
    events,
    installations,
    integrations,
    webhooks,
)

# The lock that numbers events ("ktev"): one number every keyturn process agrees on.
EVENT_NUMBERING_LOCK = 0x6B746576

# The flush's statements, built once and run on the driver's connection (storage/driver.py).
# The events go in one call without RETURNING, numbered by the database in the order given;
# each link and delivery finds its event's number by the event's id in its own insert
# (docs/performance.md, "Fifth pass": no numbers read back, no rows matched to them).
EVENT_ROW = ("id", "type", "team_id", "project_id", "created_at", "body")
INSERT_EVENTS = DriverStatement(insert(events), column_keys=EVENT_ROW)
_seq_of_event = select(events.c.seq).where(events.c.id == bindparam("event_id")).scalar_subquery()
INSERT_EVENT_INSTALLATION = DriverStatement(
    insert(event_installations).values(
        event_seq=_seq_of_event, installation_id=bindparam("installation_id")
    )
)
DELIVERY_ROW = (
    "id",
    "destination_kind",
    "destination_id",
    "url",
    "status",
    "attempts",
    "next_attempt_at",
    "last_status_code",
    "last_error",
    "delivered_at",
    "created_at",
)
INSERT_DELIVERY = DriverStatement(
    insert(deliveries).values(event_seq=_seq_of_event), column_keys=DELIVERY_ROW
)


@functools.lru_cache(maxsize=16)
def _installations_of_events(count: int) -> DriverStatement:
    """`count` installations (`id0`, `id1`, ...) with their integration's webhook and their
    team's webhooks, in one read: a row per installation and team webhook. One statement per
    count, since the driver takes no expanding IN; a flush's events most often involve one."""
    return DriverStatement(
        select(
            installations.c.id,
            installations.c.team_id,
            installations.c.integration_id,
            integrations.c.webhook_url,
            integrations.c.events,
            webhooks.c.id,
            webhooks.c.url,
            webhooks.c.events,
            webhooks.c.project_ids,
        )
        .join(integrations, integrations.c.id == installations.c.integration_id)
        .outerjoin(webhooks, webhooks.c.team_id == installations.c.team_id)
        .where(installations.c.id.in_([bindparam(f"id{n}") for n in range(count)]))
    )


# A team's webhooks, for events that name a team and none of whose installations is in it.
TEAM_WEBHOOKS = DriverStatement(
    select(webhooks.c.id, webhooks.c.url, webhooks.c.events, webhooks.c.project_ids).where(
        webhooks.c.team_id == bindparam("team_id")
    )
)
# (id, url, subscribed types, project ids or None): a team webhook as the flush reads it.
Hook = tuple[str, str, Sequence[str], Sequence[str] | None]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    id: str
    team_id: str
    installation_ids: tuple[str, ...]
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Installation:
    team_id: str
    integration_id: str
    # The integration's webhook (6.2): where it wants events, and the keyturn types it asked for.
    webhook_url: str | None
    opted_in: tuple[str, ...]


class EventRepository:
    def __init__(self, connection: Connection, *, clock: Clock, ids: IdSource) -> None:
        self._connection = connection
        self._clock = clock
        self._ids = ids
        self._pending: list[NewEvent] = []

    def emit(self, event: NewEvent) -> None:
        """Write `event` with this unit's commit (and not at all if it rolls back)."""
        self._pending.append(event)

    def flush(self) -> None:
        """Insert the emitted events and their deliveries; the unit of work calls this last."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        hooks: dict[str, list[Hook]] = {}
        found = self._installations({i for event in pending for i in event.installation_ids}, hooks)
        now = self._clock.now_ms()
        rows: list[dict[str, Any]] = []
        destinations: list[list[tuple[str, str, str]]] = []
        for event in pending:
            team_id = event.team_id or found[event.installation_ids[0]].team_id
            event_id = self._ids.new("evt")
            body = event_body(event, event_id=event_id, created_at=now, team_id=team_id)
            rows.append(
                {
                    "id": event_id,
                    "type": event.type,
                    "team_id": team_id,
                    "project_id": event.project_id,
                    "created_at": now,
                    "body": body,
                }
            )
            if team_id not in hooks:
                hooks[team_id] = [
                    (hook_id, url, types, project_ids)
                    for hook_id, url, types, project_ids in TEAM_WEBHOOKS.rows(
                        self._connection, {"team_id": team_id}
                    )
                ]
            destinations.append(
                [
                    ("webhook", hook_id, url)
                    for hook_id, url, types, project_ids in hooks[team_id]
                    if webhook_receives(event.type, types, project_ids, event.project_id)
                ]
                + _integration_destinations(event, found)
            )
        # Numbered by the insert, under the lock, in the order emitted: `seq` order is commit
        # order.
        advisory_lock_id(self._connection, EVENT_NUMBERING_LOCK)
        INSERT_EVENTS.run_many(self._connection, rows)
        links = [
            {"event_id": row["id"], "installation_id": installation_id}
            for row, event in zip(rows, pending, strict=True)
            for installation_id in event.installation_ids
        ]
        INSERT_EVENT_INSTALLATION.run_many(self._connection, links)
        due = [
            self._delivery(row["id"], kind, destination, url, now)
            for row, targets in zip(rows, destinations, strict=True)
            for kind, destination, url in targets
        ]
        INSERT_DELIVERY.run_many(self._connection, due)

    def _delivery(
        self, event_id: str, kind: str, destination: str, url: str, now: int
    ) -> dict[str, Any]:
        return {
            "id": self._ids.new("dlv"),
            "event_id": event_id,
            "destination_kind": kind,
            "destination_id": destination,
            "url": url,
            "status": "pending",
            "attempts": 0,
            # Due at once: a running worker sends it within its poll interval.
            "next_attempt_at": now,
            "last_status_code": None,
            "last_error": None,
            "delivered_at": None,
            "created_at": now,
        }

    def _installations(
        self, installation_ids: Iterable[str], hooks: dict[str, list[Hook]]
    ) -> dict[str, _Installation]:
        """The installations by id, adding each one's team webhooks to `hooks` by team."""
        wanted = sorted(installation_ids)
        if not wanted:
            return {}
        found: dict[str, _Installation] = {}
        seen: set[tuple[str, str]] = set()
        for (
            installation_id,
            team_id,
            integration_id,
            webhook_url,
            opted_in,
            hook_id,
            hook_url,
            hook_types,
            hook_projects,
        ) in _installations_of_events(len(wanted)).rows(
            self._connection,
            {f"id{n}": installation_id for n, installation_id in enumerate(wanted)},
        ):
            found[installation_id] = _Installation(
                team_id, integration_id, webhook_url, tuple(opted_in or ())
            )
            team_hooks = hooks.setdefault(team_id, [])
            # Two installations of one team bring its webhooks twice: each is kept once.
            if hook_id is not None and (team_id, hook_id) not in seen:
                seen.add((team_id, hook_id))
                team_hooks.append((hook_id, hook_url, hook_types, hook_projects))
        return found

    # The feed (6.4)

    def page(
        self,
        *,
        team_id: str | None = None,
        installation_id: str | None = None,
        after_seq: int = 0,
        limit: int,
        event_type: str | None = None,
    ) -> list[dict[str, Any]]:
        """Up to `limit` events after `after_seq`, oldest first, of the team or installation."""
        query = select(events.c.body).where(events.c.seq > after_seq)
        if team_id is not None:
            query = query.where(events.c.team_id == team_id)
        if installation_id is not None:
            query = query.where(
                events.c.seq.in_(
                    select(event_installations.c.event_seq).where(
                        event_installations.c.installation_id == installation_id,
                        event_installations.c.event_seq > after_seq,
                    )
                )
            )
        if event_type is not None:
            query = query.where(events.c.type == event_type)
        rows = self._connection.execute(query.order_by(events.c.seq).limit(limit)).scalars()
        return list(rows)

    def newest_of_team(
        self, team_id: str, *, before_seq: int | None, limit: int, event_type: str | None
    ) -> list[dict[str, Any]]:
        """Up to `limit` of the team's events before `before_seq` (all when None), newest
        first: the dashboard's feed, read backwards along `ix_events_team_id_seq`."""
        query = select(events.c.body).where(events.c.team_id == team_id)
        if before_seq is not None:
            query = query.where(events.c.seq < before_seq)
        if event_type is not None:
            query = query.where(events.c.type == event_type)
        rows = self._connection.execute(query.order_by(events.c.seq.desc()).limit(limit))
        return list(rows.scalars())

    def find(self, event_id: str) -> StoredEvent | None:
        row = self._connection.execute(select(events).where(events.c.id == event_id)).first()
        if row is None:
            return None
        linked = self._connection.execute(
            select(event_installations.c.installation_id).where(
                event_installations.c.event_seq == row.seq
            )
        ).scalars()
        return StoredEvent(
            seq=row.seq,
            id=row.id,
            team_id=row.team_id,
            installation_ids=tuple(linked),
            body=row.body,
        )


def _integration_destinations(
    event: NewEvent, found: dict[str, _Installation]
) -> list[tuple[str, str, str]]:
    """The integrations with a webhook that get `event` (6.2), each once, however many of its
    installations the event involves."""
    receivers = {
        found[i].integration_id: found[i]
        for i in event.installation_ids
        if i in found and found[i].webhook_url is not None
    }
    return [
        ("integration", integration_id, installation.webhook_url)
        for integration_id, installation in receivers.items()
        if installation.webhook_url is not None
        and integration_receives(event.type, installation.opted_in)
    ]
