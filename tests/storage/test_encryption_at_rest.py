"""No secret value is stored in plaintext, in the SQLite file or in PostgreSQL's tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from keyturn.app import Runtime
from keyturn.storage.tables import metadata
from tests.conftest import Partner

VALUE = "plaintext-canary-7f3a9c"
OVERRIDE = "override-canary-b81d20"


def _push_canaries(partner: Partner) -> None:
    partner.import_resource(
        "db1",
        secrets=[
            {"name": "CANARY", "value": VALUE, "environmentOverrides": {"preview": OVERRIDE}},
        ],
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_files_hold_no_plaintext_secret(partner: Partner, runtime: Runtime) -> None:
    _push_canaries(partner)
    database = Path(str(runtime.store.engine.url.database))
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    assert database in files
    contents = b"".join(path.read_bytes() for path in files)
    assert b"CANARY" in contents  # the name is stored, so the search does look in the right place
    assert VALUE.encode() not in contents
    assert OVERRIDE.encode() not in contents


def test_no_table_holds_a_plaintext_secret(partner: Partner, runtime: Runtime) -> None:
    _push_canaries(partner)
    with runtime.store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(text(f"SELECT * FROM {table.name}")):  # noqa: S608  # table names from our own metadata
                dumped = repr(tuple(row))
                assert VALUE not in dumped, table.name
                assert OVERRIDE not in dumped, table.name
