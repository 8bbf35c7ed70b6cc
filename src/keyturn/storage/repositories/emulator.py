"""The emulator's reset (CONTRACT.md 7): every row of every table goes, in one transaction.

The tables come from the schema's metadata, children before parents (the reverse of
`sorted_tables`, which SQLAlchemy orders by foreign key), so a table added to `tables.py`
is emptied too without anyone listing it here. Only Alembic's version row is not in the
metadata, and it must stay: it says which schema the database has. The key keyturn signs
partner tokens with stays too: it is the server's, not a test's data, and a partner's test
suite may cache the JWKS for its whole session.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete

from keyturn.storage.tables import metadata, signing_keys

# What a reset keeps: the server's own key, not data a test made.
KEPT_ON_RESET = frozenset({signing_keys.name})


class EmulatorRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def delete_every_row(self) -> None:
        for table in reversed(metadata.sorted_tables):
            if table.name not in KEPT_ON_RESET:
                self._connection.execute(delete(table))
