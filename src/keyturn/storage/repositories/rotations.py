"""Rotation requests of resources (CONTRACT.md 5.3).

A rotation leaves `pending` once, to `completed` or `failed`: both transitions are
compare-and-set on the status, so of two writers that race to end one (the partner's update
and the timeout, say) exactly one wins and the other learns it lost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from keyturn.domain.clock import Clock
from keyturn.domain.rotations import Rotation, RotationError
from keyturn.storage.driver import DriverStatement
from keyturn.storage.tables import resources, rotations

# A rotation with its resource's partner id, which every answer names it by.
ROTATION_ROWS = select(rotations, resources.c.partner_id).join(
    resources, rotations.c.resource_id == resources.c.internal_id
)
NEWEST_FIRST = (rotations.c.number.desc(),)
# Every effective secrets write asks it, and there is most often none: built once and run on
# the driver's connection (storage/driver.py), it reads only the id, and a rotation found is
# then read whole (the driver cannot read `delay_hours`, a float, on psycopg).
PENDING_OF_RESOURCE = DriverStatement(
    select(rotations.c.id).where(
        rotations.c.resource_id == bindparam("resource_id"), rotations.c.status == "pending"
    )
)


class RotationRepository:
    def __init__(self, connection: Connection, *, clock: Clock) -> None:
        self._connection = connection
        self._clock = clock

    def add(self, rotation: Rotation) -> None:
        """Record a new rotation; the caller holds the resource's write lock, which orders the
        numbers."""
        last = self._connection.execute(
            select(func.max(rotations.c.number)).where(
                rotations.c.resource_id == rotation.resource_internal_id
            )
        ).scalar_one_or_none()
        self._connection.execute(
            insert(rotations).values(
                id=rotation.id,
                resource_id=rotation.resource_internal_id,
                number=(last or 0) + 1,
                status=rotation.status,
                reason=rotation.reason,
                delay_hours=rotation.delay_hours,
                requested_at=rotation.requested_at,
                requested_by=rotation.requested_by,
                deadline_at=rotation.deadline_at,
            )
        )

    def get(self, rotation_id: str) -> Rotation | None:
        row = self._connection.execute(ROTATION_ROWS.where(rotations.c.id == rotation_id)).first()
        return _rotation(row) if row else None

    def pending(self, resource_internal_id: str) -> Rotation | None:
        """The resource's pending rotation, whether or not its deadline has passed."""
        found = PENDING_OF_RESOURCE.first(self._connection, {"resource_id": resource_internal_id})
        return self.get(found[0]) if found else None

    def past_deadline(self, now_ms: int, *, limit: int) -> list[Rotation]:
        """Up to `limit` pending rotations whose deadline is `now_ms` or earlier, oldest first."""
        rows = self._connection.execute(
            ROTATION_ROWS.where(rotations.c.status == "pending", rotations.c.deadline_at <= now_ms)
            .order_by(rotations.c.deadline_at, rotations.c.id)
            .limit(limit)
        ).all()
        return [_rotation(row) for row in rows]

    def latest(self, resource_internal_id: str) -> Rotation | None:
        row = self._connection.execute(
            ROTATION_ROWS.where(rotations.c.resource_id == resource_internal_id)
            .order_by(*NEWEST_FIRST)
            .limit(1)
        ).first()
        return _rotation(row) if row else None

    def of_resource(self, resource_internal_id: str) -> list[Rotation]:
        """Every rotation of the resource, newest first."""
        rows = self._connection.execute(
            ROTATION_ROWS.where(rotations.c.resource_id == resource_internal_id).order_by(
                *NEWEST_FIRST
            )
        ).all()
        return [_rotation(row) for row in rows]

    def complete(self, rotation_id: str, *, version: int) -> bool:
        """Mark a pending rotation completed by `version`; False when it was no longer pending."""
        return self._end(
            rotation_id, status="completed", completed_at=self._clock.now_ms(), version=version
        )

    def fail(self, rotation_id: str, error: RotationError) -> bool:
        """Mark a pending rotation failed; False when it was no longer pending."""
        return self._end(
            rotation_id, status="failed", error_code=error.code, error_message=error.message
        )

    def _end(self, rotation_id: str, **values: Any) -> bool:
        result = self._connection.execute(
            update(rotations)
            .where(rotations.c.id == rotation_id, rotations.c.status == "pending")
            .values(**values)
        )
        return bool(result.rowcount == 1)


def _rotation(row: Row[Any]) -> Rotation:
    error = (
        RotationError(row.error_code, row.error_message or "")
        if row.error_code is not None
        else None
    )
    return Rotation(
        id=row.id,
        resource_internal_id=row.resource_id,
        resource_id=row.partner_id,
        status=row.status,
        reason=row.reason,
        delay_hours=row.delay_hours,
        requested_at=row.requested_at,
        requested_by=row.requested_by,
        deadline_at=row.deadline_at,
        completed_at=row.completed_at,
        version=row.version,
        error=error,
    )
