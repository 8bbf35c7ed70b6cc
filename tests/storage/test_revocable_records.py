"""A value's revocable record is written once: the database refuses a second one, on the
driver's connection as through SQLAlchemy, and the unit of work answers it as a conflict."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from keyturn.app import Runtime
from keyturn.domain.errors import Conflict
from keyturn.domain.ledger import ValueSpan
from keyturn.storage.tables import revocable_values
from tests.conftest import Partner


def test_a_second_record_of_an_announced_value_is_a_conflict_and_keeps_the_first(
    runtime: Runtime, partner: Partner
) -> None:
    partner.import_resource(secrets=[{"name": "URL", "value": "one"}])
    status, _ = partner.put_secrets({"secrets": [{"name": "URL", "value": "two"}]})
    assert status == 201
    store = runtime.store
    with store.read() as uow:
        resource = uow.resources.live(partner.installation_id, "db1")
    assert resource is not None
    again = ValueSpan(
        name="URL", from_version=1, to_version=1, superseded_at=None, expire_after_ms=None
    )
    with pytest.raises(Conflict), store.write() as uow:
        uow.ledger.announce(resource.internal_id, [again], at=store.clock.now_ms())
    with store.engine.connect() as connection:
        records = connection.execute(
            select(revocable_values.c.name, revocable_values.c.from_version, func.count())
            .where(revocable_values.c.resource_id == resource.internal_id)
            .group_by(revocable_values.c.name, revocable_values.c.from_version)
        ).all()
    assert [tuple(row) for row in records] == [("URL", 1, 1)]
