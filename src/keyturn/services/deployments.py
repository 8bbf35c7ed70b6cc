"""Deployments (CONTRACT.md 3.5): each freezes the project's env for its target when created.

Freezing does not copy the derived env. A deployment records, per connected resource, the
secrets version and the connection's shape at that moment, and copies only the users' own
variables (few, and edited in place). Reading its env derives from that record with the same
functions a project's env uses; secrets versions never change, so later PUTs, disconnects,
deletes and user edits leave the env as built. A redeploy is a new deployment with the env of
its own moment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from keyturn.domain.accounts import Project
from keyturn.domain.deployments import DEPLOYMENT_TARGETS, Deployment, SecretsVersionUsed
from keyturn.domain.environment import (
    ConnectedResource,
    Connection,
    resolve_entries,
)
from keyturn.domain.envkeys import derive_env_key
from keyturn.domain.errors import Forbidden, NotFound
from keyturn.domain.event_payloads import Involved, NewEvent, deployment_created_event
from keyturn.services.context import ServiceContext
from keyturn.services.env import check_target, derived_entries, pulled_env
from keyturn.services.projects import TeamCaller, caller_member, check_project_name, find_project
from keyturn.services.revocable import announce_unused_after_deletion, lock_resources_used
from keyturn.storage.unit_of_work import UnitOfWork

URL_HOST = "keyturn.localhost"


@dataclass(frozen=True, slots=True)
class DeploymentView:
    deployment: Deployment
    project_name: str


@dataclass(frozen=True, slots=True)
class DeploymentRequest:
    name: str | None = None
    project_ref: str | None = None
    target: str | None = None
    git_branch: str | None = None
    redeploy_of: str | None = None


def create_deployment(
    ctx: ServiceContext, caller: TeamCaller, ask: Callable[[], DeploymentRequest]
) -> DeploymentView:
    """Deploy (or redeploy) in one transaction: the caller's token, then the body (`ask()`
    raises its 400), then the project and the frozen env."""
    with ctx.store.write(snapshot=True) as uow:
        uow.deployments.lock_for_changes()
        team_id, user_id = caller_member(uow, caller)
        request = ask()
        name, target, git_branch = request.name, request.target, request.git_branch
        project_ref, redeploy_of = request.project_ref, request.redeploy_of
        if redeploy_of is not None:
            original = _team_deployment(uow, team_id, redeploy_of)
            project = find_project(uow, team_id, original.project_id)
            target = target or original.target
            git_branch = original.git_branch
        else:
            reference = project_ref or name
            if reference is None:
                raise NotFound("project: name a project with `project` or `name`")
            project = find_project(uow, team_id, reference)
        target = target or "preview"
        check_target(target, DEPLOYMENT_TARGETS)
        deployment_name = name or project.name
        check_project_name(deployment_name)
        deployment = deploy(
            uow,
            project,
            name=deployment_name,
            target=target,
            git_branch=git_branch,
            user_id=user_id,
        )
        uow.commit()
    return DeploymentView(deployment, project.name)


def deploy(
    uow: UnitOfWork,
    project: Project,
    *,
    name: str,
    target: str,
    git_branch: str | None,
    user_id: str | None = None,
) -> Deployment:
    """Create a deployment of `project` with its env for `target` now, and its
    `deployment.created` event; the caller has called `uow.deployments.lock_for_changes()`
    first and commits."""
    links = [
        (connection, resource)
        for connection, resource in uow.connections.of_projects([project.id])
        if target in connection.environments
    ]
    deployment = uow.deployments.add(
        project_id=project.id,
        name=name,
        target=target,
        git_branch=git_branch,
        copied=_user_values_kept(uow, project.id, links, target, git_branch),
        secrets_versions=[
            SecretsVersionUsed(
                resource_id=resource.internal_id,
                secrets_version=resource.secrets_version,
                environments=connection.environments,
                env_var_prefix=connection.env_var_prefix,
                make_sensitive=connection.make_sensitive,
                # Recorded now, so the version it runs is the current one.
                current_version=resource.secrets_version,
            )
            for connection, resource in links
        ],
        url_host=URL_HOST,
    )
    uow.events.emit(_deployment_created(deployment, links, project.team_id, user_id))
    return deployment


def _deployment_created(
    deployment: Deployment,
    links: Sequence[tuple[Connection, ConnectedResource]],
    team_id: str,
    user_id: str | None,
) -> NewEvent:
    return deployment_created_event(
        team_id=team_id,
        user_id=user_id,
        deployment_id=deployment.id,
        name=deployment.name,
        url=deployment.url,
        project_id=deployment.project_id,
        target=deployment.target,
        involved=[Involved(resource.installation_id, resource.partner_id) for _, resource in links],
    )


def get_deployment(ctx: ServiceContext, team_id: str, deployment_id: str) -> DeploymentView:
    with ctx.store.read() as uow:
        deployment = _team_deployment(uow, team_id, deployment_id)
        project = find_project(uow, team_id, deployment.project_id)
    return DeploymentView(deployment, project.name)


def list_deployments(
    ctx: ServiceContext, team_id: str, *, project_ref: str | None, target: str | None, limit: int
) -> tuple[list[DeploymentView], int]:
    """The newest `limit` deployments (of one project if given), and how many there are."""
    with ctx.store.read() as uow:
        if project_ref is not None:
            projects = [find_project(uow, team_id, project_ref)]
        else:
            projects = uow.projects.of_team(team_id)
        names = {project.id: project.name for project in projects}
        found = uow.deployments.of_projects(list(names), target=target, limit=limit)
        total = uow.deployments.count_of_projects(list(names), target=target)
    return [DeploymentView(d, names[d.project_id]) for d in found], total


def delete_deployment(ctx: ServiceContext, team_id: str, deployment_id: str) -> Deployment:
    with ctx.store.write() as uow:
        uow.deployments.lock_for_changes()
        deployment = _team_deployment(uow, team_id, deployment_id)
        used = [(u.resource_id, u.secrets_version) for u in deployment.secrets_versions]
        locked = lock_resources_used(uow, (resource_id for resource_id, _ in used))
        uow.deployments.delete(deployment)
        announce_unused_after_deletion(uow, locked, used)
        uow.commit()
    return deployment


def pull_deployment_env(ctx: ServiceContext, team_id: str, deployment_id: str) -> dict[str, str]:
    """The env the deployment was built with, as `env pull` writes it (sensitive → "")."""
    with ctx.store.read() as uow:
        deployment = _team_deployment(uow, team_id, deployment_id)
        frozen = deployment_env(uow, deployment)
    return pulled_env(frozen)


def deployment_env(uow: UnitOfWork, deployment: Deployment) -> dict[str, tuple[str, str]]:
    """{key: (value, type)}: derived from the versions the deployment references, then its
    copied variables (which won over derived keys when it was made, so they win again)."""
    references = [
        used for used in deployment.secrets_versions if deployment.target in used.environments
    ]
    secrets = uow.secrets.referenced_by(deployment.id, deployment.target)
    entries = derived_entries(
        ((used, secrets.get(used.resource_id, ())) for used in references), deployment.target
    )
    entries += [
        (key, frozen, None) for key, frozen in uow.deployments.copied_env(deployment).items()
    ]
    return resolve_entries(entries, None)


def _user_values_kept(
    uow: UnitOfWork,
    project_id: str,
    links: Sequence[tuple[Connection, ConnectedResource]],
    target: str,
    git_branch: str | None,
) -> dict[str, tuple[str, str]]:
    """The user variables a build of `target` sees now, {key: (value, type)}: what a
    deployment copies. Derived keys are looked at by name only, never decrypted."""
    user = uow.env_vars.in_target(project_id, target)
    if not user:
        return {}
    names = uow.secrets.current_names_and_prefixes(resource.internal_id for _, resource in links)
    entries: list[tuple[str, tuple[str, str] | None, str | None]] = [
        (key, (value, kind), branch) for key, value, kind, branch in user
    ]
    entries += [
        (derive_env_key(name, prefix, connection.env_var_prefix), None, None)
        for connection, resource in links
        for name, prefix in names.get(resource.internal_id, [])
    ]
    return {
        key: kept for key, kept in resolve_entries(entries, git_branch).items() if kept is not None
    }


def _team_deployment(uow: UnitOfWork, team_id: str, deployment_id: str) -> Deployment:
    deployment = uow.deployments.get(deployment_id)
    if deployment is None:
        raise NotFound(f"no deployment {deployment_id!r}")
    project = uow.projects.by_id(deployment.project_id)
    if project is None or project.team_id != team_id:
        raise Forbidden(f"deployment {deployment_id!r} belongs to another team")
    return deployment
