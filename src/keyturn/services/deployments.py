"""Deployments (CONTRACT.md 3.5): each freezes the project's env for its target when created.

The frozen env and the secrets version of every connected resource are written with the
deployment and never changed: later PUTs, disconnects, deletes and user edits leave it as built.
A redeploy is a new deployment with the env of its own moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keyturn.domain.deployments import DEPLOYMENT_TARGETS, Deployment, SecretsVersionUsed
from keyturn.domain.environment import resolve_env
from keyturn.domain.errors import Forbidden, NotFound
from keyturn.services.env import check_target, load_project_env
from keyturn.services.projects import TeamCaller, caller_team, check_project_name, find_project
from keyturn.storage.unit_of_work import Store, UnitOfWork

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
    store: Store, caller: TeamCaller, ask: Callable[[], DeploymentRequest]
) -> DeploymentView:
    """Deploy (or redeploy) in one transaction: the caller's token, then the body (`ask()`
    raises its 400), then the project and the frozen env."""
    with store.write(snapshot=True) as uow:
        team_id = caller_team(uow, caller)
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
        project_env = load_project_env(uow, project)
        resolved = resolve_env(project_env.variables, target, git_branch)
        deployment = uow.deployments.add(
            project_id=project.id,
            name=deployment_name,
            target=target,
            git_branch=git_branch,
            env={key: (var.value, var.type) for key, var in resolved.items()},
            secrets_versions=[
                SecretsVersionUsed(resource.internal_id, resource.secrets_version)
                for connection, resource in project_env.links
                if target in connection.environments
            ],
            url_host=URL_HOST,
        )
        uow.commit()
    return DeploymentView(deployment, project.name)


def get_deployment(store: Store, team_id: str, deployment_id: str) -> DeploymentView:
    with store.read() as uow:
        deployment = _team_deployment(uow, team_id, deployment_id)
        project = find_project(uow, team_id, deployment.project_id)
    return DeploymentView(deployment, project.name)


def list_deployments(
    store: Store, team_id: str, *, project_ref: str | None, target: str | None, limit: int
) -> tuple[list[DeploymentView], int]:
    """The newest `limit` deployments (of one project if given), and how many there are."""
    with store.read() as uow:
        if project_ref is not None:
            projects = [find_project(uow, team_id, project_ref)]
        else:
            projects = uow.projects.of_team(team_id)
        names = {project.id: project.name for project in projects}
        found = uow.deployments.of_projects(list(names), target=target, limit=limit)
        total = uow.deployments.count_of_projects(list(names), target=target)
    return [DeploymentView(d, names[d.project_id]) for d in found], total


def delete_deployment(store: Store, team_id: str, deployment_id: str) -> Deployment:
    with store.write() as uow:
        deployment = _team_deployment(uow, team_id, deployment_id)
        uow.deployments.delete(deployment)
        uow.commit()
    return deployment


def pull_deployment_env(store: Store, team_id: str, deployment_id: str) -> dict[str, str]:
    """The env the deployment was built with, as `env pull` writes it (sensitive → "")."""
    with store.read() as uow:
        deployment = _team_deployment(uow, team_id, deployment_id)
        frozen = uow.deployments.env(deployment)
    return {key: "" if kind == "sensitive" else value for key, (value, kind) in frozen.items()}


def _team_deployment(uow: UnitOfWork, team_id: str, deployment_id: str) -> Deployment:
    deployment = uow.deployments.get(deployment_id)
    if deployment is None:
        raise NotFound(f"no deployment {deployment_id!r}")
    project = uow.projects.by_id(deployment.project_id)
    if project is None or project.team_id != team_id:
        raise Forbidden(f"deployment {deployment_id!r} belongs to another team")
    return deployment
