"""Schema migrations: one Alembic tree shipped inside the package, run programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from keyturn.storage.encryption import KeyRing

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def upgrade(engine: Engine, keys: KeyRing | None = None) -> None:
    """Bring the database to the newest schema.

    `keys`: the master key ring, for a migration that must open and seal stored values
    (revision 0012 does, when there are deployments to move); one that needs it and was given
    none refuses, changing nothing.
    """
    config = alembic_config()
    config.attributes["keys"] = keys
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def pending_migrations(engine: Engine) -> bool:
    """Whether the database's schema is behind the code's."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current != head
