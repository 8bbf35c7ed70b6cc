"""Every row of every table, to prove that a refused request changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from keyturn.app import Runtime
from keyturn.storage.tables import metadata


def database_snapshot(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    with runtime.store.engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
        }
