"""Database URLs people write, and the SQLite connection settings keyturn relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from keyturn.storage.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    UnsupportedDatabaseURL,
    create_database_engine,
    json_text,
    normalize_database_url,
)


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("sqlite:///data/keyturn.db", "sqlite+pysqlite"),
        ("sqlite:////abs/keyturn.db", "sqlite+pysqlite"),
        ("postgresql://user:pass@host:5432/db", "postgresql+psycopg"),
        ("postgres://user@host/db", "postgresql+psycopg"),
        ("postgresql+psycopg://user@host/db", "postgresql+psycopg"),
    ],
)
def test_usual_urls_get_keyturns_driver(raw: str, driver: str) -> None:
    assert normalize_database_url(raw).drivername == driver


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("mysql://user@host/db", "supports sqlite"),
        ("sqlite://", "names no SQLite file"),
        ("sqlite:///:memory:", "names no SQLite file"),
        ("postgresql+asyncpg://user@host/db", "psycopg 3"),
        ("postgresql://user@host", "names no PostgreSQL database"),
        ("not a url", "not a database URL"),
    ],
)
def test_unusable_urls_are_refused_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(UnsupportedDatabaseURL, match=reason):
        normalize_database_url(raw)


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS
    engine.dispose()


def test_sqlite_connections_sync_every_commit_to_disk(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.connect() as connection:
        # 2 is FULL (0 OFF, 1 NORMAL, 3 EXTRA): a committed write survives a power cut.
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2
    engine.dispose()


def test_json_columns_are_written_as_json_dumps_would_read_back() -> None:
    value = {"name": "café ☕", "n": [1, 2.5, None, True], 7: "a key that is not a string"}
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_what_orjson_refuses_is_written_by_json_dumps() -> None:
    """A lone surrogate (request bodies refuse them; other writers may not) and an integer
    beyond 64 bits: written as before orjson, not refused."""
    for value in ({"text": "\ud800"}, {"big": 2**70}):
        assert json_text(value) == json.dumps(value)
