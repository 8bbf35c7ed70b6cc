"""The outbox's numbering: events are numbered in commit order, and a write unit that reads one
snapshot (REPEATABLE READ on PostgreSQL, as a deployment's is) still numbers its events after
those committed since its snapshot began; and its destinations: each team webhook once per
event, however many of the team's installations the event involves."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from keyturn.app import Runtime
from keyturn.domain.event_payloads import Involved, NewEvent, project_event
from keyturn.domain.events import PROJECT_CREATED, SECRETS_UPDATED
from keyturn.storage.repositories.events import EVENT_NUMBERING_LOCK
from keyturn.storage.tables import deliveries, event_installations, events
from tests.conftest import Partner, admin_headers


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


def secrets_event(involved: tuple[Involved, ...]) -> NewEvent:
    return NewEvent(type=SECRETS_UPDATED, team_id=None, fields={}, involved=involved)


def test_an_event_of_two_installations_of_one_team_is_delivered_once_per_team_webhook(
    runtime: Runtime, partner: Partner
) -> None:
    other = seed_partner_integration(partner, "other")
    store = runtime.store
    with store.write() as uow:
        first, _ = uow.webhooks.add(
            partner.team_id, "https://a.example/hook", [SECRETS_UPDATED], None
        )
        second, _ = uow.webhooks.add(
            partner.team_id, "https://b.example/hook", [SECRETS_UPDATED], None
        )
        uow.commit()
    with store.write() as uow:
        uow.events.emit(secrets_event((Involved(partner.installation_id, "db1"),)))
        uow.events.emit(
            secrets_event((Involved(partner.installation_id, "db1"), Involved(other, "db2")))
        )
        uow.commit()
    with store.engine.connect() as connection:
        numbered = connection.execute(select(events.c.seq).order_by(events.c.seq)).scalars().all()
        sent = connection.execute(select(deliveries.c.event_seq, deliveries.c.destination_id)).all()
        linked = connection.execute(
            select(event_installations.c.event_seq, event_installations.c.installation_id)
        ).all()
    assert len(numbered) == 2
    assert sorted(sent) == sorted((seq, hook.id) for seq in numbered for hook in (first, second))
    assert sorted(linked) == sorted(
        [
            (numbered[0], partner.installation_id),
            (numbered[1], partner.installation_id),
            (numbered[1], other),
        ]
    )


def seed_partner_integration(partner: Partner, slug: str) -> str:
    """A second integration installed in the partner's team; its installation's id."""
    client = partner.client
    created = client.post(
        "/v1/admin/integrations",
        json={"slug": slug, "products": [{"slug": "kv"}]},
        headers=admin_headers(),
    )
    assert created.status_code == 201, created.text
    installed = client.post(
        "/v1/admin/installations",
        json={"teamId": partner.team_id, "integration": slug},
        headers=admin_headers(),
    )
    assert installed.status_code == 201, installed.text
    installation_id: str = installed.json()["id"]
    return installation_id


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_numbering_lock_is_held_from_the_flush_until_the_commit(
    runtime: Runtime, partner: Partner
) -> None:
    store = runtime.store

    def lock_is_free() -> bool:
        with store.engine.connect() as other:
            free = other.execute(
                text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": EVENT_NUMBERING_LOCK}
            ).scalar_one()
            other.rollback()
        return bool(free)

    with store.write() as uow:
        uow.events.emit(created(partner.team_id, "held"))
        uow.events.flush()
        assert not lock_is_free()
        uow.commit()
    assert lock_is_free()
