"""Projects, their connections to resources, and their users' own env vars.

`lock` is the per-project write lock on PostgreSQL (`SELECT ... FOR UPDATE`): whatever adds a
key to a project's env (a connection, a user variable, a secrets PUT with new names) takes it,
so two of them cannot both pass the conflict check. Locks are always taken resource first,
then projects in id order, so writers never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection as SQLConnection
from sqlalchemy import Row, delete, insert, select, true, update

from keyturn.domain.accounts import Project
from keyturn.domain.environment import ConnectedResource, Connection, UserEnvVar
from keyturn.domain.envkeys import ENVIRONMENTS, in_standard_order
from keyturn.domain.ids import new_env_var_id, new_id, now_ms
from keyturn.storage.encryption import KeyRing
from keyturn.storage.repositories.batches import batches
from keyturn.storage.tables import (
    connections,
    deployment_env,
    deployment_secrets_versions,
    deployments,
    installations,
    projects,
    resources,
    user_env_vars,
)


class ProjectRepository:
    def __init__(self, connection: SQLConnection, keys: KeyRing) -> None:
        self._connection = connection
        self._keys = keys

    # Projects

    def add(self, team_id: str, name: str) -> Project:
        now = now_ms()
        project = Project(
            id=new_id("prj"), team_id=team_id, name=name, created_at=now, updated_at=now
        )
        self._connection.execute(
            insert(projects).values(
                id=project.id, team_id=team_id, name=name, created_at=now, updated_at=now
            )
        )
        return project

    def by_id(self, project_id: str) -> Project | None:
        row = self._connection.execute(select(projects).where(projects.c.id == project_id)).first()
        return _project(row) if row else None

    def by_name(self, team_id: str, name: str) -> Project | None:
        row = self._connection.execute(
            select(projects).where(projects.c.team_id == team_id, projects.c.name == name)
        ).first()
        return _project(row) if row else None

    def of_team(self, team_id: str) -> list[Project]:
        rows = self._connection.execute(
            select(projects).where(projects.c.team_id == team_id).order_by(projects.c.created_at)
        ).all()
        return [_project(row) for row in rows]

    def lock(self, project_ids: Iterable[str]) -> None:
        """Take the write lock of these projects, in id order (PostgreSQL; SQLite is serial)."""
        if self._connection.dialect.name != "postgresql":
            return
        for batch in batches(project_ids):  # batches are sorted, so the lock order holds
            self._connection.execute(
                select(projects.c.id)
                .where(projects.c.id.in_(batch))
                .order_by(projects.c.id)
                .with_for_update()
            )

    def touch(self, project_id: str) -> None:
        self._connection.execute(
            update(projects).where(projects.c.id == project_id).values(updated_at=now_ms())
        )

    def delete(self, project: Project) -> None:
        """Delete the project with its connections, variables and deployments."""
        owned = select(deployments.c.id).where(deployments.c.project_id == project.id)
        self._connection.execute(
            delete(deployment_env).where(deployment_env.c.deployment_id.in_(owned))
        )
        self._connection.execute(
            delete(deployment_secrets_versions).where(
                deployment_secrets_versions.c.deployment_id.in_(owned)
            )
        )
        for table in (deployments, connections, user_env_vars):
            self._connection.execute(delete(table).where(table.c.project_id == project.id))
        self._connection.execute(delete(projects).where(projects.c.id == project.id))

    # Connections

    def connect(
        self,
        resource_id: str,
        project_id: str,
        environments: Sequence[str],
        env_var_prefix: str | None,
        make_sensitive: bool,
    ) -> Connection:
        connection = Connection(
            id=new_id("conn"),
            resource_id=resource_id,
            project_id=project_id,
            environments=in_standard_order(environments),
            env_var_prefix=env_var_prefix,
            make_sensitive=make_sensitive,
            created_at=now_ms(),
        )
        self._connection.execute(
            insert(connections).values(
                id=connection.id,
                resource_id=resource_id,
                project_id=project_id,
                env_var_prefix=env_var_prefix,
                make_sensitive=make_sensitive,
                created_at=connection.created_at,
                **_environment_columns(connection.environments),
            )
        )
        return connection

    def connection(self, resource_id: str, project_id: str) -> Connection | None:
        row = self._connection.execute(
            select(connections).where(
                connections.c.resource_id == resource_id, connections.c.project_id == project_id
            )
        ).first()
        return _connection(row) if row else None

    def connections_of_resource(self, resource_id: str) -> list[Connection]:
        rows = self._connection.execute(
            select(connections)
            .where(connections.c.resource_id == resource_id)
            .order_by(connections.c.created_at, connections.c.id)
        ).all()
        return [_connection(row) for row in rows]

    def connections_of_projects(
        self, project_ids: Iterable[str]
    ) -> list[tuple[Connection, ConnectedResource]]:
        """Connections of these projects to live resources, with what a record says of each."""
        rows = [
            row
            for batch in batches(project_ids)
            for row in self._connection.execute(
                select(
                    connections,
                    resources.c.installation_id,
                    resources.c.product_id,
                    resources.c.secrets_version,
                    resources.c.updated_at.label("resource_updated_at"),
                    installations.c.integration_id,
                )
                .join(resources, resources.c.internal_id == connections.c.resource_id)
                .join(installations, installations.c.id == resources.c.installation_id)
                .where(connections.c.project_id.in_(batch), resources.c.deleted_at.is_(None))
            )
        ]
        rows.sort(key=lambda row: (row.created_at, row.id))
        return [
            (
                _connection(row),
                ConnectedResource(
                    internal_id=row.resource_id,
                    installation_id=row.installation_id,
                    integration_id=row.integration_id,
                    product_id=row.product_id,
                    secrets_version=row.secrets_version,
                    updated_at=row.resource_updated_at,
                ),
            )
            for row in rows
        ]

    def disconnect(self, connection: Connection) -> None:
        self._connection.execute(delete(connections).where(connections.c.id == connection.id))

    # User env vars

    def add_user_var(
        self,
        project_id: str,
        *,
        key: str,
        value: str,
        type_: str,
        targets: Sequence[str],
        git_branch: str | None,
        comment: str | None,
    ) -> UserEnvVar:
        now = now_ms()
        var = UserEnvVar(
            id=new_env_var_id(),
            project_id=project_id,
            key=key,
            value=value,
            type=type_,
            targets=in_standard_order(targets),
            git_branch=git_branch,
            comment=comment,
            created_at=now,
            updated_at=now,
        )
        self._connection.execute(insert(user_env_vars).values(**self._user_var_values(var)))
        return var

    def replace_user_var(self, var: UserEnvVar) -> None:
        """Store `var` (same id) with its new key, value, type, targets, branch and comment."""
        values = self._user_var_values(var)
        del values["id"], values["created_at"]
        self._connection.execute(
            update(user_env_vars).where(user_env_vars.c.id == var.id).values(**values)
        )

    def delete_user_var(self, var: UserEnvVar) -> None:
        self._connection.execute(delete(user_env_vars).where(user_env_vars.c.id == var.id))

    def user_vars(self, project_id: str) -> list[UserEnvVar]:
        rows = self._connection.execute(
            select(user_env_vars)
            .where(user_env_vars.c.project_id == project_id)
            .order_by(user_env_vars.c.key, user_env_vars.c.created_at)
        ).all()
        return [self._user_var(row) for row in rows]

    def user_var_keys(
        self, project_ids: Iterable[str], only_keys: Iterable[str] | None = None
    ) -> list[tuple[str, str, str, tuple[str, ...]]]:
        """(id, project, key, targets) of these projects' user variables, without decrypting;
        with `only_keys`, of the variables with those keys alone."""
        key_filter = (
            user_env_vars.c.key.in_(sorted(set(only_keys))) if only_keys is not None else true()
        )
        rows = [
            row
            for batch in batches(project_ids)
            for row in self._connection.execute(
                select(
                    user_env_vars.c.id,
                    user_env_vars.c.project_id,
                    user_env_vars.c.key,
                    user_env_vars.c.in_production,
                    user_env_vars.c.in_preview,
                    user_env_vars.c.in_development,
                ).where(user_env_vars.c.project_id.in_(batch), key_filter)
            )
        ]
        return [(row.id, row.project_id, row.key, _environments(row)) for row in rows]

    def _user_var_values(self, var: UserEnvVar) -> dict[str, Any]:
        return {
            "id": var.id,
            "project_id": var.project_id,
            "key": var.key,
            "type": var.type,
            "git_branch": var.git_branch,
            "comment": var.comment,
            "value_ciphertext": self._keys.seal(
                var.value, associated_data=_user_var_identity(var.project_id, var.id)
            ),
            "created_at": var.created_at,
            "updated_at": var.updated_at,
            **_environment_columns(var.targets),
        }

    def _user_var(self, row: Row[Any]) -> UserEnvVar:
        return UserEnvVar(
            id=row.id,
            project_id=row.project_id,
            key=row.key,
            value=self._keys.open(
                row.value_ciphertext, associated_data=_user_var_identity(row.project_id, row.id)
            ),
            type=row.type,
            targets=_environments(row),
            git_branch=row.git_branch,
            comment=row.comment,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _user_var_identity(project_id: str, var_id: str) -> str:
    return f"user-env/{project_id}/{var_id}"


def _environment_columns(environments: Sequence[str]) -> dict[str, bool]:
    return {f"in_{environment}": environment in environments for environment in ENVIRONMENTS}


def _environments(row: Any) -> tuple[str, ...]:
    return tuple(e for e in ENVIRONMENTS if getattr(row, f"in_{e}"))


def _project(row: Row[Any]) -> Project:
    return Project(
        id=row.id,
        team_id=row.team_id,
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _connection(row: Row[Any]) -> Connection:
    return Connection(
        id=row.id,
        resource_id=row.resource_id,
        project_id=row.project_id,
        environments=_environments(row),
        env_var_prefix=row.env_var_prefix,
        make_sensitive=row.make_sensitive,
        created_at=row.created_at,
    )
