"""Engines for the two supported databases: SQLite embedded (default) and PostgreSQL.

How each database is set up lives here: SQLite gets its PRAGMAs per connection and
`BEGIN IMMEDIATE` for write transactions; PostgreSQL gets a pool and relies on row locks to
serialize writes to one resource across processes. What differs statement by statement (those
locks, snapshots, SQLite's per-process writer queue) lives in `dialect.py`; no other module asks
which database it runs on.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

# Execution option a write unit of work sets; the SQLite `begin` hook reads it.
WRITE_TRANSACTION = "keyturn_write"

SQLITE_BUSY_TIMEOUT_MS = 30_000


class UnsupportedDatabaseURL(ValueError):
    """A database URL keyturn cannot use; the message says why and what to write instead."""


def normalize_database_url(raw: str) -> URL:
    """Accept the URLs people write and pin the driver keyturn ships with.

    `sqlite:///path.db` → pysqlite; `postgresql://` or `postgres://` → psycopg 3.
    """
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise UnsupportedDatabaseURL(
            "is not a database URL; write sqlite:///path/to/keyturn.db or "
            "postgresql://user:password@host:5432/dbname"
        ) from exc
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise UnsupportedDatabaseURL(f"uses SQLite driver {driver!r}; keyturn uses pysqlite")
        if not url.database or url.database == ":memory:":
            raise UnsupportedDatabaseURL(
                "names no SQLite file; an in-memory database would vanish with each "
                "connection. Write sqlite:///path/to/keyturn.db"
            )
        return url.set(drivername="sqlite+pysqlite")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise UnsupportedDatabaseURL(
                f"uses PostgreSQL driver {driver!r}; keyturn uses psycopg 3 "
                "(write postgresql://...)"
            )
        if not url.database:
            raise UnsupportedDatabaseURL("names no PostgreSQL database (postgresql://.../dbname)")
        return url.set(drivername="postgresql+psycopg")
    raise UnsupportedDatabaseURL(
        f"uses {backend!r}; keyturn supports sqlite:///path and postgresql://... only"
    )


def create_database_engine(raw_url: str) -> Engine:
    """An engine for `raw_url`, set up for keyturn's concurrency model on its dialect.

    `hide_parameters`: a database error's message never quotes the values it was given.
    """
    url = normalize_database_url(raw_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # No pool_pre_ping: it cost a round trip per transaction. A connection found dead fails
    # its request (503) and the pool invalidates it, so the next checkout gets a fresh one.
    return create_engine(
        url, pool_size=10, max_overflow=10, hide_parameters=True, json_serializer=json_text
    )


def json_text(value: Any) -> str:
    """A JSON column's text: orjson's, several times faster than json.dumps (a rotation writes
    21 event bodies). Keys that are not strings become strings, as json.dumps makes them.

    What orjson refuses (a lone surrogate, which request bodies cannot carry, or an integer
    beyond 64 bits) is written by json.dumps, as before orjson was used.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def is_embedded(engine: Engine) -> bool:
    """Whether the database is an embedded SQLite file, which no one but keyturn migrates."""
    return engine.url.get_backend_name() == "sqlite"


def describe_database(engine: Engine) -> str:
    """The database, for operators' messages: never a password."""
    url = engine.url
    if is_embedded(engine):
        return f"SQLite {url.database}"
    return f"PostgreSQL {url.render_as_string(hide_password=True)}"


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        # Threads of the ASGI server share the pool; each connection is used by one at a time.
        connect_args={"check_same_thread": False},
        hide_parameters=True,
        json_serializer=json_text,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's `begin` hook below: pysqlite's own implicit
        # BEGIN is always DEFERRED, which lets two writers deadlock on the upgrade to a write lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer and the writer never blocks readers.
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite ignores foreign keys unless asked, per connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # Wait for the write lock instead of failing at once with "database is locked".
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # FULL: the WAL is synced to disk at every commit, so a write answered 201 survives a
        # power cut too, not only a crash of keyturn (NORMAL's guarantee in WAL mode). A partner
        # may revoke old credentials once acknowledged; docs/performance.md measures the cost.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the database's write lock at BEGIN, so its reads (the
        # current secrets version) cannot go stale before it writes: SQLite's row lock.
        begin = (
            "BEGIN IMMEDIATE"
            if connection.get_execution_options().get(WRITE_TRANSACTION)
            else "BEGIN"
        )
        # On the driver's connection: through `exec_driver_sql` (SQLAlchemy's execution
        # context and events) this one statement took about a third of an empty transaction.
        try:
            connection.connection.driver_connection.execute(begin)
        except sqlite3.Error as exc:
            # Wrapped as `exec_driver_sql` would (a lock still held after the busy timeout is
            # an OperationalError): the unit of work answers it as the database unavailable.
            raise DBAPIError.instance(begin, None, exc, sqlite3.Error) from None

    return engine
