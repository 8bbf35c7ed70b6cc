"""A project's env vars (CONTRACT.md 3.4): listed, read, pulled, and the users' own edited.

`project_variables` is the one place a project's env is assembled: its users' variables plus
what each connection derives from its resource's current secrets version. Nothing derived is
stored, so a secrets PUT is visible here the moment it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from keyturn.domain.accounts import Project
from keyturn.domain.environment import (
    ConnectedResource,
    Connection,
    EnvVar,
    UserEnvVar,
    derive_connection_vars,
    pulled_value,
    resolve_env,
)
from keyturn.domain.envkeys import ENVIRONMENTS
from keyturn.domain.errors import BadRequest, Conflict, FieldError, NotFound
from keyturn.domain.ids import now_ms
from keyturn.domain.secrets import MAX_NAME_LENGTH, MAX_VALUE_BYTES, SECRET_NAME
from keyturn.services.namespace import derived_taken_keys, refuse_conflicts, taken_keys
from keyturn.services.projects import TeamCaller, caller_team, find_project
from keyturn.storage.unit_of_work import Store, UnitOfWork


@dataclass(frozen=True, slots=True)
class NewUserVar:
    """One variable of a create request."""

    key: str
    value: str = field(repr=False)
    type: str
    targets: tuple[str, ...]
    git_branch: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class UserVarPatch:
    """The fields a patch sets; `None` leaves one unchanged."""

    key: str | None = None
    value: str | None = field(default=None, repr=False)
    type: str | None = None
    targets: tuple[str, ...] | None = None
    git_branch: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class CreateResult:
    created: list[EnvVar]
    failed: list[tuple[str, str, str]]  # (key, code, message)


@dataclass(frozen=True, slots=True)
class ProjectEnv:
    """A project's connections (with their resources' current versions) and env vars."""

    links: list[tuple[Connection, ConnectedResource]]
    variables: list[EnvVar]


def load_project_env(uow: UnitOfWork, project: Project) -> ProjectEnv:
    """Every env var of the project: user variables first, then derived ones."""
    links = uow.projects.connections_of_projects([project.id])
    secrets = uow.secrets.current_of(
        {resource.internal_id: resource.installation_id for _, resource in links}
    )
    variables = [_user_record(var) for var in uow.projects.user_vars(project.id)]
    for connection, resource in links:
        variables += derive_connection_vars(
            connection,
            resource,
            secrets.get(resource.internal_id, {}),
            updated_at=resource.updated_at,
        )
    return ProjectEnv(links, variables)


def project_variables(uow: UnitOfWork, project: Project) -> list[EnvVar]:
    return load_project_env(uow, project).variables


def list_env(
    store: Store,
    team_id: str,
    project_ref: str,
    *,
    target: str | None,
    git_branch: str | None,
) -> list[EnvVar]:
    """Records for `target` (all if None); with a branch, other branches' variables are left out."""
    if target is not None:
        check_target(target, ENVIRONMENTS)
    with store.read() as uow:
        variables = project_variables(uow, find_project(uow, team_id, project_ref))
    return [
        var
        for var in variables
        if (target is None or target in var.targets)
        and (git_branch is None or var.git_branch in (None, git_branch))
    ]


def get_env_var(store: Store, team_id: str, project_ref: str, env_id: str) -> EnvVar:
    with store.read() as uow:
        for var in project_variables(uow, find_project(uow, team_id, project_ref)):
            if var.id == env_id:
                return var
    raise NotFound(f"envId: no env var {env_id!r} in this project")


def pull_env(
    store: Store, team_id: str, project_ref: str, target: str, git_branch: str | None
) -> dict[str, str]:
    """What `vercel env pull` writes for the target (and branch); sensitive values are ""."""
    check_target(target, ENVIRONMENTS)
    with store.read() as uow:
        variables = project_variables(uow, find_project(uow, team_id, project_ref))
    resolved = resolve_env(variables, target, git_branch)
    return {key: pulled_value(var.value, var.type) for key, var in sorted(resolved.items())}


def create_env_vars(
    store: Store,
    caller: TeamCaller,
    project_ref: str,
    ask: Callable[[], Sequence[NewUserVar]],
    *,
    upsert: bool,
) -> CreateResult:
    """Create (or with `upsert`, replace) user variables; all-or-nothing on a 409.

    One transaction: the caller's token, then the body (`ask()` raises its 400), then the rest.
    """
    created: list[EnvVar] = []
    failed: list[tuple[str, str, str]] = []
    with store.write() as uow:
        team_id = caller_team(uow, caller)
        inputs = ask()
        for index, item in enumerate(inputs):
            _check_user_var(item, f"[{index}]" if len(inputs) > 1 else "")
        project = find_project(uow, team_id, project_ref)
        uow.projects.lock([project.id])
        # Same keys among user variables are upserts or `failed` entries, not conflicts.
        derived_taken = derived_taken_keys(uow, [project.id])[project.id]
        existing = uow.projects.user_vars(project.id)
        for item in inputs:
            wanted = {(item.key, target) for target in item.targets}
            refuse_conflicts({project.id: wanted}, {project.id: derived_taken})
            same = [
                var
                for var in existing
                if var.key == item.key
                and var.git_branch == item.git_branch
                and set(var.targets) & set(item.targets)
            ]
            if same and not upsert:
                failed.append(
                    (
                        item.key,
                        "ENV_ALREADY_EXISTS",
                        f"a variable named {item.key!r} already exists for these targets",
                    )
                )
                continue
            for var in same:
                uow.projects.delete_user_var(var)
                existing.remove(var)
            var = uow.projects.add_user_var(
                project.id,
                key=item.key,
                value=item.value,
                type_=item.type,
                targets=item.targets,
                git_branch=item.git_branch,
                comment=item.comment,
            )
            existing.append(var)
            created.append(_user_record(var))
        uow.projects.touch(project.id)
        uow.commit()
    return CreateResult(created=created, failed=failed)


def patch_env_var(
    store: Store, team_id: str, project_ref: str, env_id: str, patch: UserVarPatch
) -> EnvVar:
    with store.write() as uow:
        project = find_project(uow, team_id, project_ref)
        uow.projects.lock([project.id])
        var = _user_var_or_refuse(uow, project, env_id)
        changed = replace(
            var,
            key=patch.key if patch.key is not None else var.key,
            value=patch.value if patch.value is not None else var.value,
            type=patch.type if patch.type is not None else var.type,
            targets=patch.targets if patch.targets is not None else var.targets,
            git_branch=patch.git_branch if patch.git_branch is not None else var.git_branch,
            comment=patch.comment if patch.comment is not None else var.comment,
            updated_at=now_ms(),
        )
        _check_user_var(
            NewUserVar(
                changed.key, changed.value, changed.type, changed.targets, changed.git_branch
            ),
            "",
        )
        wanted = {(changed.key, target) for target in changed.targets}
        taken = taken_keys(uow, [project.id], except_user_var_id=var.id)
        refuse_conflicts({project.id: wanted}, taken)
        uow.projects.replace_user_var(changed)
        uow.projects.touch(project.id)
        uow.commit()
    return _user_record(changed)


def delete_env_var(store: Store, team_id: str, project_ref: str, env_id: str) -> EnvVar:
    with store.write() as uow:
        project = find_project(uow, team_id, project_ref)
        uow.projects.lock([project.id])
        var = _user_var_or_refuse(uow, project, env_id)
        uow.projects.delete_user_var(var)
        uow.projects.touch(project.id)
        uow.commit()
    return _user_record(var)


def check_target(target: str, allowed: Sequence[str]) -> None:
    if target not in allowed:
        message = f"target: must be one of {', '.join(allowed)}, not {target!r}"
        raise BadRequest(message, (FieldError("target", message),))


def _user_var_or_refuse(uow: UnitOfWork, project: Project, env_id: str) -> UserEnvVar:
    for var in uow.projects.user_vars(project.id):
        if var.id == env_id:
            return var
    if any(var.id == env_id for var in project_variables(uow, project)):
        raise Conflict(
            "env_managed_by_integration",
            f"env var {env_id!r} comes from a connected resource; change it through the "
            "resource's secrets or its connection",
        )
    raise NotFound(f"envId: no env var {env_id!r} in this project")


def _check_user_var(item: NewUserVar, where: str) -> None:
    def refuse(field: str, message: str) -> None:
        key = f"{where}.{field}" if where else field
        raise BadRequest(f"{key}: {message}", (FieldError(key, message),))

    if not SECRET_NAME.fullmatch(item.key) or len(item.key) > MAX_NAME_LENGTH:
        refuse("key", "must match ^[A-Za-z_][A-Za-z0-9_]*$ and be at most 256 characters")
    if len(item.value.encode()) > MAX_VALUE_BYTES:
        refuse("value", f"is larger than {MAX_VALUE_BYTES} bytes")
    if not item.targets:
        refuse("target", "must name at least one of production, preview, development")
    if item.git_branch is not None and item.targets != ("preview",):
        refuse("gitBranch", "is only allowed when target is preview alone")


def _user_record(var: UserEnvVar) -> EnvVar:
    return EnvVar(
        id=var.id,
        key=var.key,
        value=var.value,
        type=var.type,
        targets=var.targets,
        git_branch=var.git_branch,
        created_at=var.created_at,
        updated_at=var.updated_at,
        comment=var.comment,
    )
