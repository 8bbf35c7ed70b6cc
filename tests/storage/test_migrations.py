"""The migrations build exactly the schema the code declares, and can be undone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from keyturn.app import Runtime
from keyturn.storage.migrate import alembic_config, pending_migrations, upgrade
from keyturn.storage.tables import metadata


def test_migrated_schema_matches_the_tables(runtime: Runtime) -> None:
    with runtime.store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert not pending_migrations(runtime.store.engine)


def test_downgrade_to_base_and_upgrade_again(runtime: Runtime) -> None:
    engine = runtime.store.engine
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert pending_migrations(engine)
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= {t.name for t in metadata.sorted_tables}
