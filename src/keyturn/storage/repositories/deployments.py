"""Deployments: their references to the secrets versions they were built with, and their
copied user variables (sealed once per deployment, as one value of its row).

Both are written once, when the deployment is created, and never updated: that is what makes
"this deployment still runs version N" a fact to look up rather than a guess. A deployment of
20 resources of 20 secrets writes 21 small rows, not a sealed copy of its 400 derived values,
however many user variables it copies.

The one thing that changes is each reference's `serving` flag, which the usage ledger counts:
whether the deployment is still the newest of its project, target and git branch (by
`created_at`, then id). Creating a deployment and deleting one keep it true for exactly the
newest of the group, touching at most two deployments' references.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update

from keyturn.domain.clock import Clock
from keyturn.domain.deployments import Deployment, SecretsVersionUsed
from keyturn.domain.ids import IdSource
from keyturn.storage.dialect import lock_table
from keyturn.storage.encryption import KeyRing
from keyturn.storage.repositories.batches import batches
from keyturn.storage.repositories.columns import environment_columns, environments_of
from keyturn.storage.tables import deployment_secrets_versions, deployments, resources

# What creating a deployment writes, built once: the rows go as parameters, so SQLAlchemy
# compiles each statement once per process instead of building and keying it per request.
INSERT_DEPLOYMENT = insert(deployments)
INSERT_REFERENCES = insert(deployment_secrets_versions)
NEWEST_OF_GROUP = (
    select(deployments.c.created_at, deployments.c.id)
    .where(
        deployments.c.project_id == bindparam("project_id"),
        deployments.c.target == bindparam("target"),
        deployments.c.git_branch.is_not_distinct_from(bindparam("git_branch")),
    )
    .order_by(deployments.c.created_at.desc(), deployments.c.id.desc())
    .limit(1)
)
SET_SERVING = (
    update(deployment_secrets_versions)
    # Not the columns' names: an UPDATE keeps those for its SET values.
    .where(deployment_secrets_versions.c.deployment_id == bindparam("deployment"))
    .values(serving=bindparam("now_serving"))
)
# A deployment's record as `get` and listings read it: not its sealed copies, which only a
# pull of its env opens (`copied_env`).
RECORD_COLUMNS = [column for column in deployments.c if column.name != "copied_env_ciphertext"]
COPIED_ENV = select(deployments.c.copied_env_ciphertext).where(
    deployments.c.id == bindparam("deployment_id")
)


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
        serving = previous is None or (deployment.created_at, deployment.id) > previous
        if serving and previous is not None:
            self._set_serving(previous[1], serving=False)
        self._connection.execute(
            INSERT_DEPLOYMENT,
            {
                "id": deployment.id,
                "project_id": project_id,
                "name": name,
                "target": target,
                "git_branch": git_branch,
                "url": deployment.url,
                "created_at": deployment.created_at,
                "copied_env_ciphertext": seal_copied_env(self._keys, deployment_id, copied),
            },
        )
        if secrets_versions:
            self._connection.execute(
                INSERT_REFERENCES,
                [
                    {
                        "deployment_id": deployment_id,
                        "resource_id": used.resource_id,
                        "secrets_version": used.secrets_version,
                        "env_var_prefix": used.env_var_prefix,
                        "make_sensitive": used.make_sensitive,
                        "created_at": deployment.created_at,
                        "serving": serving,
                        **environment_columns(used.environments),
                    }
                    for used in secrets_versions
                ],
            )
        return deployment

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
        was_newest = self._newest_of_group(*group) == (deployment.created_at, deployment.id)
        self._connection.execute(
            delete(deployment_secrets_versions).where(
                deployment_secrets_versions.c.deployment_id == deployment.id
            )
        )
        self._connection.execute(delete(deployments).where(deployments.c.id == deployment.id))
        if was_newest:
            successor = self._newest_of_group(*group)
            if successor is not None:
                self._set_serving(successor[1], serving=True)

    def _newest_of_group(
        self, project_id: str, target: str, git_branch: str | None
    ) -> tuple[int, str] | None:
        """(created_at, id) of the group's newest deployment, if it has one."""
        row = self._connection.execute(
            NEWEST_OF_GROUP,
            {"project_id": project_id, "target": target, "git_branch": git_branch},
        ).first()
        return None if row is None else (row.created_at, row.id)

    def _set_serving(self, deployment_id: str, *, serving: bool) -> None:
        self._connection.execute(SET_SERVING, {"deployment": deployment_id, "now_serving": serving})

    def _with_versions(self, rows: Sequence[Row[Any]]) -> list[Deployment]:
        ids = [row.id for row in rows]
        used: dict[str, list[SecretsVersionUsed]] = {}
        if ids:
            for version_row in self._connection.execute(
                select(
                    deployment_secrets_versions,
                    resources.c.secrets_version.label("current_version"),
                    resources.c.deleted_at,
                )
                .join(
                    resources,
                    resources.c.internal_id == deployment_secrets_versions.c.resource_id,
                )
                .where(deployment_secrets_versions.c.deployment_id.in_(ids))
                .order_by(deployment_secrets_versions.c.resource_id)
            ):
                used.setdefault(version_row.deployment_id, []).append(
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
                secrets_versions=tuple(used.get(row.id, [])),
            )
            for row in rows
        ]


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
