"""Idempotency keys: claims, kept answers, and their expiry, each row sealed to its id.

The row's primary key is the digest of scope, method, path and key, so two requests with one
key meet on one row. A claim reads it under the row's advisory lock (PostgreSQL; SQLite writers
are serial), so two processes never both find a key free. A write that keeps its key in its own
transaction reads without a lock and learns at its insert whether another took the key first
(`keep`): the cheaper way for the hot path, where a race on one key is rare. What a row holds
beyond its state (the request's fingerprint and the answer, which may carry secret values) is
one AES-GCM ciphertext whose associated data names the row.
"""

from __future__ import annotations

import base64
import json

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from keyturn.domain.clock import Clock
from keyturn.domain.idempotency import KeptResponse, KeyRecord
from keyturn.domain.ids import IdSource
from keyturn.storage.dialect import advisory_lock, insert_unless_present
from keyturn.storage.encryption import KeyRing
from keyturn.storage.tables import idempotency_keys

# Statements of the hot secrets PUT, built once (see repositories/resources.py).
FIND = select(
    idempotency_keys.c.claim,
    idempotency_keys.c.status,
    idempotency_keys.c.expires_at,
    idempotency_keys.c.record_ciphertext,
).where(idempotency_keys.c.id == bindparam("record"))
INSERT = insert(idempotency_keys)
# Taking over a row only while it is expired: of two writers racing for it, one changes it.
REPLACE_EXPIRED = (
    update(idempotency_keys)
    .where(
        idempotency_keys.c.id == bindparam("record"),
        idempotency_keys.c.expires_at <= bindparam("now"),
    )
    .values(
        claim=bindparam("new_claim"),
        status=bindparam("new_status"),
        created_at=bindparam("now"),
        expires_at=bindparam("until"),
        record_ciphertext=bindparam("sealed"),
    )
)
# Bound names differ from the columns': SQLAlchemy reserves those for its own SET parameters.
REPLACE = (
    update(idempotency_keys)
    .where(idempotency_keys.c.id == bindparam("record"))
    .values(
        claim=bindparam("new_claim"),
        status=bindparam("new_status"),
        created_at=bindparam("now"),
        expires_at=bindparam("until"),
        record_ciphertext=bindparam("sealed"),
    )
)
KEEP_CLAIMED = (
    update(idempotency_keys)
    .where(
        idempotency_keys.c.id == bindparam("record"),
        idempotency_keys.c.claim == bindparam("held_claim"),
    )
    .values(
        status=bindparam("new_status"),
        expires_at=bindparam("until"),
        record_ciphertext=bindparam("sealed"),
    )
)
RELEASE = delete(idempotency_keys).where(
    idempotency_keys.c.id == bindparam("record"),
    idempotency_keys.c.claim == bindparam("held_claim"),
)
# A bounded batch, so a write that purges never pays for a backlog all at once.
PURGE_BATCH = 100
PURGE = delete(idempotency_keys).where(
    idempotency_keys.c.id.in_(
        select(idempotency_keys.c.id)
        .where(idempotency_keys.c.expires_at <= bindparam("now"))
        .limit(PURGE_BATCH)
        .scalar_subquery()
    )
)


class IdempotencyRepository:
    def __init__(self, connection: Connection, keys: KeyRing, *, clock: Clock, ids: IdSource):
        self._connection = connection
        self._keys = keys
        self._clock = clock
        self._ids = ids

    def find_for_update(self, record_id: str) -> KeyRecord | None:
        """The key's row, whether expired or not, locked until the transaction ends."""
        advisory_lock(self._connection, f"idempotency/{record_id}")
        return self.find(record_id)

    def find(self, record_id: str) -> KeyRecord | None:
        """The key's row, whether expired or not."""
        row = self._connection.execute(FIND, {"record": record_id}).first()
        if row is None:
            return None
        opened = json.loads(
            self._keys.open(row.record_ciphertext, associated_data=idempotency_identity(record_id))
        )
        response = None
        if row.status is not None:
            response = KeptResponse(
                status=row.status,
                body=base64.b64decode(opened["body"]),
                headers=opened["headers"],
            )
        return KeyRecord(
            fingerprint=opened["fingerprint"],
            response=response,
            expires_at=row.expires_at,
            claim=row.claim,
        )

    def claim(self, record_id: str, fingerprint: str, *, lease_ms: int, replace: bool) -> str:
        """Mark the key as taken by a running request for `lease_ms`; returns the claim.

        `replace`: the row exists (expired, or a lapsed claim) and is taken over.
        """
        claim = self._ids.base62(32)
        now = self._clock.now_ms()
        sealed = self._seal(record_id, fingerprint, None)
        if replace:
            self._connection.execute(
                REPLACE,
                {
                    "record": record_id,
                    "new_claim": claim,
                    "new_status": None,
                    "now": now,
                    "until": now + lease_ms,
                    "sealed": sealed,
                },
            )
        else:
            self._connection.execute(
                INSERT,
                {
                    "id": record_id,
                    "claim": claim,
                    "status": None,
                    "created_at": now,
                    "expires_at": now + lease_ms,
                    "record_ciphertext": sealed,
                },
            )
        return claim

    def keep(
        self,
        record_id: str,
        fingerprint: str,
        response: KeptResponse,
        *,
        retention_ms: int,
        replace: bool,
    ) -> bool:
        """Keep `response` as the key's answer, for a request that held no claim (it ran in
        this very transaction); False when another request took the key since it was read
        (`replace`: the row read was expired)."""
        now = self._clock.now_ms()
        values = {
            "new_claim": self._ids.base62(32),
            "new_status": response.status,
            "now": now,
            "until": now + retention_ms,
            "sealed": self._seal(record_id, fingerprint, response),
        }
        if replace:
            replaced = self._connection.execute(REPLACE_EXPIRED, {"record": record_id, **values})
            return bool(replaced.rowcount)
        return insert_unless_present(
            self._connection,
            idempotency_keys,
            {
                "id": record_id,
                "claim": values["new_claim"],
                "status": response.status,
                "created_at": now,
                "expires_at": values["until"],
                "record_ciphertext": values["sealed"],
            },
        )

    def keep_claimed(
        self,
        record_id: str,
        claim: str,
        fingerprint: str,
        response: KeptResponse,
        *,
        retention_ms: int,
    ) -> bool:
        """Keep `response` if `claim` still holds the key; False when it lapsed and was taken."""
        kept = self._connection.execute(
            KEEP_CLAIMED,
            {
                "record": record_id,
                "held_claim": claim,
                "new_status": response.status,
                "until": self._clock.now_ms() + retention_ms,
                "sealed": self._seal(record_id, fingerprint, response),
            },
        )
        return bool(kept.rowcount)

    def release(self, record_id: str, claim: str) -> None:
        """Forget the key if `claim` still holds it: the request's answer is not kept."""
        self._connection.execute(RELEASE, {"record": record_id, "held_claim": claim})

    def purge_expired(self) -> int:
        """Delete up to `PURGE_BATCH` rows whose retention or lease has ended."""
        return int(self._connection.execute(PURGE, {"now": self._clock.now_ms()}).rowcount)

    def _seal(self, record_id: str, fingerprint: str, response: KeptResponse | None) -> bytes:
        opened = {
            "fingerprint": fingerprint,
            "headers": {} if response is None else dict(response.headers),
            "body": "" if response is None else base64.b64encode(response.body).decode(),
        }
        return self._keys.seal(
            json.dumps(opened, sort_keys=True), associated_data=idempotency_identity(record_id)
        )


def idempotency_identity(record_id: str) -> str:
    """Associated data binding a kept answer to its key's row."""
    return f"idempotency/{record_id}"
