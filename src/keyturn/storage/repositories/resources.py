"""Resources and their secrets versions.

`live(..., for_update=True)` is the per-resource write lock: `SELECT ... FOR UPDATE` on
PostgreSQL, so writers in several keyturn processes queue on the resource's row; SQLite has no
row locks and ignores it, its write transactions being serialized by `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update

from keyturn.domain.clock import Clock
from keyturn.domain.ids import IdSource
from keyturn.domain.resources import Resource, ResourceFields
from keyturn.domain.secrets import VersionProvenance
from keyturn.storage.dialect import advisory_lock
from keyturn.storage.driver import DriverStatement
from keyturn.storage.repositories.accounts import (
    LIVE_TOKEN,
    TOKEN_COLUMNS,
    StoredToken,
    stored_token,
)
from keyturn.storage.tables import resources, secrets_versions, tokens

# A resource's columns in `Resource`'s field order: a row of them is `Resource(*row)`.
RESOURCE_FIELDS = tuple(field.name for field in fields(Resource))
RESOURCE = tuple(resources.c[name] for name in RESOURCE_FIELDS)
# The statements of every secrets PUT, built once and run on the driver's connection
# (storage/driver.py). Only the bound values change.
_LIVE_RESOURCE = select(*RESOURCE).where(
    resources.c.installation_id == bindparam("installation_id"),
    resources.c.partner_id == bindparam("partner_id"),
    resources.c.deleted_at.is_(None),
)
LIVE_RESOURCE = DriverStatement(_LIVE_RESOURCE)
# A request's token and the live resource it names, in one statement (a row only when the
# token is live; the resource's columns NULL when there is no such resource).
TOKEN_AND_LIVE_RESOURCE = DriverStatement(
    select(*TOKEN_COLUMNS, *RESOURCE)
    .select_from(
        tokens.outerjoin(
            resources,
            and_(
                resources.c.installation_id == bindparam("installation_id"),
                resources.c.partner_id == bindparam("partner_id"),
                resources.c.deleted_at.is_(None),
            ),
        )
    )
    .where(*LIVE_TOKEN)
)
LIVE_RESOURCE_FOR_UPDATE = DriverStatement(_LIVE_RESOURCE.with_for_update())
VERSION_RECORD = (
    "resource_id",
    "version",
    "created_at",
    "source",
    "rotation_id",
    "superseded_expire_after_ms",
)
ADD_SECRETS_VERSION = DriverStatement(insert(secrets_versions), column_keys=VERSION_RECORD)
# Bound names differ from the columns': SQLAlchemy reserves those for its own SET parameters.
SET_SECRETS_VERSION = DriverStatement(
    update(resources)
    .where(resources.c.internal_id == bindparam("resource"))
    .values(
        secrets_version=bindparam("new_version"),
        secrets_digest=bindparam("digest"),
        updated_at=bindparam("now"),
    )
)
SET_SECRETS_DIGEST = DriverStatement(
    update(resources)
    .where(resources.c.internal_id == bindparam("resource"))
    .values(secrets_digest=bindparam("digest"))
)


class ResourceRepository:
    def __init__(self, connection: Connection, *, clock: Clock, ids: IdSource) -> None:
        self._connection = connection
        self._clock = clock
        self._ids = ids

    def live(
        self, installation_id: str, partner_id: str, *, for_update: bool = False
    ) -> Resource | None:
        """The installation's undeleted resource with the partner's id `partner_id`; with
        `for_update`, its row locked (PostgreSQL) until the transaction ends."""
        query = LIVE_RESOURCE_FOR_UPDATE if for_update else LIVE_RESOURCE
        row = query.first(
            self._connection, {"installation_id": installation_id, "partner_id": partner_id}
        )
        return _resource(row) if row else None

    def live_with_token(
        self, token_hash: str, installation_id: str, partner_id: str
    ) -> tuple[StoredToken, Resource | None] | None:
        """The live token with this digest and the resource `live` would find, read together;
        None when the token is not live."""
        row = TOKEN_AND_LIVE_RESOURCE.first(
            self._connection,
            {
                "token_hash": token_hash,
                "installation_id": installation_id,
                "partner_id": partner_id,
            },
        )
        if row is None:
            return None
        token, resource = row[: len(TOKEN_COLUMNS)], row[len(TOKEN_COLUMNS) :]
        return stored_token(token), None if resource[0] is None else _resource(resource)

    def claim(self, installation_id: str, partner_id: str) -> Resource | None:
        """`live(..., for_update=True)` for a write that may create the resource (an import).

        On PostgreSQL it first takes a transaction lock on the partner id itself: a row lock
        cannot lock a row that does not exist yet, so two imports of a new resource would both
        create it. The other writers (a secrets PUT, a rollback) need the resource to exist and
        queue on its row alone, a round trip fewer.
        """
        advisory_lock(self._connection, f"resource/{installation_id}/{partner_id}")
        return self.live(installation_id, partner_id, for_update=True)

    def list_live(self, installation_id: str) -> list[Resource]:
        rows = self._connection.execute(
            select(*RESOURCE)
            .where(resources.c.installation_id == installation_id, resources.c.deleted_at.is_(None))
            .order_by(resources.c.created_at, resources.c.partner_id)
        ).all()
        return [_resource(row) for row in rows]

    def add(self, installation_id: str, partner_id: str, fields: ResourceFields) -> Resource:
        now = self._clock.now_ms()
        internal_id = self._ids.new("res")
        self._connection.execute(
            insert(resources).values(
                internal_id=internal_id,
                installation_id=installation_id,
                partner_id=partner_id,
                secrets_version=0,
                created_at=now,
                updated_at=now,
                **_field_values(fields),
            )
        )
        return self._by_internal_id(internal_id)

    def change(self, resource: Resource, fields: ResourceFields) -> Resource:
        values = _field_values(fields)
        if values:
            self._connection.execute(
                update(resources)
                .where(resources.c.internal_id == resource.internal_id)
                .values(updated_at=self._clock.now_ms(), **values)
            )
        return self._by_internal_id(resource.internal_id)

    def mark_deleted(self, resource: Resource) -> None:
        now = self._clock.now_ms()
        self._connection.execute(
            update(resources)
            .where(resources.c.internal_id == resource.internal_id)
            .values(deleted_at=now, updated_at=now)
        )

    def record_secrets_version(
        self, resource: Resource, version: int, provenance: VersionProvenance, digest: str
    ) -> None:
        """Make `version` the resource's current secrets version, recording what made it;
        `digest` is its whole set's (`SecretRepository.digest`), set by the same statement, so
        the two never disagree."""
        now = self._clock.now_ms()
        ADD_SECRETS_VERSION.run(
            self._connection,
            {
                "resource_id": resource.internal_id,
                "version": version,
                "created_at": now,
                "source": provenance.source,
                "rotation_id": provenance.rotation_id,
                "superseded_expire_after_ms": provenance.superseded_expire_after_ms,
            },
        )
        SET_SECRETS_VERSION.run(
            self._connection,
            {
                "resource": resource.internal_id,
                "new_version": version,
                "digest": digest,
                "now": now,
            },
        )

    def record_secrets_digest(self, resource: Resource, digest: str) -> None:
        """Record the digest of the set the resource holds, found equal to `digest` in full
        (its digest was not known, or made under another master key)."""
        SET_SECRETS_DIGEST.run(
            self._connection, {"resource": resource.internal_id, "digest": digest}
        )

    def has_secrets_version(self, resource: Resource, version: int) -> bool:
        """Whether the resource ever had secrets version `version`."""
        found = self._connection.execute(
            select(secrets_versions.c.version).where(
                secrets_versions.c.resource_id == resource.internal_id,
                secrets_versions.c.version == version,
            )
        ).first()
        return found is not None

    def by_internal_ids(self, internal_ids: Iterable[str]) -> list[Resource]:
        """These resources, deleted or not, in no particular order."""
        wanted = sorted(set(internal_ids))
        if not wanted:
            return []
        rows = self._connection.execute(
            select(*RESOURCE).where(resources.c.internal_id.in_(wanted))
        ).all()
        return [_resource(row) for row in rows]

    def lock_live_by_internal_ids(self, internal_ids: Iterable[str]) -> list[Resource]:
        """These resources that are not deleted, each row locked as `live(..., for_update=True)`
        locks it (in id order, so two such units cannot deadlock), by internal id."""
        wanted = sorted(set(internal_ids))
        if not wanted:
            return []
        rows = self._connection.execute(
            select(*RESOURCE)
            .where(resources.c.internal_id.in_(wanted), resources.c.deleted_at.is_(None))
            .order_by(resources.c.internal_id)
            .with_for_update()
        ).all()
        return [_resource(row) for row in rows]

    def _by_internal_id(self, internal_id: str) -> Resource:
        row = self._connection.execute(
            select(*RESOURCE).where(resources.c.internal_id == internal_id)
        ).one()
        return _resource(row)


def _field_values(fields: ResourceFields) -> dict[str, Any]:
    values = {
        "product_id": fields.product_id,
        "name": fields.name,
        "status": fields.status,
        "ownership": fields.ownership,
        "metadata": fields.metadata,
        "billing_plan": fields.billing_plan,
        "notification": fields.notification,
        "extras": fields.extras,
    }
    return {column: value for column, value in values.items() if value is not None}


def _resource(row: Sequence[Any]) -> Resource:
    """A row selected as `RESOURCE`."""
    return Resource(**dict(zip(RESOURCE_FIELDS, row, strict=True)))
