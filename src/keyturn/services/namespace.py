"""A project's env namespace: which (key, environment) pairs are already taken, and by whom.

A key may live once per project and environment. Connections and user variables ask here
before they write, holding the project's lock and the locks of the keys they add (see
`storage/repositories/projects.py`), so the answer cannot go stale before the commit. A
secrets PUT that adds names takes the locks of its new keys and asks the database directly
(`ConnectionRepository.first_taken_key`): its question spans every connected project.
"""

from __future__ import annotations

from collections.abc import Iterable

from keyturn.domain.environment import derived_keys, first_conflict
from keyturn.domain.errors import Code, Conflict
from keyturn.storage.unit_of_work import UnitOfWork

Keys = set[tuple[str, str]]


def taken_keys(
    uow: UnitOfWork,
    project_ids: Iterable[str],
    *,
    except_resource_id: str | None = None,
    except_user_var_id: str | None = None,
    only_keys: set[str] | None = None,
) -> dict[str, Keys]:
    """Per project, the (key, environment) pairs its user variables and connections hold.

    Leaves out what the connection to `except_resource_id` derives (a connection never
    conflicts with itself) and the user variable `except_user_var_id` (one being edited).
    With `only_keys`, looks at those keys alone (what a caller is about to add).
    """
    taken = derived_taken_keys(
        uow, project_ids, except_resource_id=except_resource_id, only_keys=only_keys
    )
    for var_id, project_id, key, targets, _ in uow.env_vars.keys(list(taken), only_keys):
        if var_id != except_user_var_id:
            taken[project_id] |= {(key, target) for target in targets}
    return taken


def derived_taken_keys(
    uow: UnitOfWork,
    project_ids: Iterable[str],
    *,
    except_resource_id: str | None = None,
    only_keys: set[str] | None = None,
) -> dict[str, Keys]:
    """Per project, the (key, environment) pairs its connections derive (see `taken_keys`)."""
    ids = sorted(set(project_ids))
    taken: dict[str, Keys] = {project_id: set() for project_id in ids}
    links = [
        connection
        for connection, resource in uow.connections.of_projects(ids)
        if resource.internal_id != except_resource_id
    ]
    names = uow.secrets.current_names_and_prefixes(c.resource_id for c in links)
    for connection in links:
        keys = derived_keys(connection, names.get(connection.resource_id, []))
        if only_keys is not None:
            keys = {(key, environment) for key, environment in keys if key in only_keys}
        taken[connection.project_id] |= keys
    return taken


def refuse_conflicts(wanted_by_project: dict[str, Keys], taken: dict[str, Keys]) -> None:
    """409 `env_var_conflict` naming the first clashing key; never a project or a value."""
    for project_id in sorted(wanted_by_project):
        key = first_conflict(wanted_by_project[project_id], taken.get(project_id, set()))
        if key is not None:
            raise key_conflict(key)


def key_conflict(key: str) -> Conflict:
    """The 409 for a key already held in a project and environment it would be added to."""
    return Conflict(
        Code.ENV_VAR_CONFLICT,
        f"env var {key!r} already exists in a connected project in the same environment",
    )
