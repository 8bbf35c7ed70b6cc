"""Deployments: their references to the secrets versions they were built with, and their
copied user variables (sealed once per deployment, as one value of its row).

Both are written once, when the deployment is created, and never updated: that is what makes
"this deployment still runs version N" a fact to look up rather than a guess. The references
are an env snapshot: one row per connected resource (its version and the connection's shape),
immutable, and shared by every deployment that saw the same ones, of any project. It is found
by its digest, so a deployment after no change writes its own row and nothing else, and one
after a rotation writes a new snapshot. A snapshot goes when its last deployment does.

The one thing that changes is a deployment's `serving` flag, which the usage ledger counts:
whether it is still the newest of its project, target and git branch (by `created_at`, then
id). Creating a deployment and deleting one keep it true for exactly the newest of the group,
updating at most one other deployment's row, and keep the ledger's counts per version
(version_usage.py) in the same transaction: one statement per snapshot whose counts change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, exists, func, insert, select, update

from keyturn.domain.clock import Clock
from keyturn.domain.deployments import Deployment, SecretsVersionUsed
from keyturn.domain.ids import IdSource
from keyturn.storage.dialect import lock_table
from keyturn.storage.driver import DriverStatement
from keyturn.storage.encryption import KeyRing
from keyturn.storage.repositories.batches import batches
from keyturn.storage.repositories.columns import environment_columns, environments_of
from keyturn.storage.repositories.version_usage import (
    count_deployment,
    count_serving,
    uncount_deployment,
)
from keyturn.storage.tables import deployments, env_snapshot_versions, env_snapshots, resources

entries = env_snapshot_versions

# What creating a deployment writes, built once: the rows go as parameters. The statements
# every deployment create runs are on the driver's connection (storage/driver.py).
DEPLOYMENT_ROW = (
    "id",
    "project_id",
    "name",
    "target",
    "git_branch",
    "url",
    "created_at",
    "copied_env_ciphertext",
    "env_snapshot_id",
    "serving",
)
INSERT_DEPLOYMENT = DriverStatement(insert(deployments), column_keys=DEPLOYMENT_ROW)
FIND_SNAPSHOT = DriverStatement(
    select(env_snapshots.c.id).where(env_snapshots.c.digest == bindparam("digest"))
)
INSERT_SNAPSHOT = insert(env_snapshots).returning(env_snapshots.c.id)
INSERT_ENTRIES = insert(entries)
NEWEST_OF_GROUP = DriverStatement(
    select(deployments.c.created_at, deployments.c.id, deployments.c.env_snapshot_id)
    .where(
        deployments.c.project_id == bindparam("project_id"),
        deployments.c.target == bindparam("target"),
        deployments.c.git_branch.is_not_distinct_from(bindparam("git_branch")),
    )
    .order_by(deployments.c.created_at.desc(), deployments.c.id.desc())
    .limit(1)
)
SET_SERVING = DriverStatement(
    update(deployments)
    # Not the columns' names: an UPDATE keeps those for its SET values.
    .where(deployments.c.id == bindparam("deployment"))
    .values(serving=bindparam("now_serving"))
)
# A snapshot no deployment names any more (run after deleting one that named it).
UNUSED_SNAPSHOT = ~exists().where(deployments.c.env_snapshot_id == bindparam("snapshot"))
DELETE_UNUSED_ENTRIES = delete(entries).where(
    entries.c.snapshot_id == bindparam("snapshot"), UNUSED_SNAPSHOT
)
DELETE_UNUSED_SNAPSHOT = delete(env_snapshots).where(
    env_snapshots.c.id == bindparam("snapshot"), UNUSED_SNAPSHOT
)
# A deployment's record as `get` and listings read it: not its sealed copies, which only a
# pull of its env opens (`copied_env`).
RECORD_COLUMNS = [column for column in deployments.c if column.name != "copied_env_ciphertext"]
COPIED_ENV = select(deployments.c.copied_env_ciphertext).where(
    deployments.c.id == bindparam("deployment_id")
)


@dataclass(frozen=True, slots=True)
class GroupNewest:
    """The newest deployment of a project, target and git branch: what `serving` follows."""

    created_at: int
    id: str
    snapshot_id: int | None

    @property
    def order(self) -> tuple[int, str]:
        return (self.created_at, self.id)


class DeploymentRepository:
    def __init__(
        self, connection: Connection, keys: KeyRing, *, clock: Clock, ids: IdSource
    ) -> None:
        self._connection = connection
        self._clock = clock
        self._ids = ids
        self._keys = keys

    def lock_for_changes(self) -> None:
        """Make this transaction the only one creating or deleting deployments until it ends
        (PostgreSQL; SQLite's writers are serial already), so that each group's newest is
        decided on what is committed. Call it first: a REPEATABLE READ transaction's snapshot
        is taken by its first query, and this lock takes none."""
        lock_table(self._connection, deployments)

    def add(
        self,
        *,
        project_id: str,
        name: str,
        target: str,
        git_branch: str | None,
        copied: Mapping[str, tuple[str, str]],
        secrets_versions: Sequence[SecretsVersionUsed],
        url_host: str,
    ) -> Deployment:
        """Store a deployment, its references and its copied variables ({key: (value, type)})."""
        deployment_id = self._ids.new("dpl")
        previous = self._newest_of_group(project_id, target, git_branch)
        deployment = Deployment(
            id=deployment_id,
            project_id=project_id,
            name=name,
            target=target,
            git_branch=git_branch,
            url=f"{name}-{deployment_id.removeprefix('dpl_')[:9].lower()}.{url_host}",
            created_at=self._clock.now_ms(),
            secrets_versions=tuple(secrets_versions),
        )
        serving = previous is None or (deployment.created_at, deployment.id) > previous.order
        snapshot_id = self._snapshot(secrets_versions) if secrets_versions else None
        # The serving counts of the predecessor's versions lose one and this one's gain one:
        # nothing to change in sum when both name the same snapshot (no change in between).
        serving_added = int(serving)
        if serving and previous is not None:
            self._set_serving(previous.id, serving=False)
            if previous.snapshot_id == snapshot_id:
                serving_added = 0
            elif previous.snapshot_id is not None:
                count_serving(self._connection, previous.snapshot_id, -1)
        if snapshot_id is not None:
            count_deployment(
                self._connection, snapshot_id, serving=serving_added, at=deployment.created_at
            )
        INSERT_DEPLOYMENT.run(
            self._connection,
            {
                "id": deployment.id,
                "project_id": project_id,
                "name": name,
                "target": target,
                "git_branch": git_branch,
                "url": deployment.url,
                "created_at": deployment.created_at,
                "copied_env_ciphertext": seal_copied_env(self._keys, deployment_id, copied),
                "env_snapshot_id": snapshot_id,
                "serving": serving,
            },
        )
        return deployment

    def _snapshot(self, secrets_versions: Sequence[SecretsVersionUsed]) -> int:
        """The id of the snapshot of these references, written if it is new."""
        rows = snapshot_entries(secrets_versions)
        digest = snapshot_digest(rows)
        found = FIND_SNAPSHOT.first(self._connection, {"digest": digest})
        if found is not None:
            return int(found[0])
        # Deployments are created one at a time (`lock_for_changes`), so no other transaction
        # can be writing the same snapshot.
        snapshot_id = int(
            self._connection.execute(INSERT_SNAPSHOT, {"digest": digest}).scalar_one()
        )
        self._connection.execute(
            INSERT_ENTRIES,
            [
                {"snapshot_id": snapshot_id, **dict(zip(ENTRY_COLUMNS, row, strict=True))}
                for row in rows
            ],
        )
        return snapshot_id

    def get(self, deployment_id: str) -> Deployment | None:
        row = self._connection.execute(
            select(*RECORD_COLUMNS).where(deployments.c.id == deployment_id)
        ).first()
        if row is None:
            return None
        return self._with_versions([row])[0]

    def of_projects(
        self, project_ids: Sequence[str], *, target: str | None, limit: int
    ) -> list[Deployment]:
        """The newest `limit` deployments of these projects, newest first."""
        rows: list[Row[Any]] = []
        for batch in batches(project_ids):
            query = select(*RECORD_COLUMNS).where(deployments.c.project_id.in_(batch))
            if target is not None:
                query = query.where(deployments.c.target == target)
            rows += self._connection.execute(
                query.order_by(deployments.c.created_at.desc(), deployments.c.id).limit(limit)
            ).all()
        rows.sort(key=lambda row: (-row.created_at, row.id))
        return self._with_versions(rows[:limit])

    def count_of_projects(self, project_ids: Sequence[str], *, target: str | None) -> int:
        total = 0
        for batch in batches(project_ids):
            query = select(func.count()).where(deployments.c.project_id.in_(batch))
            if target is not None:
                query = query.where(deployments.c.target == target)
            total += int(self._connection.execute(query).scalar_one())
        return total

    def copied_env(self, deployment: Deployment) -> dict[str, tuple[str, str]]:
        """The variables copied when the deployment was made: {key: (value, type)}."""
        sealed = self._connection.execute(COPIED_ENV, {"deployment_id": deployment.id}).scalar()
        return open_copied_env(self._keys, deployment.id, sealed)

    def delete(self, deployment: Deployment) -> None:
        """Delete it; if it was the newest of its group, the next newest serves now."""
        group = (deployment.project_id, deployment.target, deployment.git_branch)
        newest = self._newest_of_group(*group)
        was_newest = newest is not None and newest.id == deployment.id
        snapshot_id, serving = self._connection.execute(
            delete(deployments)
            .where(deployments.c.id == deployment.id)
            .returning(deployments.c.env_snapshot_id, deployments.c.serving)
        ).one()
        if snapshot_id is not None:
            uncount_deployment(self._connection, snapshot_id, serving=serving)
            self._connection.execute(DELETE_UNUSED_ENTRIES, {"snapshot": snapshot_id})
            self._connection.execute(DELETE_UNUSED_SNAPSHOT, {"snapshot": snapshot_id})
        if was_newest:
            successor = self._newest_of_group(*group)
            if successor is not None:
                self._set_serving(successor.id, serving=True)
                if successor.snapshot_id is not None:
                    count_serving(self._connection, successor.snapshot_id, 1)

    def _newest_of_group(
        self, project_id: str, target: str, git_branch: str | None
    ) -> GroupNewest | None:
        """The group's newest deployment, if it has one."""
        row = NEWEST_OF_GROUP.first(
            self._connection,
            {"project_id": project_id, "target": target, "git_branch": git_branch},
        )
        return None if row is None else GroupNewest(row[0], row[1], row[2])

    def _set_serving(self, deployment_id: str, *, serving: bool) -> None:
        SET_SERVING.run(self._connection, {"deployment": deployment_id, "now_serving": serving})

    def _with_versions(self, rows: Sequence[Row[Any]]) -> list[Deployment]:
        snapshot_ids = sorted({row.env_snapshot_id for row in rows} - {None})
        used: dict[int, list[SecretsVersionUsed]] = {}
        if snapshot_ids:
            for version_row in self._connection.execute(
                select(
                    entries,
                    resources.c.secrets_version.label("current_version"),
                    resources.c.deleted_at,
                )
                .join(resources, resources.c.internal_id == entries.c.resource_id)
                .where(entries.c.snapshot_id.in_(snapshot_ids))
                .order_by(entries.c.resource_id)
            ):
                used.setdefault(version_row.snapshot_id, []).append(
                    SecretsVersionUsed(
                        resource_id=version_row.resource_id,
                        secrets_version=version_row.secrets_version,
                        environments=environments_of(version_row),
                        env_var_prefix=version_row.env_var_prefix,
                        make_sensitive=version_row.make_sensitive,
                        current_version=None
                        if version_row.deleted_at is not None
                        else version_row.current_version,
                    )
                )
        return [
            Deployment(
                id=row.id,
                project_id=row.project_id,
                name=row.name,
                target=row.target,
                git_branch=row.git_branch,
                url=row.url,
                created_at=row.created_at,
                secrets_versions=tuple(used.get(row.env_snapshot_id, [])),
            )
            for row in rows
        ]


# A snapshot's entries, in this order: the columns, and the digest's fields.
ENTRY_COLUMNS = (
    "resource_id",
    "secrets_version",
    "env_var_prefix",
    "in_production",
    "in_preview",
    "in_development",
    "make_sensitive",
)


def snapshot_entries(secrets_versions: Sequence[SecretsVersionUsed]) -> list[tuple[Any, ...]]:
    """The references as a snapshot's rows (`ENTRY_COLUMNS`), by resource."""
    return sorted(
        (
            used.resource_id,
            used.secrets_version,
            used.env_var_prefix,
            *environment_columns(used.environments).values(),
            used.make_sensitive,
        )
        for used in secrets_versions
    )


def snapshot_digest(rows: Sequence[Sequence[Any]]) -> str:
    """A snapshot's address: the SHA-256 of its rows as compact JSON (migration 0013 computes
    the same for the snapshots it makes, so later deployments share them)."""
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def copied_env_identity(deployment_id: str) -> str:
    """Associated data of a deployment's copied variables (also used by sealed_columns.py to
    re-seal them)."""
    return f"deployment-copied-env/{deployment_id}"


def seal_copied_env(
    keys: KeyRing, deployment_id: str, copied: Mapping[str, tuple[str, str]]
) -> bytes | None:
    """{key: (value, type)} sealed once, as a JSON list of [key, type, value] in key order
    (lists, not objects: no field name repeated per variable); None when there are none."""
    if not copied:
        return None
    listed = [[key, kind, value] for key, (value, kind) in sorted(copied.items())]
    return keys.seal(
        json.dumps(listed, separators=(",", ":"), ensure_ascii=False),
        associated_data=copied_env_identity(deployment_id),
    )


def open_copied_env(
    keys: KeyRing, deployment_id: str, sealed: bytes | None
) -> dict[str, tuple[str, str]]:
    """What `seal_copied_env` sealed, {key: (value, type)}."""
    if sealed is None:
        return {}
    listed = json.loads(keys.open(sealed, associated_data=copied_env_identity(deployment_id)))
    return {key: (value, kind) for key, kind, value in listed}
