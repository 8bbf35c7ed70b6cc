"""The usage ledger's counts per resource and secrets version, kept as deployments change.

`secrets_version_usage` holds, per (resource, version), how many live deployments use it,
how many of those serve, and bounds of their creation times. A deployment uses the versions of
its env snapshot's entries, so every change is "add these numbers to the rows of one
snapshot's entries": one statement, whatever the number of resources, run in the transaction
of the change (deployment create and delete, a `serving` hand-over, a project delete). That
keeps the ledger's counts at one row per version however many snapshots a version's
deployments name (docs/performance.md, "The usage ledger", seventh pass).

Creation times only ever widen the bounds: a delete leaves `newest_at` and `oldest_at` as
they were, which `domain.ledger` only uses as bounds, so that a delete never has to look for
the next newest or oldest. A row whose `live` reaches 0 is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, text

from keyturn.storage.driver import DriverStatement

# Each statement's SQL is written out whole: the same text runs on both databases. An insert
# that meets an existing row adds its counts to the row's and keeps the wider of the bounds;
# the rows of one snapshot's entries are selected by row value (one primary-key probe each).

# A new deployment of `snapshot`, made at `at`; `serving` is 1 when it serves, or 0 when it
# serves in place of a predecessor of the same snapshot (no change in sum) or does not serve.
COUNT_DEPLOYMENT = DriverStatement(
    text(
        "INSERT INTO secrets_version_usage"
        " (resource_id, secrets_version, live, serving, newest_at, oldest_at)"
        " SELECT resource_id, secrets_version, 1, CAST(:serving AS INTEGER),"
        " CAST(:at AS BIGINT), CAST(:at AS BIGINT)"
        " FROM env_snapshot_versions WHERE snapshot_id = :snapshot"
        " ON CONFLICT (resource_id, secrets_version) DO UPDATE SET"
        " live = secrets_version_usage.live + excluded.live,"
        " serving = secrets_version_usage.serving + excluded.serving,"
        " newest_at = CASE WHEN excluded.newest_at > secrets_version_usage.newest_at"
        " THEN excluded.newest_at ELSE secrets_version_usage.newest_at END,"
        " oldest_at = CASE WHEN excluded.oldest_at < secrets_version_usage.oldest_at"
        " THEN excluded.oldest_at ELSE secrets_version_usage.oldest_at END"
    )
)
# A live deployment of `snapshot` started (`change` 1) or stopped (-1) serving.
COUNT_SERVING = DriverStatement(
    text(
        "UPDATE secrets_version_usage SET serving = serving + :change"
        " WHERE (resource_id, secrets_version) IN (SELECT resource_id, secrets_version"
        " FROM env_snapshot_versions WHERE snapshot_id = :snapshot)"
    )
)
UNCOUNT_DEPLOYMENT = DriverStatement(
    text(
        "UPDATE secrets_version_usage SET live = live - 1, serving = serving - :serving"
        " WHERE (resource_id, secrets_version) IN (SELECT resource_id, secrets_version"
        " FROM env_snapshot_versions WHERE snapshot_id = :snapshot)"
    )
)
DELETE_UNUSED_OF_SNAPSHOT = DriverStatement(
    text(
        "DELETE FROM secrets_version_usage"
        " WHERE live = 0 AND (resource_id, secrets_version) IN (SELECT resource_id,"
        " secrets_version FROM env_snapshot_versions WHERE snapshot_id = :snapshot)"
    )
)
# Numbers computed elsewhere, per row (a project's deployments, bulk inserts).
ADD_COUNTS = DriverStatement(
    text(
        "INSERT INTO secrets_version_usage"
        " (resource_id, secrets_version, live, serving, newest_at, oldest_at)"
        " VALUES (:resource_id, :secrets_version, :live, :serving, :newest_at, :oldest_at)"
        " ON CONFLICT (resource_id, secrets_version) DO UPDATE SET"
        " live = secrets_version_usage.live + excluded.live,"
        " serving = secrets_version_usage.serving + excluded.serving,"
        " newest_at = CASE WHEN excluded.newest_at > secrets_version_usage.newest_at"
        " THEN excluded.newest_at ELSE secrets_version_usage.newest_at END,"
        " oldest_at = CASE WHEN excluded.oldest_at < secrets_version_usage.oldest_at"
        " THEN excluded.oldest_at ELSE secrets_version_usage.oldest_at END"
    )
)
SUBTRACT_COUNTS = DriverStatement(
    text(
        "UPDATE secrets_version_usage SET live = live - :live, serving = serving - :serving"
        " WHERE resource_id = :resource_id AND secrets_version = :secrets_version"
    )
)
DELETE_UNUSED = DriverStatement(
    text(
        "DELETE FROM secrets_version_usage"
        " WHERE resource_id = :resource_id AND secrets_version = :secrets_version AND live = 0"
    )
)
# Per (resource, version): a project's live deployments, and how many of them serve.
OF_PROJECT = DriverStatement(
    text(
        "SELECT e.resource_id, e.secrets_version, count(*),"
        " sum(CASE WHEN d.serving THEN 1 ELSE 0 END)"
        " FROM deployments AS d"
        " JOIN env_snapshot_versions AS e ON e.snapshot_id = d.env_snapshot_id"
        " WHERE d.project_id = :project GROUP BY e.resource_id, e.secrets_version"
    )
)


def count_deployment(connection: Connection, snapshot_id: int, *, serving: int, at: int) -> None:
    """A deployment of `snapshot_id` made at `at`, adding `serving` to the serving counts."""
    COUNT_DEPLOYMENT.run(connection, {"snapshot": snapshot_id, "serving": serving, "at": at})


def count_serving(connection: Connection, snapshot_id: int, change: int) -> None:
    """A live deployment of `snapshot_id` started (+1) or stopped (-1) serving."""
    COUNT_SERVING.run(connection, {"snapshot": snapshot_id, "change": change})


def uncount_deployment(connection: Connection, snapshot_id: int, *, serving: bool) -> None:
    """A deployment of `snapshot_id` is deleted: run before its snapshot's entries may go."""
    UNCOUNT_DEPLOYMENT.run(connection, {"snapshot": snapshot_id, "serving": int(serving)})
    DELETE_UNUSED_OF_SNAPSHOT.run(connection, {"snapshot": snapshot_id})


def uncount_project(connection: Connection, project_id: str) -> None:
    """Every deployment of the project is about to be deleted: run before they are."""
    counts = [
        {"resource_id": resource_id, "secrets_version": version, "live": live, "serving": serving}
        for resource_id, version, live, serving in OF_PROJECT.rows(
            connection, {"project": project_id}
        )
    ]
    SUBTRACT_COUNTS.run_many(connection, counts)
    DELETE_UNUSED.run_many(connection, counts)


def add_counts(connection: Connection, counts: Iterable[Mapping[str, object]]) -> None:
    """Add rows of numbers ({resource_id, secrets_version, live, serving, newest_at,
    oldest_at}) to the counts, as deployments written in bulk need."""
    ADD_COUNTS.run_many(connection, list(counts))
