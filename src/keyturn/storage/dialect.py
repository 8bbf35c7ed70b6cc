"""Where SQLite and PostgreSQL differ inside a transaction; no other module asks which it is.

`engine.py` sets each database up per connection (SQLite's PRAGMAs and `BEGIN IMMEDIATE`,
PostgreSQL's pool). What differs statement by statement lives here:

* **Locks.** A SQLite write transaction holds the whole database from its `BEGIN IMMEDIATE`,
  so writers are already serial and there is nothing to lock. PostgreSQL writers run side by
  side, in several processes: they queue on row locks (`SELECT ... FOR UPDATE`) and, for rows
  that do not exist yet, on transaction-scoped advisory locks.
* **Writer queues.** SQLite writers of one process wait in a FIFO queue before `BEGIN
  IMMEDIATE` (writer_queue.py); PostgreSQL writers need none.
* **Lateral joins.** PostgreSQL can take "the newest k rows of each outer row" as a `LATERAL`
  subquery, one index range each; SQLite has no `LATERAL` (and plans its joins as nested loops
  over the index anyway). The usage ledger's newest ids use it (`supports_lateral`).
* **Snapshots.** A SQLite transaction reads one snapshot. PostgreSQL's default READ COMMITTED
  lets each statement see the commits made since the previous one; a unit that must read one
  moment asks for REPEATABLE READ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Select, Table, text
from sqlalchemy.dialects import postgresql, sqlite

from keyturn.storage.driver import DriverStatement
from keyturn.storage.writer_queue import TicketLock, writer_queue

POSTGRESQL = "postgresql"


def serializes_writers(connection: Connection) -> bool:
    """Whether a write transaction already excludes every other writer (SQLite)."""
    return connection.dialect.name != POSTGRESQL


def lock_rows(connection: Connection, query: Select[Any]) -> None:
    """Take the write lock of the rows `query` selects (PostgreSQL; SQLite is serial)."""
    if not serializes_writers(connection):
        connection.execute(query.with_for_update())


def supports_lateral(connection: Connection) -> bool:
    """Whether the SQL may use a `LATERAL` subquery (PostgreSQL)."""
    return connection.dialect.name == POSTGRESQL


def lock_table(connection: Connection, table: Table) -> None:
    """Hold `table` against every other writer that locks it too, until the transaction ends
    (PostgreSQL; SQLite is serial). Plain reads go on. Unlike a row or advisory lock (a
    query), `LOCK TABLE` takes no snapshot, so a REPEATABLE READ transaction that starts with
    it reads what was committed before it got the lock."""
    if not serializes_writers(connection):
        _table_lock(table.name).run(connection, {})


def advisory_lock(connection: Connection, key: str) -> None:
    """Hold a lock named `key` until the transaction ends (PostgreSQL; SQLite is serial)."""
    if not serializes_writers(connection):
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )


def advisory_locks(connection: Connection, keys: Iterable[str]) -> None:
    """`advisory_lock` for each key, in one statement and one global order (by hash), so two
    transactions locking overlapping sets never wait on each other in a cycle."""
    wanted = sorted(set(keys))
    if wanted and not serializes_writers(connection):
        # PostgreSQL evaluates a volatile target list after the sort, so the locks are taken
        # in hash order.
        connection.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashed) FROM ("
                "SELECT DISTINCT hashtextextended(key, 0) AS hashed "
                "FROM unnest(CAST(:keys AS text[])) AS key) AS hashes ORDER BY hashed"
            ),
            {"keys": wanted},
        )


def advisory_lock_id(connection: Connection, lock_id: int) -> None:
    """`advisory_lock` by a number, for callers that must agree on one without keyturn's code."""
    if not serializes_writers(connection):
        _LOCK_BY_ID.run(connection, {"id": lock_id})


@cache
def _table_lock(name: str) -> DriverStatement:
    # On the driver's connection (driver.py): every deployment create takes it.
    return DriverStatement(text(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE"))


# On the driver's connection (driver.py): the outbox takes it in every emitting write.
_LOCK_BY_ID = DriverStatement(text("SELECT pg_advisory_xact_lock(:id)"))


def insert_unless_present(connection: Connection, table: Table, row: Mapping[str, Any]) -> bool:
    """Insert `row` unless its primary key is taken; whether it was inserted.

    On PostgreSQL a row another transaction is inserting at the same moment counts as taken:
    the statement waits for that transaction to end and inserts only if it rolled back. So two
    writers need no lock between them to learn which one got the key.
    """
    statement = _insert_unless_present(connection.dialect.name == POSTGRESQL, table)
    return connection.execute(statement, row).first() is not None


@cache
def _insert_unless_present(on_postgresql: bool, table: Table) -> Insert:
    # Both dialects spell it `ON CONFLICT DO NOTHING`; built once per table. The inserted key
    # comes back only when the row went in: psycopg's rowcount for it is not reliable (-1).
    builder = postgresql.insert if on_postgresql else sqlite.insert
    return builder(table).on_conflict_do_nothing().returning(*table.primary_key.columns)


def snapshot_engine(engine: Engine) -> Engine:
    """`engine`, set so that every statement of a transaction reads one moment.

    A second engine sharing the pool, not an option set per connection: psycopg would otherwise
    send the isolation level with every `BEGIN`.
    """
    if engine.dialect.name != POSTGRESQL:
        return engine  # a SQLite transaction is a snapshot already
    # READ COMMITTED would let a derived env mix a resource's version number read by one query
    # with secrets committed before the next.
    return engine.execution_options(isolation_level="REPEATABLE READ")


def untransacted_engine(engine: Engine) -> Engine:
    """`engine`, set so that a statement run on its driver's cursor is a transaction of its
    own: no `BEGIN` and `COMMIT` round trips around a read that is one statement.

    SQLite's connections are in the driver's autocommit mode already (engine.py: keyturn begins
    its transactions itself). On PostgreSQL, psycopg's autocommit mode is a setting of the
    connection, made and undone at checkout and checkin without a round trip.
    """
    if engine.dialect.name != POSTGRESQL:
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def process_writer_queue(engine: Engine) -> TicketLock | None:
    """The queue this process's writers wait in before they begin (SQLite); None when the
    database queues its writers itself (PostgreSQL's row locks)."""
    if engine.dialect.name == POSTGRESQL:
        return None
    return writer_queue(str(engine.url.database))


def skip_locked(connection: Connection, query: Select[Any]) -> Select[Any]:
    """`query` locking the rows it selects and passing over rows another transaction holds
    (PostgreSQL's `FOR UPDATE SKIP LOCKED`: workers claiming from one queue never wait on, or
    take, each other's rows); unchanged on SQLite, whose write transaction is alone anyway."""
    if serializes_writers(connection):
        return query
    return query.with_for_update(skip_locked=True)
