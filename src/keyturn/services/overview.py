"""The owners' view of their team: what the dashboard shows, read in one transaction a page.

Every look-up is scoped by the signed-in user's team, and anything outside it answers
`NotFound`, not `Forbidden`: a page must not tell another team's ids from ids that do not
exist. Secret values are never read here; a resource is shown by its secret names, versions
and connections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from keyturn.domain.accounts import Project, Team, TokenKind
from keyturn.domain.deployments import Deployment
from keyturn.domain.errors import Forbidden, NotFound
from keyturn.domain.overview import (
    DeploymentSummary,
    ProjectConnection,
    ProjectSummary,
    ResourceConnection,
    ResourceName,
    ResourceSummary,
    StaleDeployment,
    VersionRun,
)
from keyturn.domain.resources import Resource
from keyturn.services.auth import Credentials, identify
from keyturn.services.context import ServiceContext
from keyturn.services.projects import TeamCaller
from keyturn.storage.unit_of_work import UnitOfWork

# Stale deployments a resource's page lists (newest first); the count says how many in all.
MAX_STALE_SHOWN: Final = 100


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """Who a dashboard session speaks for: a live user token (by its digest) and its team."""

    token_digest: str = field(repr=False)
    team: Team

    @property
    def caller(self) -> TeamCaller:
        """The user as the API's use cases take a caller: the same checks, the same answers."""
        return TeamCaller(Credentials(self.token_digest, admin=False))


@dataclass(frozen=True, slots=True)
class ResourceOverview:
    summary: ResourceSummary
    secret_names: tuple[str, ...]
    connections: tuple[ResourceConnection, ...]
    stale: tuple[StaleDeployment, ...]
    stale_count: int


@dataclass(frozen=True, slots=True)
class ProjectOverview:
    project: Project
    connections: tuple[ProjectConnection, ...]
    deployments: tuple[DeploymentSummary, ...]
    deployment_count: int


def sign_in(ctx: ServiceContext, token: str) -> SignedInUser:
    """The user whose token this is; 401 for a malformed, unknown or revoked token, 403 for
    an admin or integration token. The token itself is kept nowhere."""
    credentials = ctx.authenticator.credentials(f"Bearer {token}")
    if credentials.admin:
        raise Forbidden("the dashboard takes a team's user token, not the admin token")
    with ctx.store.read() as uow:
        return _signed_in(uow, credentials)


def session_user(ctx: ServiceContext, token_digest: str) -> SignedInUser:
    """The user a session was opened for, while their token is still live (else 401)."""
    with ctx.store.read() as uow:
        return _signed_in(uow, Credentials(token_digest, admin=False))


def team_resources(ctx: ServiceContext, team_id: str) -> list[ResourceSummary]:
    """The live resources of every installation of the team, by integration."""
    with ctx.store.read() as uow:
        found: list[tuple[Resource, str]] = []
        for installation in uow.overview.installations_of_team(team_id):
            found += [
                (resource, installation.integration_name)
                for resource in uow.resources.list_live(installation.id)
            ]
        return _summaries(uow, found)


def resource_overview(
    ctx: ServiceContext,
    team_id: str,
    installation_id: str,
    partner_id: str,
    *,
    connection_limit: int,
) -> ResourceOverview:
    """The resource, its secret names, its first `connection_limit` connections and its
    newest stale deployments."""
    with ctx.store.read() as uow:
        installation = next(
            (i for i in uow.overview.installations_of_team(team_id) if i.id == installation_id),
            None,
        )
        resource = uow.resources.live(installation_id, partner_id) if installation else None
        if installation is None or resource is None:
            raise NotFound(f"no resource {partner_id!r} in installation {installation_id!r}")
        summary = _summaries(uow, [(resource, installation.integration_name)])[0]
        names = uow.secrets.current_names_and_prefixes([resource.internal_id])
        stale, stale_count = uow.overview.stale_deployments(
            resource.internal_id, resource.secrets_version, limit=MAX_STALE_SHOWN
        )
        return ResourceOverview(
            summary=summary,
            secret_names=tuple(sorted(name for name, _ in names.get(resource.internal_id, []))),
            connections=tuple(
                uow.overview.connections_of_resource(resource.internal_id, limit=connection_limit)
            ),
            stale=tuple(stale),
            stale_count=stale_count,
        )


def team_projects(
    ctx: ServiceContext, team_id: str, *, page: int, page_size: int
) -> tuple[list[ProjectSummary], int]:
    """One page (from 1) of the team's projects by name, and how many projects there are."""
    with ctx.store.read() as uow:
        summaries = uow.overview.project_summaries(
            team_id, limit=page_size, offset=(page - 1) * page_size
        )
        return summaries, uow.overview.project_count(team_id)


def project_overview(
    ctx: ServiceContext, team_id: str, project_id: str, *, deployment_limit: int
) -> ProjectOverview:
    """The project, its connections and its newest `deployment_limit` deployments."""
    with ctx.store.read() as uow:
        project = _team_project(uow, team_id, project_id)
        links = uow.connections.of_projects([project.id])
        found = uow.deployments.of_projects([project.id], target=None, limit=deployment_limit)
        names = uow.overview.resource_names(
            [connection.resource_id for connection, _ in links]
            + [used.resource_id for d in found for used in d.secrets_versions]
        )
        return ProjectOverview(
            project=project,
            connections=tuple(
                ProjectConnection(connection, names[connection.resource_id])
                for connection, _ in links
            ),
            deployments=tuple(_deployment_summary(d, project.name, names) for d in found),
            deployment_count=uow.deployments.count_of_projects([project.id], target=None),
        )


def deployment_overview(ctx: ServiceContext, team_id: str, deployment_id: str) -> DeploymentSummary:
    """The deployment and, for every resource it was built with, the version it runs."""
    with ctx.store.read() as uow:
        deployment = uow.deployments.get(deployment_id)
        project = uow.projects.by_id(deployment.project_id) if deployment else None
        if deployment is None or project is None or project.team_id != team_id:
            raise NotFound(f"no deployment {deployment_id!r} in this team")
        names = uow.overview.resource_names(u.resource_id for u in deployment.secrets_versions)
        return _deployment_summary(deployment, project.name, names)


def _signed_in(uow: UnitOfWork, credentials: Credentials) -> SignedInUser:
    principal = identify(uow, credentials)
    team = uow.accounts.team(principal.team_id) if principal.team_id else None
    if principal.kind is not TokenKind.USER or team is None:
        raise Forbidden("the dashboard takes a team's user token, not a partner's token")
    return SignedInUser(token_digest=credentials.digest, team=team)


def _team_project(uow: UnitOfWork, team_id: str, project_id: str) -> Project:
    project = uow.projects.by_id(project_id)
    if project is None or project.team_id != team_id:
        raise NotFound(f"no project {project_id!r} in this team")
    return project


def _summaries(uow: UnitOfWork, found: list[tuple[Resource, str]]) -> list[ResourceSummary]:
    ids = [resource.internal_id for resource, _ in found]
    secret_counts = uow.overview.secret_counts(ids)
    connection_counts = uow.overview.connection_counts(ids)
    product_names = uow.overview.product_names(resource.product_id for resource, _ in found)
    return [
        ResourceSummary(
            resource=resource,
            integration_name=integration_name,
            product_name=product_names.get(resource.product_id, resource.product_id),
            secret_count=secret_counts.get(resource.internal_id, 0),
            connected_projects=connection_counts.get(resource.internal_id, 0),
        )
        for resource, integration_name in found
    ]


def _deployment_summary(
    deployment: Deployment, project_name: str, names: Mapping[str, ResourceName]
) -> DeploymentSummary:
    runs = tuple(
        VersionRun(
            resource=names[used.resource_id],
            version=used.secrets_version,
            current_version=None
            if names[used.resource_id].deleted
            else names[used.resource_id].secrets_version,
        )
        for used in deployment.secrets_versions
    )
    return DeploymentSummary(deployment, project_name, runs)
