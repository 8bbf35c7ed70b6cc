"""The unit of work turns a database that cannot be reached into `ServiceUnavailable` (503),
whether it fails at connect, mid-transaction or for want of a pooled connection."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from keyturn.domain.errors import ServiceUnavailable
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
