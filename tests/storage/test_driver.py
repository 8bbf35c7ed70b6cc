"""Statements run on the driver's connection (storage/driver.py) answer as SQLAlchemy would:
the same rows, the same errors, the same recovery from a dead connection."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    Engine,
    Float,
    Numeric,
    bindparam,
    cast,
    event,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from keyturn.storage.driver import DriverStatement
from keyturn.storage.engine import create_database_engine
from keyturn.storage.tables import integrations, teams

TEAM = {"id": "team_driver", "slug": "driver", "name": "Driver", "created_at": 1}
INTEGRATION: dict[str, Any] = {
    "id": "int_driver",
    "slug": "driver-db",
    "name": "Driver DB",
    "webhook_url": None,
    # A JSON column: written and read through its bind and result processors.
    "events": ["resource.secrets.updated", "deployment.created"],
    "created_at": 2,
}
INTEGRATION_BY_ID = DriverStatement(
    select(
        integrations.c.id, integrations.c.slug, integrations.c.events, integrations.c.created_at
    ).where(integrations.c.id == bindparam("id"))
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    yield engine
    engine.dispose()


def seed(engine: Engine) -> None:
    with engine.begin() as connection:
        DriverStatement(insert(teams), column_keys=list(TEAM)).run(connection, TEAM)
        columns = list(INTEGRATION)
        DriverStatement(insert(integrations), column_keys=columns).run(connection, INTEGRATION)


def test_rows_equal_what_sqlalchemy_returns_json_and_integers_included(engine: Engine) -> None:
    seed(engine)
    with engine.connect() as connection:
        through_sqlalchemy = [
            tuple(row)
            for row in connection.execute(INTEGRATION_BY_ID.statement, {"id": "int_driver"})
        ]
        through_driver = INTEGRATION_BY_ID.rows(connection, {"id": "int_driver"})
        missing = INTEGRATION_BY_ID.first(connection, {"id": "int_missing"})
    assert through_driver == through_sqlalchemy
    assert through_driver == [("int_driver", "driver-db", INTEGRATION["events"], 2)]
    assert missing is None


def test_numeric_columns_read_as_sqlalchemy_reads_them(engine: Engine) -> None:
    """PostgreSQL's float and numeric processors choose by the column's type code, which only
    an execution gives (a Float column once raised 'Unknown PG numeric type')."""
    numbers = DriverStatement(
        select(
            cast(literal(2.5), Float).label("ratio"),
            cast(literal(7), Numeric(10, 2)).label("amount"),
            literal(3).label("count"),
        )
    )
    with engine.connect() as connection:
        expected = [tuple(row) for row in connection.execute(numbers.statement)]
        first = numbers.rows(connection, {})
        again = numbers.rows(connection, {})
    assert first == again == expected
    assert first[0][0] == 2.5
    assert isinstance(first[0][0], float)
    assert first[0][1] == Decimal("7")


def test_values_bound_in_the_statement_itself_are_used(engine: Engine) -> None:
    seed(engine)
    literal = DriverStatement(select(teams.c.slug).where(teams.c.created_at == 1))
    with engine.connect() as connection:
        assert literal.rows(connection, {}) == [("driver",)]


def test_run_counts_changed_rows_and_run_many_inserts_each_parameter_set(engine: Engine) -> None:
    seed(engine)
    rename = DriverStatement(
        update(teams).where(teams.c.id == bindparam("team")).values(name=bindparam("new_name"))
    )
    add_team = DriverStatement(insert(teams), column_keys=list(TEAM))
    with engine.begin() as connection:
        assert rename.run(connection, {"team": "team_driver", "new_name": "Renamed"}) == 1
        assert rename.run(connection, {"team": "team_missing", "new_name": "x"}) == 0
        add_team.run_many(
            connection,
            [{**TEAM, "id": f"team_{n}", "slug": f"driver-{n}"} for n in range(3)],
        )
    with engine.connect() as connection:
        names = connection.execute(select(teams.c.slug, teams.c.name).order_by(teams.c.slug))
        assert [tuple(row) for row in names] == [
            ("driver", "Renamed"),
            ("driver-0", "Driver"),
            ("driver-1", "Driver"),
            ("driver-2", "Driver"),
        ]


def test_one_name_a_name_bound_twice_and_json_binders_each_take_their_place(
    engine: Engine,
) -> None:
    """Parameters are picked by position (one name; a name in two places; a JSON column's
    binder among plain columns in a batch) and read back as SQLAlchemy writes them."""
    seed(engine)
    by_slug = DriverStatement(select(teams.c.id).where(teams.c.slug == bindparam("slug")))
    by_id_or_slug = DriverStatement(
        select(teams.c.id).where(
            (teams.c.id == bindparam("either")) | (teams.c.slug == bindparam("either"))
        )
    )
    add_integration = DriverStatement(insert(integrations), column_keys=list(INTEGRATION))
    added = [
        {
            **INTEGRATION,
            "id": f"int_{n}",
            "slug": f"driver-db-{n}",
            # Non-ASCII text and a nested shape, through the JSON column's serializer.
            "events": [f"évènement-{n}", {"n": n, "nested": [n, None, True]}],
        }
        for n in range(3)
    ]
    with engine.begin() as connection:
        add_integration.run_many(connection, added)
    with engine.connect() as connection:
        assert by_slug.rows(connection, {"slug": "driver"}) == [("team_driver",)]
        assert by_id_or_slug.rows(connection, {"either": "team_driver"}) == [("team_driver",)]
        assert by_id_or_slug.rows(connection, {"either": "driver"}) == [("team_driver",)]
        assert by_id_or_slug.rows(connection, {"either": "nobody"}) == []
        read = [INTEGRATION_BY_ID.first(connection, {"id": f"int_{n}"}) for n in range(3)]
    assert read == [(row["id"], row["slug"], row["events"], 2) for row in added]


def test_a_driver_error_is_sqlalchemys_error_without_the_parameters(engine: Engine) -> None:
    seed(engine)
    add_team = DriverStatement(insert(teams), column_keys=list(TEAM))
    secret_looking = {**TEAM, "id": "team_other", "name": "value-that-must-not-show"}
    with engine.connect() as connection, pytest.raises(IntegrityError) as raised:
        add_team.run(connection, secret_looking)  # the slug "driver" is taken
    assert "value-that-must-not-show" not in str(raised.value)
    assert "hidden" in str(raised.value).lower()


def test_after_a_driver_error_the_connection_answers_its_next_statements(engine: Engine) -> None:
    """The failed statement's cursor is closed; the next ones (PostgreSQL keeps one cursor per
    connection) run on a new one, in this checkout and the next."""
    seed(engine)
    add_team = DriverStatement(insert(teams), column_keys=list(TEAM))
    expected = [("int_driver", "driver-db", INTEGRATION["events"], 2)]
    with engine.connect() as connection:
        assert INTEGRATION_BY_ID.rows(connection, {"id": "int_driver"}) == expected
        with pytest.raises(IntegrityError):
            add_team.run(connection, {**TEAM, "id": "team_other"})  # the slug is taken
        connection.rollback()
        assert INTEGRATION_BY_ID.rows(connection, {"id": "int_driver"}) == expected
        assert INTEGRATION_BY_ID.first(connection, {"id": "int_missing"}) is None
    with engine.connect() as connection:
        assert INTEGRATION_BY_ID.rows(connection, {"id": "int_driver"}) == expected


def test_an_expanding_in_is_refused_when_first_run(engine: Engine) -> None:
    statement = DriverStatement(
        select(teams.c.id).where(teams.c.id.in_(bindparam("ids", expanding=True)))
    )
    with engine.connect() as connection, pytest.raises(ValueError, match="expanding IN"):
        statement.rows(connection, {"ids": ["a"]})


def test_with_a_cursor_listener_attached_the_statement_goes_through_sqlalchemy(
    engine: Engine,
) -> None:
    """Failure-injecting tests listen on the engine: they must see these statements too."""
    seed(engine)
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(engine, "after_cursor_execute", record)
    try:
        with engine.connect() as connection:
            rows = INTEGRATION_BY_ID.rows(connection, {"id": "int_driver"})
    finally:
        event.remove(engine, "after_cursor_execute", record)
    assert rows == [("int_driver", "driver-db", INTEGRATION["events"], 2)]
    assert [s for s in seen if "FROM integrations" in s]


def test_postgresql_connection_killed_mid_transaction_fails_once_and_the_pool_recovers(
    postgres: Any,
) -> None:
    """As through `Connection.execute`: the error says the connection was invalidated, and
    the pool's other connections, dead with it, are replaced instead of failing in turn."""
    postgres.create_database("driver_kill")
    engine = create_database_engine(postgres.url("driver_kill"))
    try:
        lookup = DriverStatement(select(text("1 AS one")).where(text("1 = :one")))
        held = [engine.connect() for _ in range(3)]
        pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() for c in held]
        for connection in held:
            connection.rollback()
            connection.close()
        killing = create_database_engine(postgres.url("driver_kill"))
        with killing.connect() as killer:
            for pid in pids:
                killer.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        killing.dispose()
        with engine.connect() as connection, pytest.raises(OperationalError) as raised:
            lookup.rows(connection, {"one": 1})
        assert raised.value.connection_invalidated
        for _ in range(3):
            with engine.connect() as connection:
                assert lookup.rows(connection, {"one": 1}) == [(1,)]
    finally:
        engine.dispose()
        postgres.drop_database("driver_kill", missing_ok=True)
