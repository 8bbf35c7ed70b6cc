"""Alembic environment: runs on the connection `keyturn.storage.migrate` hands it.

Batch mode lets the same migrations alter tables on SQLite. On PostgreSQL the run holds an
advisory lock, so several keyturn processes starting at once migrate one after another.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from keyturn.storage.dialect import advisory_lock_id
from keyturn.storage.tables import metadata

MIGRATION_LOCK_ID = 0x6B65797475726E  # "keyturn" as a number; any constant shared by all processes


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    advisory_lock_id(connection, MIGRATION_LOCK_ID)
    with context.begin_transaction():
        context.run_migrations()


run_migrations(context.config.attributes["connection"])
