"""The key partner tokens are signed with, sealed with the master key (CONTRACT.md 5.3).

Several processes (workers of one server, servers on one PostgreSQL) must sign with one key,
or a partner that cached the JWKS would refuse the tokens of all but one. The first that needs
a key makes it inside a write transaction that holds a lock (an advisory lock on PostgreSQL;
SQLite's write transactions are serial), and looks again under that lock first: whoever comes
second finds the first one's key and keeps it.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from keyturn.storage.dialect import advisory_lock
from keyturn.storage.encryption import KeyRing
from keyturn.storage.tables import signing_keys

LOCK_KEY = "signing-key"


def signing_key_identity(kid: str) -> str:
    """The associated data of a sealed signing key."""
    return f"signing_key:{kid}:private_key"


class SigningKeyRepository:
    def __init__(self, connection: Connection, keys: KeyRing) -> None:
        self._connection = connection
        self._keys = keys

    def current(self) -> str | None:
        """The signing key's private PEM, or None before one was made."""
        row = self._connection.execute(
            select(signing_keys).order_by(signing_keys.c.created_at, signing_keys.c.kid).limit(1)
        ).first()
        if row is None:
            return None
        return self._keys.open(
            row.private_key_ciphertext, associated_data=signing_key_identity(row.kid)
        )

    def add_unless_one_exists(self, kid: str, private_pem: str, *, at: int) -> str:
        """Store this key unless another process stored one first; the stored key's PEM."""
        advisory_lock(self._connection, LOCK_KEY)
        existing = self.current()
        if existing is not None:
            return existing
        sealed = self._keys.seal(private_pem, associated_data=signing_key_identity(kid))
        self._connection.execute(
            insert(signing_keys).values(kid=kid, private_key_ciphertext=sealed, created_at=at)
        )
        return private_pem
