"""What a team's owners look at: summaries of resources, projects and deployments.

Read models only, built by `services/overview.py` for the dashboard. None of them holds a
secret value: a resource is described by its secret names and versions, never more.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyturn.domain.accounts import Project
from keyturn.domain.deployments import Deployment
from keyturn.domain.environment import Connection
from keyturn.domain.resources import Resource


@dataclass(frozen=True, slots=True)
class TeamInstallation:
    id: str
    integration_id: str
    integration_name: str


@dataclass(frozen=True, slots=True)
class ResourceSummary:
    """A live resource of one of the team's installations, with what the lists show of it."""

    resource: Resource
    integration_name: str
    product_name: str
    secret_count: int
    connected_projects: int


@dataclass(frozen=True, slots=True)
class ResourceName:
    """Enough of a resource, deleted or not, to name it next to a deployment or connection."""

    internal_id: str
    installation_id: str
    partner_id: str
    name: str
    secrets_version: int
    deleted: bool


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    project: Project
    connected_resources: tuple[str, ...]  # resource names, in connection order
    deployment_count: int
    newest_deployment_at: int | None


@dataclass(frozen=True, slots=True)
class ResourceConnection:
    """A connection as the resource's page lists it: with its project's name."""

    connection: Connection
    project_name: str


@dataclass(frozen=True, slots=True)
class ProjectConnection:
    """A connection as the project's page lists it: with its resource's name."""

    connection: Connection
    resource: ResourceName


@dataclass(frozen=True, slots=True)
class VersionRun:
    """One resource a deployment was built with: the version it runs against the current one.

    `current_version` is None once the resource is deleted; the deployment is *stale* for
    the resource when the two differ (CONTRACT.md 5.2).
    """

    resource: ResourceName
    version: int
    current_version: int | None

    @property
    def stale(self) -> bool:
        return self.current_version != self.version


@dataclass(frozen=True, slots=True)
class DeploymentSummary:
    deployment: Deployment
    project_name: str
    runs: tuple[VersionRun, ...]

    @property
    def stale(self) -> bool:
        return any(run.stale for run in self.runs)


@dataclass(frozen=True, slots=True)
class StaleDeployment:
    """A live deployment that runs an older version of a resource than its current one.

    `serving` when it is still the newest deployment of its project, target and git branch
    (what the project's domains answer with); else only its own URL reaches it.
    """

    deployment_id: str
    project_id: str
    project_name: str
    target: str
    git_branch: str | None
    created_at: int
    version: int
    serving: bool
