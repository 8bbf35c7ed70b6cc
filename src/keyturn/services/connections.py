"""Connecting a resource to a project (CONTRACT.md 3.2).

A connection is one row; the project's integration env vars follow from it on every read. New
connections therefore see the resource's current secrets, and a disconnect removes the derived
vars at once, while deployments keep the env they froze.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keyturn.domain.environment import Connection, derived_keys
from keyturn.domain.envkeys import ENVIRONMENTS
from keyturn.domain.errors import Code, Conflict, NotFound, RuleViolation
from keyturn.domain.event_payloads import project_connection_event
from keyturn.domain.events import PROJECT_CONNECTED, PROJECT_DISCONNECTED
from keyturn.domain.secrets import MAX_NAME_LENGTH, SECRET_PREFIX
from keyturn.services.auth import team_installation
from keyturn.services.context import ServiceContext
from keyturn.services.namespace import refuse_conflicts, taken_keys
from keyturn.services.projects import find_project
from keyturn.services.secrets import find_live_resource
from keyturn.storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class ConnectionRequest:
    project_ref: str
    environments: tuple[str, ...] = ENVIRONMENTS
    env_var_prefix: str | None = None
    make_sensitive: bool = False


def connect_resource(
    ctx: ServiceContext,
    team_id: str,
    installation_id: str,
    partner_id: str,
    request: ConnectionRequest,
    *,
    user_id: str | None = None,
) -> Connection:
    with ctx.store.write() as uow:
        connection = connect_in(uow, team_id, installation_id, partner_id, request, user_id=user_id)
        uow.commit()
    return connection


def connect_in(
    uow: UnitOfWork,
    team_id: str,
    installation_id: str,
    partner_id: str,
    request: ConnectionRequest,
    *,
    user_id: str | None = None,
) -> Connection:
    """The connection and its event, made in the caller's unit of work (the API's or a
    seed's); nothing committed."""
    if request.env_var_prefix is not None and not SECRET_PREFIX.fullmatch(request.env_var_prefix):
        raise RuleViolation(
            Code.INVALID_PREFIX,
            "envVarPrefix must start with a letter and contain only letters, digits and "
            "underscores",
        )
    team_installation(uow, team_id, installation_id)
    resource = find_live_resource(uow, installation_id, partner_id, for_update=True)
    project = find_project(uow, team_id, request.project_ref)
    uow.projects.lock([project.id])
    if uow.connections.get(resource.internal_id, project.id) is not None:
        raise Conflict(
            Code.ALREADY_CONNECTED,
            f"resource {partner_id!r} is already connected to the project",
        )
    candidate = Connection(
        id="",
        resource_id=resource.internal_id,
        project_id=project.id,
        environments=request.environments,
        env_var_prefix=request.env_var_prefix,
        make_sensitive=request.make_sensitive,
        created_at=0,
    )
    names = uow.secrets.current_names_and_prefixes([resource.internal_id])
    wanted = derived_keys(candidate, names.get(resource.internal_id, []))
    if any(len(key) > MAX_NAME_LENGTH for key, _ in wanted):
        raise RuleViolation(
            Code.INVALID_SECRET_NAME,
            f"envVarPrefix makes an env var key longer than {MAX_NAME_LENGTH} characters",
        )
    uow.projects.lock_env_keys(key for key, _ in wanted)
    refuse_conflicts({project.id: wanted}, taken_keys(uow, [project.id]))
    connection = uow.connections.add(
        resource.internal_id,
        project.id,
        request.environments,
        request.env_var_prefix,
        request.make_sensitive,
    )
    uow.projects.touch(project.id)
    uow.events.emit(
        project_connection_event(
            PROJECT_CONNECTED,
            resource,
            project.id,
            project.name,
            connection.environments,
            team_id=team_id,
            user_id=user_id,
        )
    )
    return connection


def list_connections(
    ctx: ServiceContext, team_id: str, installation_id: str, partner_id: str
) -> Sequence[Connection]:
    with ctx.store.read() as uow:
        team_installation(uow, team_id, installation_id)
        resource = find_live_resource(uow, installation_id, partner_id)
        return uow.connections.of_resource(resource.internal_id)


def disconnect_resource(
    ctx: ServiceContext,
    team_id: str,
    installation_id: str,
    partner_id: str,
    project_ref: str,
    *,
    user_id: str | None = None,
) -> None:
    with ctx.store.write() as uow:
        team_installation(uow, team_id, installation_id)
        resource = find_live_resource(uow, installation_id, partner_id, for_update=True)
        project = find_project(uow, team_id, project_ref)
        connection = uow.connections.get(resource.internal_id, project.id)
        if connection is None:
            raise NotFound(f"projectId: resource {partner_id!r} is not connected to the project")
        uow.connections.delete(connection)
        uow.projects.touch(project.id)
        uow.events.emit(
            project_connection_event(
                PROJECT_DISCONNECTED,
                resource,
                project.id,
                project.name,
                connection.environments,
                team_id=team_id,
                user_id=user_id,
            )
        )
        uow.commit()
