"""Project use cases (CONTRACT.md 3.1) and the team-scoped lookups other use cases share."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyturn.domain.accounts import Project, Team, user_id_of
from keyturn.domain.errors import BadRequest, Code, Conflict, FieldError, Forbidden, NotFound
from keyturn.domain.event_payloads import project_connection_event, project_event
from keyturn.domain.events import PROJECT_CREATED, PROJECT_DISCONNECTED, PROJECT_REMOVED
from keyturn.services.auth import Credentials, identify, require_user
from keyturn.services.context import ServiceContext
from keyturn.services.revocable import announce_unused_after_deletion, lock_resources_used
from keyturn.storage.unit_of_work import UnitOfWork

# Vercel's rule: lowercase letters, digits, '.', '_', '-'; at most 100; no '---'.
PROJECT_NAME = re.compile(r"^[a-z0-9._-]{1,100}$")


def check_project_name(name: str) -> None:
    if not PROJECT_NAME.fullmatch(name) or "---" in name:
        message = (
            "name: a project name has 1 to 100 lowercase letters, digits, '.', '_' or '-' "
            "and no '---'"
        )
        raise BadRequest(message, (FieldError("name", message),))


def create_project(
    ctx: ServiceContext, team_id: str, name: str, *, user_id: str | None = None
) -> Project:
    check_project_name(name)
    with ctx.store.write() as uow:
        if uow.projects.by_name(team_id, name) is not None:
            raise Conflict(Code.CONFLICT, f"name: a project named {name!r} already exists")
        project = uow.projects.add(team_id, name)
        uow.events.emit(
            project_event(
                PROJECT_CREATED, team_id=team_id, user_id=user_id, project_id=project.id, name=name
            )
        )
        uow.commit()
    return project


def find_project(uow: UnitOfWork, team_id: str, id_or_name: str) -> Project:
    """The team's project with this id or name; 403 if the id is another team's; else 404."""
    project = uow.projects.by_id(id_or_name)
    if project is not None and project.team_id != team_id:
        raise Forbidden(f"project {id_or_name!r} belongs to another team")
    if project is None:
        project = uow.projects.by_name(team_id, id_or_name)
    if project is None:
        raise NotFound(f"idOrName: no project {id_or_name!r} in this team")
    return project


def get_project(ctx: ServiceContext, team_id: str, id_or_name: str) -> Project:
    with ctx.store.read() as uow:
        return find_project(uow, team_id, id_or_name)


def list_projects(ctx: ServiceContext, team_id: str) -> list[Project]:
    with ctx.store.read() as uow:
        return uow.projects.of_team(team_id)


def delete_project(
    ctx: ServiceContext, team_id: str, id_or_name: str, *, user_id: str | None = None
) -> None:
    """Delete the project, its connections, variables and deployments."""
    with ctx.store.write() as uow:
        # Deployments are created and deleted one at a time: its deployments' env snapshots,
        # which other projects' deployments may share, are collected under that lock too.
        uow.deployments.lock_for_changes()
        project = find_project(uow, team_id, id_or_name)
        # The resources its deployments use are locked first, as a connect locks the resource
        # before the project.
        used = uow.ledger.versions_used_by_project(project.id)
        locked = lock_resources_used(uow, (resource_id for resource_id, _ in used))
        uow.projects.lock([project.id])
        links = uow.connections.of_projects([project.id])
        connected = {
            r.internal_id: r
            for r in uow.resources.by_internal_ids(resource.internal_id for _, resource in links)
        }
        uow.projects.delete(project)
        announce_unused_after_deletion(uow, locked, used)
        # Each connection ends with the project (6.1), then the project itself.
        for connection, resource in links:
            uow.events.emit(
                project_connection_event(
                    PROJECT_DISCONNECTED,
                    connected[resource.internal_id],
                    project.id,
                    project.name,
                    connection.environments,
                    team_id=team_id,
                    user_id=user_id,
                )
            )
        uow.events.emit(
            project_event(
                PROJECT_REMOVED,
                team_id=team_id,
                user_id=user_id,
                project_id=project.id,
                name=project.name,
            )
        )
        uow.commit()


def find_team(ctx: ServiceContext, team_id: str, team_ref: str) -> Team:
    """The caller's team by id or slug; 403 for any other team."""
    with ctx.store.read() as uow:
        return _own_team(uow, team_id, team_ref)


@dataclass(frozen=True, slots=True)
class TeamCaller:
    """A user request's credentials and the team it names (`?teamId=`, `?slug=`), not yet
    looked up: `caller_team` does that inside the use case's transaction."""

    credentials: Credentials
    team_ref: str | None = None
    team_slug: str | None = None


def caller_team(uow: UnitOfWork, caller: TeamCaller) -> str:
    """The user token's team; 401 for an unknown token, 403 for another kind or team."""
    return caller_member(uow, caller)[0]


def caller_member(uow: UnitOfWork, caller: TeamCaller) -> tuple[str, str | None]:
    """`caller_team`, and the user the token stands for (what events name as `user`)."""
    principal = identify(uow, caller.credentials)
    team_id = require_user(principal)
    check_team_scope(uow, team_id, caller.team_ref, caller.team_slug)
    return team_id, user_id_of(principal)


def check_team_scope(uow: UnitOfWork, team_id: str, team_ref: str | None, slug: str | None) -> None:
    """`?teamId=` and `?slug=` must name the token's own team (CONTRACT.md 0)."""
    for reference in (team_ref, slug):
        if reference:
            _own_team(uow, team_id, reference)


def _own_team(uow: UnitOfWork, team_id: str, team_ref: str) -> Team:
    team = uow.accounts.team(team_id)
    if team is None or team_ref not in (team.id, team.slug):
        raise Forbidden(f"team {team_ref!r} is not the token's team")
    return team
