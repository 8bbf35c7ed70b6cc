"""Units of work: a database that cannot be reached becomes `ServiceUnavailable` (503),
whether it fails at connect, mid-transaction or for want of a pooled connection; and how
transactions end on each database."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from keyturn.app import Runtime
from keyturn.domain.errors import NotFound, ServiceUnavailable
from keyturn.services.projects import get_project
from keyturn.storage.encryption import KeyRing
from keyturn.storage.engine import create_database_engine
from keyturn.storage.unit_of_work import Store
from tests.postgres_cluster import PostgresCluster


def _keys() -> KeyRing:
    return KeyRing(secrets.token_bytes(32))


def test_sqlite_file_that_cannot_be_opened_is_unavailable_at_enter(tmp_path: Path) -> None:
    store = Store(create_database_engine(f"sqlite:///{tmp_path}/missing/keyturn.db"), _keys())
    with pytest.raises(ServiceUnavailable, match="the database is unavailable"), store.read():
        pass
    assert store.ping() is False


def test_sqlite_write_lock_still_held_after_the_busy_timeout_is_unavailable(
    tmp_path: Path,
) -> None:
    """keyturn's `BEGIN IMMEDIATE` runs on the driver's connection; its 'database is locked'
    still becomes a 503, not a server error, and a plain read still begins."""
    path = tmp_path / "keyturn.db"
    engine = create_database_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _short_wait(dbapi_connection: Any, _record: Any) -> None:
        # After keyturn's own hook: wait 50 ms for the lock, not 30 s.
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    store = Store(engine, _keys())
    with store.read():
        pass  # the file is in WAL mode before the other writer opens it
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process's writer, holding the lock
        with pytest.raises(ServiceUnavailable, match="the database is unavailable"), store.write():
            pass
        with store.read() as uow:
            assert uow.projects is not None
    finally:
        holder.close()
        engine.dispose()


def test_exhausted_pool_is_unavailable_not_a_server_error(database_url: str) -> None:
    # A pool of one connection, taken, and a short wait: the next unit cannot get one.
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    store = Store(engine, _keys())
    try:
        with store.read(), pytest.raises(ServiceUnavailable), store.read():
            pass
        with store.read() as uow:  # the pool's connection is back: the store works again
            assert uow.accounts.team("team_none") is None
    finally:
        engine.dispose()


def _read_across_a_drop(store: Store, postgres: PostgresCluster, name: str) -> None:
    with store.read() as uow:
        assert uow.accounts.team("team_none") is None
        postgres.drop_database(name)  # WITH (FORCE): this transaction's session is killed
        uow.accounts.team("team_none")


def test_postgres_database_dropped_mid_transaction_is_unavailable(
    postgres: PostgresCluster,
) -> None:
    name = f"t_{secrets.token_hex(8)}"
    postgres.create_database(name, template="keyturn_template")
    engine = create_database_engine(postgres.url(name))
    store = Store(engine, _keys())
    try:
        with pytest.raises(ServiceUnavailable):
            _read_across_a_drop(store, postgres, name)
    finally:
        engine.dispose()
        postgres.drop_database(name, missing_ok=True)


# psycopg prepares a statement the fifth time it runs it (its prepare_threshold).
RUNS = 8


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_read_units_keep_prepared_statements_across_transactions(runtime: Runtime) -> None:
    """A read ends with COMMIT: psycopg deallocates every prepared statement on a ROLLBACK."""
    store = runtime.store
    for _ in range(RUNS):
        with store.read() as uow:
            uow.accounts.team("team_missing")
    # A refused read (a 404 raised inside the unit) keeps them too.
    with pytest.raises(NotFound):
        get_project(runtime.context, "team_missing", "no-such-project")
    with store.read() as uow:
        # Prepared statements belong to one session: ask through the unit's own connection
        # (the pool's only one, reused by every unit above).
        session = uow._require_connection()
        prepared = session.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
    assert prepared is not None
    assert prepared >= 1
