"""Ciphertexts by key id: which keys the data needs, and re-sealing it under the current key.

The key id is read out of each blob in SQL (`substr`), so counting decrypts nothing. Re-sealing
walks a column in primary-key order (a keyset cursor: each batch starts where the last ended, so
a pass reads each row once) and writes with compare-and-set on the old blob: a value a request
changed meanwhile is left alone, never overwritten with the older plaintext.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    LargeBinary,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
    update,
)

from keyturn.storage.encryption import (
    FORMAT_VERSION,
    KEY_ID_BYTES,
    CiphertextError,
    KeyRing,
)
from keyturn.storage.sealed_columns import SEALED_COLUMNS, SealedColumn

# SQL's substr counts from 1; the key id follows the format byte.
KEY_ID_START = len(FORMAT_VERSION) + 1


@dataclass(frozen=True)
class ResealedBatch:
    found: int
    rewritten: int
    # The primary key of the last row looked at: where the next batch of this column starts.
    last_key: tuple[Any, ...] | None


def _key_id(sealed: SealedColumn) -> ColumnElement[bytes]:
    # Literal positions, not bound parameters: PostgreSQL must see the GROUP BY expression
    # as the very one selected.
    return func.substr(
        sealed.column,
        literal_column(str(KEY_ID_START)),
        literal_column(str(KEY_ID_BYTES)),
        type_=LargeBinary,
    )


def key_ids_in_use(connection: Connection) -> Counter[bytes]:
    """How many ciphertexts each key id sealed, all sealed columns together.

    Needs no key: the start check runs it before deciding whether a key may be generated.
    """
    total: Counter[bytes] = Counter()
    for sealed in SEALED_COLUMNS:
        key_id = _key_id(sealed).label("key_id")
        rows = connection.execute(
            select(key_id, func.count().label("ciphertexts"))
            .where(sealed.column.is_not(None))
            .group_by(key_id)
        )
        total.update({bytes(row.key_id): int(row.ciphertexts) for row in rows})
    return total


class CiphertextRepository:
    def __init__(self, connection: Connection, keys: KeyRing) -> None:
        self._connection = connection
        self._keys = keys

    def count_not_under(self, key_id: bytes) -> int:
        """How many ciphertexts, in all sealed columns, another key than `key_id` sealed."""
        total = 0
        for sealed in SEALED_COLUMNS:
            total += self._connection.execute(
                select(func.count())
                .select_from(sealed.table)
                .where(sealed.column.is_not(None), _key_id(sealed) != key_id)
            ).scalar_one()
        return total

    def reseal_batch(
        self, sealed: SealedColumn, *, limit: int, after: tuple[Any, ...] | None
    ) -> ResealedBatch:
        """Re-seal under the primary key up to `limit` values of `sealed` past `after`."""
        primary_key = tuple(sealed.table.primary_key.columns)
        query = (
            select(sealed.table, *sealed.joined_columns)
            .select_from(sealed.source())
            .where(sealed.column.is_not(None), _key_id(sealed) != self._keys.primary_id)
            .order_by(*primary_key)
            .limit(limit)
        )
        if after is not None:
            query = query.where(tuple_(*primary_key) > tuple_(*after))
        rows = self._connection.execute(query).all()
        changes = []
        for row in rows:
            old = row._mapping[sealed.column]
            identity = sealed.identity(row)
            try:
                plaintext = self._keys.open(old, associated_data=identity)
            except CiphertextError as exc:
                where = ", ".join(f"{column.name}={row._mapping[column]}" for column in primary_key)
                raise CiphertextError(f"{sealed.name} of the row {where}: {exc}") from exc
            changes.append(
                {
                    **{f"key_{column.name}": row._mapping[column] for column in primary_key},
                    "old_blob": old,
                    "new_blob": self._keys.seal(plaintext, associated_data=identity),
                }
            )
        rewritten = 0
        if changes:
            # One executemany; both drivers sum the rows each parameter set changed.
            rewritten = self._connection.execute(
                update(sealed.table)
                .where(*(column == bindparam(f"key_{column.name}") for column in primary_key))
                # Compare-and-set: only while the row still holds the blob that was opened.
                .where(sealed.column == bindparam("old_blob", type_=LargeBinary))
                .values({sealed.column_name: bindparam("new_blob", type_=LargeBinary)}),
                changes,
            ).rowcount
        last_key = tuple(rows[-1]._mapping[column] for column in primary_key) if rows else None
        return ResealedBatch(found=len(rows), rewritten=rewritten, last_key=last_key)
