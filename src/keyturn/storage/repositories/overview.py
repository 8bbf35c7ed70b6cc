"""Team-wide reads for the owners' dashboard: summaries, counted in the database.

Every query here is scoped by the team (or by ids a team-scoped query returned), and counts
with `GROUP BY` or correlated subqueries, so a page of a team with 1,000 projects and 10,000
deployments costs a handful of statements, not one per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection as SQLConnection
from sqlalchemy import Row, and_, func, select

from keyturn.domain.accounts import Project
from keyturn.domain.environment import Connection
from keyturn.domain.overview import (
    ProjectSummary,
    ResourceConnection,
    ResourceName,
    StaleDeployment,
    TeamInstallation,
)
from keyturn.storage.repositories.batches import batches
from keyturn.storage.repositories.columns import environments_of
from keyturn.storage.tables import (
    connections,
    deployments,
    env_snapshot_versions,
    installations,
    integrations,
    products,
    projects,
    resource_secrets,
    resources,
)


class OverviewRepository:
    def __init__(self, connection: SQLConnection) -> None:
        self._connection = connection

    def installations_of_team(self, team_id: str) -> list[TeamInstallation]:
        rows = self._connection.execute(
            select(installations.c.id, installations.c.integration_id, integrations.c.name)
            .join(integrations, integrations.c.id == installations.c.integration_id)
            .where(installations.c.team_id == team_id)
            .order_by(installations.c.created_at, installations.c.id)
        ).all()
        return [
            TeamInstallation(
                id=row.id, integration_id=row.integration_id, integration_name=row.name
            )
            for row in rows
        ]

    def product_names(self, product_ids: Iterable[str]) -> dict[str, str]:
        return {
            row.id: row.name
            for batch in batches(set(product_ids))
            for row in self._connection.execute(
                select(products.c.id, products.c.name).where(products.c.id.in_(batch))
            )
        }

    def secret_counts(self, resource_ids: Iterable[str]) -> dict[str, int]:
        """Current secrets per resource (names only are counted; nothing is decrypted)."""
        return self._counts(
            resource_secrets.c.resource_id, resource_ids, resource_secrets.c.valid_to.is_(None)
        )

    def connection_counts(self, resource_ids: Iterable[str]) -> dict[str, int]:
        return self._counts(connections.c.resource_id, resource_ids)

    def resource_names(self, internal_ids: Iterable[str]) -> dict[str, ResourceName]:
        """The resources with these internal ids, deleted ones included."""
        columns = (
            resources.c.internal_id,
            resources.c.installation_id,
            resources.c.partner_id,
            resources.c.name,
            resources.c.secrets_version,
            resources.c.deleted_at,
        )
        return {
            row.internal_id: ResourceName(
                internal_id=row.internal_id,
                installation_id=row.installation_id,
                partner_id=row.partner_id,
                name=row.name,
                secrets_version=row.secrets_version,
                deleted=row.deleted_at is not None,
            )
            for batch in batches(set(internal_ids))
            for row in self._connection.execute(
                select(*columns).where(resources.c.internal_id.in_(batch))
            )
        }

    def connections_of_resource(self, resource_id: str, *, limit: int) -> list[ResourceConnection]:
        """The first `limit` connections of the resource, by project name."""
        rows = self._connection.execute(
            select(connections, projects.c.name.label("project_name"))
            .join(projects, projects.c.id == connections.c.project_id)
            .where(connections.c.resource_id == resource_id)
            .order_by(projects.c.name)
            .limit(limit)
        ).all()
        return [
            ResourceConnection(
                connection=Connection(
                    id=row.id,
                    resource_id=row.resource_id,
                    project_id=row.project_id,
                    environments=environments_of(row),
                    env_var_prefix=row.env_var_prefix,
                    make_sensitive=row.make_sensitive,
                    created_at=row.created_at,
                ),
                project_name=row.project_name,
            )
            for row in rows
        ]

    def stale_deployments(
        self, resource_id: str, current_version: int, *, limit: int
    ) -> tuple[list[StaleDeployment], int]:
        """The newest `limit` live deployments that recorded another version of the resource
        than `current_version`, with their projects, and how many there are in all."""
        used = env_snapshot_versions
        stale = and_(
            used.c.resource_id == resource_id,
            used.c.secrets_version != current_version,
            used.c.snapshot_id == deployments.c.env_snapshot_id,
        )
        rows = self._connection.execute(
            select(
                deployments.c.id,
                deployments.c.project_id,
                projects.c.name.label("project_name"),
                deployments.c.target,
                deployments.c.git_branch,
                deployments.c.created_at,
                used.c.secrets_version,
                deployments.c.serving,
            )
            .join(used, stale)
            .join(projects, projects.c.id == deployments.c.project_id)
            .order_by(deployments.c.created_at.desc(), deployments.c.id.desc())
            .limit(limit)
        ).all()
        total = self._connection.execute(
            select(func.count())
            .select_from(used)
            .join(deployments, used.c.snapshot_id == deployments.c.env_snapshot_id)
            .where(used.c.resource_id == resource_id, used.c.secrets_version != current_version)
        ).scalar_one()
        return [
            StaleDeployment(
                deployment_id=row.id,
                project_id=row.project_id,
                project_name=row.project_name,
                target=row.target,
                git_branch=row.git_branch,
                created_at=row.created_at,
                version=row.secrets_version,
                serving=bool(row.serving),
            )
            for row in rows
        ], int(total)

    def project_count(self, team_id: str) -> int:
        query = select(func.count()).select_from(projects).where(projects.c.team_id == team_id)
        return int(self._connection.execute(query).scalar_one())

    def project_summaries(self, team_id: str, *, limit: int, offset: int) -> list[ProjectSummary]:
        """One page of the team's projects by name, each with its deployments counted and
        the names of the live resources it is connected to."""
        of_project = deployments.c.project_id == projects.c.id
        deployment_count = (
            select(func.count()).where(of_project).correlate(projects).scalar_subquery()
        )
        newest = (
            select(func.max(deployments.c.created_at))
            .where(of_project)
            .correlate(projects)
            .scalar_subquery()
        )
        rows = self._connection.execute(
            select(
                projects,
                deployment_count.label("deployment_count"),
                newest.label("newest_deployment_at"),
            )
            .where(projects.c.team_id == team_id)
            .order_by(projects.c.name)
            .limit(limit)
            .offset(offset)
        ).all()
        names = self._connected_resource_names([row.id for row in rows])
        return [
            ProjectSummary(
                project=_project(row),
                connected_resources=tuple(names.get(row.id, ())),
                deployment_count=int(row.deployment_count),
                newest_deployment_at=row.newest_deployment_at,
            )
            for row in rows
        ]

    def _connected_resource_names(self, project_ids: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for batch in batches(project_ids):
            rows = self._connection.execute(
                select(connections.c.project_id, resources.c.name)
                .join(resources, resources.c.internal_id == connections.c.resource_id)
                .where(connections.c.project_id.in_(batch), resources.c.deleted_at.is_(None))
                .order_by(connections.c.created_at, connections.c.id)
            )
            for row in rows:
                found.setdefault(row.project_id, []).append(row.name)
        return found

    def _counts(self, column: Any, ids: Iterable[str], *where: Any) -> dict[str, int]:
        return {
            row[0]: int(row[1])
            for batch in batches(set(ids))
            for row in self._connection.execute(
                select(column, func.count()).where(column.in_(batch), *where).group_by(column)
            )
        }


def _project(row: Row[Any]) -> Project:
    return Project(
        id=row.id,
        team_id=row.team_id,
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
