"""The usage ledger's queries (CONTRACT.md 5.1, 5.2): names and numbers, never a value.

The counts per version are rows of `secrets_version_usage`, one per version, kept as
deployments change (version_usage.py): reading them costs the same however many snapshots a
version's deployments name. Everything else starts from one resource's part of
`ix_env_snapshot_versions_usage`: its env snapshots by secrets version. From a snapshot to its
deployments is `ix_deployments_env_snapshot_id` (snapshot, creation time, id), so the newest
ids of a version are the newest entries of its snapshots' ranges, read as far as
`domain.ledger.ids_wanted` asks.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    union_all,
)

from keyturn.domain.ledger import ValueSpan, VersionRecord, VersionUsage
from keyturn.storage.dialect import supports_lateral
from keyturn.storage.driver import DriverStatement
from keyturn.storage.repositories.batches import batches
from keyturn.storage.tables import (
    deployments,
    env_snapshot_versions,
    resource_secrets,
    revocable_values,
    secrets_version_usage,
    secrets_versions,
)

used = env_snapshot_versions
# A live deployment and the snapshot entries it uses.
USES = used.join(deployments, deployments.c.env_snapshot_id == used.c.snapshot_id)
NEWEST_PER_STATEMENT = 50

counted = secrets_version_usage
USAGE_BY_VERSION = DriverStatement(
    select(
        counted.c.secrets_version,
        counted.c.live,
        counted.c.serving,
        counted.c.newest_at,
        counted.c.oldest_at,
    ).where(counted.c.resource_id == bindparam("resource"))
)


# One version's part; `{n}` is the part's number, the only thing written into the text. Its
# snapshots' deployments come from `ix_deployments_env_snapshot_id`: SQLite joins by it in a
# nested loop; PostgreSQL is told to (`LATERAL`, the newest `limit` of each snapshot), since it
# otherwise hashes the join over a scan of every deployment, once per part, when the version
# has many snapshots (10,000 deployments over 5,000 snapshots: 80 ms against 20).
NEWEST_PART = (
    "SELECT * FROM (SELECT e.secrets_version, d.created_at, d.id"
    " FROM env_snapshot_versions AS e"
    " JOIN deployments AS d ON d.env_snapshot_id = e.snapshot_id"
    " WHERE e.resource_id = {resource} AND e.secrets_version = {version}"
    " ORDER BY d.created_at DESC, d.id DESC LIMIT {limit}) AS part_{n}"
)
NEWEST_PART_LATERAL = (
    "SELECT * FROM (SELECT e.secrets_version, d.created_at, d.id"
    " FROM env_snapshot_versions AS e"
    " CROSS JOIN LATERAL (SELECT created_at, id FROM deployments"
    " WHERE env_snapshot_id = e.snapshot_id"
    " ORDER BY created_at DESC, id DESC LIMIT {limit}) AS d"
    " WHERE e.resource_id = {resource} AND e.secrets_version = {version}"
    " ORDER BY d.created_at DESC, d.id DESC LIMIT {limit}) AS part_{n}"
)


@functools.lru_cache(maxsize=128)
def _newest_deployments(versions: int, lateral: bool) -> DriverStatement:
    """The newest ids of `versions` versions of one resource: per version, its part of the
    usage index read from the newest end as far as its own limit (`v0`, `k0`, `v1`, ...).

    Built once per number of versions, and run on the driver's connection (storage/driver.py):
    up to 5,000 rows of three small columns, which SQLAlchemy's rows would take longer to build
    than the database takes to answer.
    """
    part = NEWEST_PART_LATERAL if lateral else NEWEST_PART
    return DriverStatement(
        text(
            " UNION ALL ".join(
                part.format(resource=":resource", version=f":v{n}", limit=f":k{n}", n=n)
                for n in range(versions)
            )
        )
    )


ending = secrets_versions.alias("ending")
VALUE_SPANS = (
    select(
        resource_secrets.c.name,
        resource_secrets.c.valid_from,
        resource_secrets.c.valid_to,
        ending.c.created_at,
        ending.c.superseded_expire_after_ms,
    )
    .outerjoin(
        ending,
        and_(
            ending.c.resource_id == resource_secrets.c.resource_id,
            ending.c.version == resource_secrets.c.valid_to,
        ),
    )
    .where(resource_secrets.c.resource_id == bindparam("resource"))
    .order_by(resource_secrets.c.name, resource_secrets.c.valid_from.desc())
)


def _live_between(resource: Any, low: Any, high: Any) -> Select[int]:
    """How many live deployments use a version of `resource` in low..high: the one definition,
    asked alone (`live_between`) and per value ended by a version (`VALUES_ENDED_BY`). A
    deployment uses one version of a resource, so the versions' counts add up."""
    return select(func.coalesce(func.sum(counted.c.live), 0)).where(
        counted.c.resource_id == resource, counted.c.secrets_version.between(low, high)
    )


LIVE_BETWEEN = _live_between(bindparam("resource"), bindparam("low"), bindparam("high"))
# The values a version ended, each with its live count in the same statement: a rotation
# asks this once instead of reading the values and then counting (docs/performance.md, "Fifth
# pass"). `valid_to - 1` is the value's last version.
# Both run on the driver's connection (storage/driver.py), as every rotation does.
VALUES_ENDED_BY = DriverStatement(
    select(
        resource_secrets.c.name,
        resource_secrets.c.valid_from,
        _live_between(
            resource_secrets.c.resource_id,
            resource_secrets.c.valid_from,
            resource_secrets.c.valid_to - 1,
        ).scalar_subquery(),
    ).where(
        resource_secrets.c.resource_id == bindparam("resource"),
        resource_secrets.c.valid_to == bindparam("version"),
    )
)
ANNOUNCE = DriverStatement(
    insert(revocable_values),
    column_keys=("resource_id", "name", "from_version", "to_version", "announced_at"),
)


class LedgerRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def versions(self, resource_id: str, *, until: int | None, limit: int) -> list[VersionRecord]:
        """Up to `limit` versions below `until` (all when None), newest first."""
        query = select(
            secrets_versions.c.version,
            secrets_versions.c.created_at,
            secrets_versions.c.source,
            secrets_versions.c.rotation_id,
        ).where(secrets_versions.c.resource_id == resource_id)
        if until is not None:
            query = query.where(secrets_versions.c.version < until)
        rows = self._connection.execute(
            query.order_by(secrets_versions.c.version.desc()).limit(limit)
        ).all()
        return [VersionRecord(*row) for row in rows]

    def rows_starting_or_ending(
        self, resource_id: str, low: int, high: int
    ) -> list[tuple[str, int, int | None]]:
        """(name, valid_from, valid_to) of the rows that start or end in versions low..high."""
        columns = (
            resource_secrets.c.name,
            resource_secrets.c.valid_from,
            resource_secrets.c.valid_to,
        )
        of_resource = resource_secrets.c.resource_id == resource_id
        rows = self._connection.execute(
            union_all(
                select(*columns).where(
                    of_resource, resource_secrets.c.valid_from.between(low, high)
                ),
                select(*columns).where(of_resource, resource_secrets.c.valid_to.between(low, high)),
            )
        ).all()
        return [(row.name, row.valid_from, row.valid_to) for row in rows]

    def value_spans(self, resource_id: str) -> list[ValueSpan]:
        """Every stored value of the resource, by name, then newest first."""
        rows = self._connection.execute(VALUE_SPANS, {"resource": resource_id}).all()
        return [
            ValueSpan(
                name=name,
                from_version=valid_from,
                to_version=None if valid_to is None else valid_to - 1,
                superseded_at=superseded_at,
                expire_after_ms=expire_after_ms,
            )
            for name, valid_from, valid_to, superseded_at, expire_after_ms in rows
        ]

    def usage_by_version(self, resource_id: str) -> list[VersionUsage]:
        """Per version the resource's live deployments recorded: counts and time bounds."""
        rows = USAGE_BY_VERSION.rows(self._connection, {"resource": resource_id})
        return [
            VersionUsage(
                version=version,
                live=live,
                serving=serving,
                newest_at=newest_at,
                oldest_at=oldest_at,
            )
            for version, live, serving, newest_at, oldest_at in rows
        ]

    def newest_deployments(
        self, resource_id: str, wanted: Mapping[int, int]
    ) -> dict[int, list[tuple[int, str]]]:
        """{version: [(created_at, deployment id)], newest first}, as many as `wanted` says."""
        asked = sorted((version, count) for version, count in wanted.items() if count > 0)
        found: dict[int, list[tuple[int, str]]] = {}
        # A few dozen ranges per statement: one round trip, far from any parameter limit.
        for start in range(0, len(asked), NEWEST_PER_STATEMENT):
            chunk = asked[start : start + NEWEST_PER_STATEMENT]
            parameters: dict[str, object] = {"resource": resource_id}
            for index, (version, count) in enumerate(chunk):
                parameters[f"v{index}"] = version
                parameters[f"k{index}"] = count
            newest = _newest_deployments(len(chunk), supports_lateral(self._connection))
            for version, created_at, deployment_id in newest.rows(self._connection, parameters):
                found.setdefault(version, []).append((created_at, deployment_id))
        for ids in found.values():
            # UNION ALL promises no order across its parts' rows: sort each version's few.
            ids.sort(reverse=True)
        return found

    def stale_serving(
        self, resource_id: str, current_version: int, project_ids: Sequence[str]
    ) -> list[tuple[str, str, str | None]]:
        """(project id, target, git branch) of each group of these projects whose newest
        deployment recorded another version of the resource than `current_version`, oldest
        such deployment first."""
        found: list[tuple[str, str, str | None]] = []
        for batch in batches(project_ids):
            rows = self._connection.execute(
                select(deployments.c.project_id, deployments.c.target, deployments.c.git_branch)
                .select_from(USES)
                .where(
                    used.c.resource_id == resource_id,
                    deployments.c.serving,
                    used.c.secrets_version != current_version,
                    deployments.c.project_id.in_(batch),
                )
                .order_by(deployments.c.created_at, deployments.c.id)
            ).all()
            found += [(row.project_id, row.target, row.git_branch) for row in rows]
        return found

    # The values announced safe to revoke (`resource.secrets.value-revocable`).

    def values_ended_by(self, resource_id: str, version: int) -> list[tuple[ValueSpan, int]]:
        """The values that version `version` ended (rows whose `valid_to` it is), each with
        how many live deployments use one of its versions (see `live_between`)."""
        rows = VALUES_ENDED_BY.rows(self._connection, {"resource": resource_id, "version": version})
        return [(_superseded(name, valid_from, version), live) for name, valid_from, live in rows]

    def unannounced_values_using(
        self, resource_id: str, versions: Sequence[int]
    ) -> list[ValueSpan]:
        """The superseded values covering any of `versions` that are not announced yet."""
        if not versions:
            return []
        announced = (
            select(revocable_values.c.from_version)
            .where(
                revocable_values.c.resource_id == resource_secrets.c.resource_id,
                revocable_values.c.name == resource_secrets.c.name,
                revocable_values.c.from_version == resource_secrets.c.valid_from,
            )
            .exists()
        )
        covering = or_(
            *(
                and_(resource_secrets.c.valid_from <= v, resource_secrets.c.valid_to > v)
                for v in sorted(set(versions))
            )
        )
        rows = self._connection.execute(
            select(
                resource_secrets.c.name, resource_secrets.c.valid_from, resource_secrets.c.valid_to
            ).where(
                resource_secrets.c.resource_id == resource_id,
                resource_secrets.c.valid_to.is_not(None),
                covering,
                ~announced,
            )
        ).all()
        return [_superseded(name, valid_from, valid_to) for name, valid_from, valid_to in rows]

    def versions_used_by_project(self, project_id: str) -> list[tuple[str, int]]:
        """(resource internal id, version) that the project's deployments recorded, each once."""
        rows = self._connection.execute(
            select(used.c.resource_id, used.c.secrets_version)
            .select_from(USES)
            .where(deployments.c.project_id == project_id)
            .distinct()
        ).all()
        return [(resource_id, version) for resource_id, version in rows]

    def live_between(self, resource_id: str, low: int, high: int) -> int:
        """How many live deployments use a version of the resource in low..high."""
        return int(
            self._connection.execute(
                LIVE_BETWEEN, {"resource": resource_id, "low": low, "high": high}
            ).scalar_one()
        )

    def announce(self, resource_id: str, spans: Sequence[ValueSpan], *, at: int) -> None:
        """Record `spans` as announced safe to revoke, in one statement (a value announced a
        second time raises IntegrityError)."""
        ANNOUNCE.run_many(
            self._connection,
            [
                {
                    "resource_id": resource_id,
                    "name": span.name,
                    "from_version": span.from_version,
                    "to_version": span.to_version,
                    "announced_at": at,
                }
                for span in spans
            ],
        )


def _superseded(name: str, valid_from: int, valid_to: int) -> ValueSpan:
    """A superseded value; when and how it expires do not matter to its announcement."""
    return ValueSpan(
        name=name,
        from_version=valid_from,
        to_version=valid_to - 1,
        superseded_at=None,
        expire_after_ms=None,
    )
