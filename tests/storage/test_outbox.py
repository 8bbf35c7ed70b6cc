"""The outbox's numbering: events are numbered in commit order, and a write unit that reads one
snapshot (REPEATABLE READ on PostgreSQL, as a deployment's is) still numbers its events after
those committed since its snapshot began."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from keyturn.app import Runtime
from keyturn.domain.event_payloads import NewEvent, project_event
from keyturn.domain.events import PROJECT_CREATED
from keyturn.storage.tables import events
from tests.conftest import Partner


def created(team_id: str, name: str) -> NewEvent:
    return project_event(PROJECT_CREATED, team_id=team_id, user_id=None, project_id=name, name=name)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_snapshot_unit_numbers_its_event_after_one_committed_during_its_snapshot(
    runtime: Runtime, partner: Partner
) -> None:
    store = runtime.store
    with store.write(snapshot=True) as early:
        # The snapshot begins with the unit's first query.
        assert early.accounts.team(partner.team_id) is not None
        with store.write() as late:
            late.events.emit(created(partner.team_id, "late"))
            late.commit()
        early.events.emit(created(partner.team_id, "early"))
        early.commit()
    with store.engine.connect() as connection:
        rows = connection.execute(select(events.c.seq, events.c.body).order_by(events.c.seq)).all()
    assert [row.body["payload"]["project"]["name"] for row in rows] == ["late", "early"]
