"""Projects, and the locks that keep a key once per project and environment.

On PostgreSQL (SQLite's writers are serial already):

* `lock` is the per-project write lock (`SELECT ... FOR UPDATE`): a connection, a user
  variable or a project delete takes it, so two writers of one project run one after another.
* `lock_env_keys` takes a transaction lock per env var key, across all projects: whatever is
  about to add a key (a connection, a user variable, a secrets PUT with new names) takes the
  locks of the keys it adds before it checks they are free, so two writers adding one key
  cannot both pass the check. A secrets PUT therefore needs no lock on its resource's connected
  projects, however many there are. The check must read after the lock: these writers run in
  READ COMMITTED, where each statement sees what committed before it.

Locks are always taken resource first, then projects in id order, then keys (in one statement,
in one order), and nothing takes a lock after its keys, so writers never wait in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, exists, insert, select, update

from keyturn.domain.accounts import Project
from keyturn.domain.clock import Clock
from keyturn.domain.ids import IdSource
from keyturn.storage.dialect import advisory_locks, lock_rows
from keyturn.storage.driver import DriverStatement
from keyturn.storage.repositories.batches import batches
from keyturn.storage.repositories.version_usage import uncount_project
from keyturn.storage.tables import (
    connections,
    deployments,
    env_snapshot_versions,
    env_snapshots,
    projects,
    user_env_vars,
)

# A project's columns in `Project`'s field order, read by position.
PROJECT = (
    projects.c.id,
    projects.c.team_id,
    projects.c.name,
    projects.c.created_at,
    projects.c.updated_at,
)
# The look-ups of every project request (`find_project`), built once and run on the driver's
# connection (storage/driver.py). Only the bound values change.
PROJECT_BY_ID = DriverStatement(select(*PROJECT).where(projects.c.id == bindparam("project_id")))
PROJECT_BY_NAME = DriverStatement(
    select(*PROJECT).where(
        projects.c.team_id == bindparam("team_id"), projects.c.name == bindparam("name")
    )
)


class ProjectRepository:
    def __init__(self, connection: Connection, *, clock: Clock, ids: IdSource) -> None:
        self._connection = connection
        self._clock = clock
        self._ids = ids

    def add(self, team_id: str, name: str, *, project_id: str | None = None) -> Project:
        """A new project; `project_id` when the caller gives one (a seed), else a new id."""
        now = self._clock.now_ms()
        project = Project(
            id=project_id or self._ids.new("prj"),
            team_id=team_id,
            name=name,
            created_at=now,
            updated_at=now,
        )
        self._connection.execute(
            insert(projects).values(
                id=project.id, team_id=team_id, name=name, created_at=now, updated_at=now
            )
        )
        return project

    def by_id(self, project_id: str) -> Project | None:
        row = PROJECT_BY_ID.first(self._connection, {"project_id": project_id})
        return _project(row) if row else None

    def by_name(self, team_id: str, name: str) -> Project | None:
        row = PROJECT_BY_NAME.first(self._connection, {"team_id": team_id, "name": name})
        return _project(row) if row else None

    def of_team(self, team_id: str) -> list[Project]:
        rows = self._connection.execute(
            select(*PROJECT).where(projects.c.team_id == team_id).order_by(projects.c.created_at)
        ).all()
        return [_project(row) for row in rows]

    def lock(self, project_ids: Iterable[str]) -> None:
        """Take the write lock of these projects, in id order."""
        for batch in batches(project_ids):  # batches are sorted, so the lock order holds
            lock_rows(
                self._connection,
                select(projects.c.id).where(projects.c.id.in_(batch)).order_by(projects.c.id),
            )

    def lock_env_keys(self, keys: Iterable[str]) -> None:
        """Take the lock of these env var keys, in every project, until the commit."""
        advisory_locks(self._connection, (f"env-key/{key}" for key in keys))

    def touch(self, project_id: str) -> None:
        self._connection.execute(
            update(projects)
            .where(projects.c.id == project_id)
            .values(updated_at=self._clock.now_ms())
        )

    def delete(self, project: Project) -> None:
        """Delete the project with its connections, variables and deployments."""
        named = list(
            self._connection.execute(
                select(deployments.c.env_snapshot_id)
                .where(
                    deployments.c.project_id == project.id,
                    deployments.c.env_snapshot_id.is_not(None),
                )
                .distinct()
            ).scalars()
        )
        uncount_project(self._connection, project.id)
        for table in (deployments, connections, user_env_vars):
            self._connection.execute(delete(table).where(table.c.project_id == project.id))
        # The snapshots its deployments named, unless another project's deployments do.
        for batch in batches(named):
            unused = select(env_snapshots.c.id).where(
                env_snapshots.c.id.in_(batch),
                ~exists().where(deployments.c.env_snapshot_id == env_snapshots.c.id),
            )
            gone = list(self._connection.execute(unused).scalars())
            if gone:
                self._connection.execute(
                    delete(env_snapshot_versions).where(
                        env_snapshot_versions.c.snapshot_id.in_(gone)
                    )
                )
                self._connection.execute(delete(env_snapshots).where(env_snapshots.c.id.in_(gone)))
        self._connection.execute(delete(projects).where(projects.c.id == project.id))


def _project(row: Sequence[Any]) -> Project:
    """A row selected as `PROJECT`."""
    project_id, team_id, name, created_at, updated_at = row
    return Project(project_id, team_id, name, created_at, updated_at)
