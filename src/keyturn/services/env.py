"""A project's env vars (CONTRACT.md 3.4): listed, read, pulled, and the users' own edited.

A project's env is its users' variables plus what each connection derives from its resource's
current secrets version: `project_variables` assembles the records the listing shows,
`pulled_project_env` what a pull writes, and `derived_entries` the entries a deployment's env
is resolved from. Nothing derived is stored, so a secrets PUT is visible here the
moment it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from keyturn.domain.accounts import Project
from keyturn.domain.environment import (
    DerivationShape,
    EnvVar,
    SecretValues,
    UserEnvVar,
    derive_connection_vars,
    derive_target_env,
    derive_target_pulled,
    pulled_value,
    resolve_entries,
)
from keyturn.domain.envkeys import ENVIRONMENTS
from keyturn.domain.errors import BadRequest, Code, Conflict, FieldError, NotFound
from keyturn.domain.secrets import MAX_NAME_LENGTH, MAX_VALUE_BYTES, SECRET_NAME
from keyturn.services.context import ServiceContext
from keyturn.services.namespace import derived_taken_keys, refuse_conflicts, taken_keys
from keyturn.services.projects import TeamCaller, caller_team, find_project
from keyturn.storage.unit_of_work import UnitOfWork


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


# One env var as a build sees it: (key, (value, type), git branch or None).
Entry = tuple[str, tuple[str, str], str | None]


def derived_entries(
    derivations: Iterable[tuple[DerivationShape, Iterable[SecretValues]]], target: str
) -> list[Entry]:
    """What connections (or a deployment's references) derive in `target`, as entries."""
    return [
        (key, (value, kind), None)
        for shape, secrets in derivations
        for key, value, kind in derive_target_env(shape, secrets, target)
    ]


def project_variables(uow: UnitOfWork, project: Project) -> list[EnvVar]:
    """Every env var record of the project: user variables first, then derived ones."""
    links = uow.connections.of_projects([project.id])
    secrets = uow.secrets.current_of(
        {resource.internal_id: resource.installation_id for _, resource in links}
    )
    variables = [_user_record(var) for var in uow.env_vars.of_project(project.id)]
    for connection, resource in links:
        variables += derive_connection_vars(
            connection,
            resource,
            secrets.get(resource.internal_id, {}),
            updated_at=resource.updated_at,
        )
    return variables


def pulled_project_env(
    uow: UnitOfWork, project: Project, target: str, git_branch: str | None
) -> dict[str, str]:
    """What `env pull` writes for a build of the project for `target` now: sorted by key,
    sensitive values "" (`pulled_env` of the build's {key: (value, type)}).

    Decrypts only what `target` holds, and builds one entry per key, no record or id.
    """
    links = [
        (connection, resource)
        for connection, resource in uow.connections.of_projects([project.id])
        if target in connection.environments
    ]
    secrets = uow.secrets.current_values_in_target(project.id, target)
    entries: list[tuple[str, str, str | None]] = [
        (key, pulled_value(value, kind), branch)
        for key, value, kind, branch in uow.env_vars.in_target(project.id, target)
    ]
    for connection, resource in links:
        entries += derive_target_pulled(connection, secrets.get(resource.internal_id, ()), target)
    return dict(sorted(resolve_entries(entries, git_branch).items()))


def list_env(
    ctx: ServiceContext,
    team_id: str,
    project_ref: str,
    *,
    target: str | None,
    git_branch: str | None,
) -> list[EnvVar]:
    """Records for `target` (all if None); with a branch, other branches' variables are left out."""
    if target is not None:
        check_target(target, ENVIRONMENTS)
    with ctx.store.read() as uow:
        variables = project_variables(uow, find_project(uow, team_id, project_ref))
    return [
        var
        for var in variables
        if (target is None or target in var.targets)
        and (git_branch is None or var.git_branch in (None, git_branch))
    ]


def get_env_var(ctx: ServiceContext, team_id: str, project_ref: str, env_id: str) -> EnvVar:
    with ctx.store.read() as uow:
        for var in project_variables(uow, find_project(uow, team_id, project_ref)):
            if var.id == env_id:
                return var
    raise NotFound(f"envId: no env var {env_id!r} in this project")


def pull_env(
    ctx: ServiceContext, caller: TeamCaller, project_ref: str, target: str, git_branch: str | None
) -> dict[str, str]:
    """What `vercel env pull` writes for the target (and branch); sensitive values are "".

    The caller's token is looked up in the same read transaction (one per pull, not two); its
    401 and 403 come before the target's 400."""
    with ctx.store.read() as uow:
        team_id = caller_team(uow, caller)
        check_target(target, ENVIRONMENTS)
        return pulled_project_env(uow, find_project(uow, team_id, project_ref), target, git_branch)


def pulled_env(resolved: dict[str, tuple[str, str]]) -> dict[str, str]:
    """{key: (value, type)} as `env pull` writes it: sorted by key, sensitive values ""."""
    return {key: pulled_value(value, kind) for key, (value, kind) in sorted(resolved.items())}


def create_env_vars(
    ctx: ServiceContext,
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
    with ctx.store.write() as uow:
        team_id = caller_team(uow, caller)
        inputs = ask()
        for index, item in enumerate(inputs):
            _check_user_var(item, f"[{index}]" if len(inputs) > 1 else "")
        project = find_project(uow, team_id, project_ref)
        uow.projects.lock([project.id])
        uow.projects.lock_env_keys(item.key for item in inputs)
        # Same keys among user variables are upserts or `failed` entries, not conflicts.
        derived_taken = derived_taken_keys(uow, [project.id])[project.id]
        # (id, key, targets, branch) of the variables with the keys sent; no value decrypted.
        existing = [
            (var_id, key, targets, branch)
            for var_id, _, key, targets, branch in uow.env_vars.keys(
                [project.id], {item.key for item in inputs}
            )
        ]
        for item in inputs:
            wanted = {(item.key, target) for target in item.targets}
            refuse_conflicts({project.id: wanted}, {project.id: derived_taken})
            same = [
                (var_id, key, targets, branch)
                for var_id, key, targets, branch in existing
                if key == item.key
                and branch == item.git_branch
                and set(targets) & set(item.targets)
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
            for replaced in same:
                uow.env_vars.delete(replaced[0])
                existing.remove(replaced)
            var = uow.env_vars.add(
                project.id,
                key=item.key,
                value=item.value,
                type_=item.type,
                targets=item.targets,
                git_branch=item.git_branch,
                comment=item.comment,
            )
            existing.append((var.id, var.key, var.targets, var.git_branch))
            created.append(_user_record(var))
        uow.projects.touch(project.id)
        uow.commit()
    return CreateResult(created=created, failed=failed)


def patch_env_var(
    ctx: ServiceContext, team_id: str, project_ref: str, env_id: str, patch: UserVarPatch
) -> EnvVar:
    with ctx.store.write() as uow:
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
            updated_at=ctx.clock.now_ms(),
        )
        _check_user_var(
            NewUserVar(
                changed.key, changed.value, changed.type, changed.targets, changed.git_branch
            ),
            "",
        )
        wanted = {(changed.key, target) for target in changed.targets}
        uow.projects.lock_env_keys([changed.key])
        taken = taken_keys(uow, [project.id], except_user_var_id=var.id)
        refuse_conflicts({project.id: wanted}, taken)
        uow.env_vars.replace(changed)
        uow.projects.touch(project.id)
        uow.commit()
    return _user_record(changed)


def delete_env_var(ctx: ServiceContext, team_id: str, project_ref: str, env_id: str) -> EnvVar:
    with ctx.store.write() as uow:
        project = find_project(uow, team_id, project_ref)
        uow.projects.lock([project.id])
        var = _user_var_or_refuse(uow, project, env_id)
        uow.env_vars.delete(var.id)
        uow.projects.touch(project.id)
        uow.commit()
    return _user_record(var)


def check_target(target: str, allowed: Sequence[str]) -> None:
    if target not in allowed:
        message = f"target: must be one of {', '.join(allowed)}, not {target!r}"
        raise BadRequest(message, (FieldError("target", message),))


def _user_var_or_refuse(uow: UnitOfWork, project: Project, env_id: str) -> UserEnvVar:
    var = uow.env_vars.get(project.id, env_id)
    if var is not None:
        return var
    if any(var.id == env_id for var in project_variables(uow, project)):
        raise Conflict(
            Code.ENV_MANAGED_BY_INTEGRATION,
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
