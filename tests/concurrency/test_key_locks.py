"""Two writers adding one key to one project cannot both pass the conflict check.

A secrets PUT that adds a name does not lock its resource's connected projects (there may be
10,000); it locks the keys it adds, as a user variable does (storage/repositories/projects.py).
Each test holds one writer's transaction open at the point where it has checked and written,
starts the other in a thread, and checks that it waits, then loses with 409 once the first
commits. On SQLite the second waits for the database's write lock; on PostgreSQL, for the key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from keyturn.app import Runtime
from keyturn.domain.errors import Conflict
from keyturn.domain.secrets import Secret
from keyturn.services.env import NewUserVar, create_env_vars
from keyturn.services.projects import TeamCaller
from keyturn.services.secrets import (
    SecretsUpdate,
    apply_secrets,
    find_live_resource,
    update_resource_secrets,
)
from tests.conftest import Partner, Workspace

WAIT_S = 1.0


def _in_thread(action: Callable[[], object]) -> tuple[threading.Thread, dict[str, str]]:
    outcome: dict[str, str] = {}

    def run() -> None:
        try:
            action()
            outcome["result"] = "done"
        except Conflict as exc:
            outcome["result"] = exc.code

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _connected_project(partner: Partner, workspace: Workspace) -> str:
    partner.import_resource("db1", secrets=[{"name": "URL", "value": "url-1"}])
    project = workspace.create_project("web")
    assert workspace.connect(project).status_code == 201
    return project


def test_user_variable_waits_for_a_put_adding_its_key_and_then_conflicts(
    runtime: Runtime, partner: Partner, workspace: Workspace
) -> None:
    project = _connected_project(partner, workspace)
    new_var = NewUserVar("NEW_KEY", "user-value", "encrypted", ("production",))
    with runtime.store.write() as uow:
        resource = find_live_resource(uow, partner.installation_id, "db1", for_update=True)
        apply_secrets(uow, resource, [Secret("NEW_KEY", "secret-value")], partial=True)
        thread, outcome = _in_thread(
            lambda: create_env_vars(
                runtime.context,
                TeamCaller(
                    runtime.context.authenticator.credentials(f"Bearer {partner.user_token}")
                ),
                project,
                lambda: [new_var],
                upsert=False,
            )
        )
        thread.join(WAIT_S)
        assert thread.is_alive(), "the user variable did not wait for the PUT"
        uow.commit()
    thread.join(30)
    assert outcome == {"result": "env_var_conflict"}
    assert "NEW_KEY" in workspace.pull(project, "production")
    assert [
        r for r in workspace.envs(project) if r["key"] == "NEW_KEY" and not r["contentHint"]
    ] == []


def test_put_waits_for_a_user_variable_of_its_new_key_and_then_conflicts(
    runtime: Runtime, partner: Partner, workspace: Workspace
) -> None:
    project = _connected_project(partner, workspace)
    update = SecretsUpdate((Secret("NEW_KEY", "secret-value"),), partial=True)
    with runtime.store.write() as uow:
        uow.projects.lock([project])
        uow.projects.lock_env_keys(["NEW_KEY"])
        uow.env_vars.add(
            project,
            key="NEW_KEY",
            value="user-value",
            type_="encrypted",
            targets=("production",),
            git_branch=None,
            comment=None,
        )
        thread, outcome = _in_thread(
            lambda: update_resource_secrets(
                runtime.context,
                runtime.context.authenticator.credentials(f"Bearer {partner.token}"),
                partner.installation_id,
                "db1",
                lambda: update,
            )
        )
        thread.join(WAIT_S)
        assert thread.is_alive(), "the PUT did not wait for the user variable"
        uow.commit()
    thread.join(30)
    assert outcome == {"result": "env_var_conflict"}
    assert partner.get_resource()["secretNames"] == ["URL"]
    assert workspace.pull(project, "production")["NEW_KEY"] == "user-value"
