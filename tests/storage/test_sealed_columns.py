"""The registry of sealed columns is complete: re-encryption and the key check see every one."""

from __future__ import annotations

from sqlalchemy import LargeBinary

from keyturn.storage.sealed_columns import SEALED_COLUMNS
from keyturn.storage.tables import metadata


def test_every_binary_column_of_the_schema_is_a_registered_sealed_column() -> None:
    binary = {
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    assert binary == {sealed.name for sealed in SEALED_COLUMNS}
