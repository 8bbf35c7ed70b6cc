"""`resource.secrets.value-revocable` (CONTRACT.md 6.1): announced exactly when the usage
ledger (5.2) turns a value `safeToRevoke`, once per value, in the transaction of the change
that made it so, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select

from keyturn.app import Runtime
from keyturn.storage.tables import revocable_values
from tests.conftest import Workspace
from tests.http.events.test_outbox import MARKER, feed, payloads, resource_base

REVOCABLE = "resource.secrets.value-revocable"


def announced(workspace: Workspace) -> list[tuple[str, int, int]]:
    return [(p["name"], p["fromVersion"], p["toVersion"]) for p in payloads(workspace, REVOCABLE)]


def revocable_in_usage(workspace: Workspace) -> set[tuple[str, int, int]]:
    partner = workspace.partner
    response = workspace.client.get(
        partner.resource_path() + "/secrets/usage", headers=partner.auth()
    )
    assert response.status_code == 200, response.text
    return {
        (v["name"], v["fromVersion"], v["toVersion"])
        for v in response.json()["values"]
        if v["safeToRevoke"]
    }


def put(workspace: Workspace, *values: str, name: str = "DATABASE_URL") -> None:
    status, body = workspace.partner.put_secrets(
        {"secrets": [{"name": name, "value": f"{MARKER}-{value}"} for value in values]}
    )
    assert status == 201, body


@pytest.fixture
def project(workspace: Workspace) -> str:
    """db1 at version 1 (DATABASE_URL), connected to project web in production."""
    workspace.partner.import_resource(secrets=[{"name": "DATABASE_URL", "value": f"{MARKER}-1"}])
    project_id = workspace.create_project("web")
    assert workspace.connect(project_id, envVarEnvironments=["production"]).status_code == 201
    return project_id


def delete_deployment(workspace: Workspace, deployment_id: str) -> None:
    response = workspace.client.delete(
        f"/v13/deployments/{deployment_id}", headers=workspace.headers
    )
    assert response.status_code == 200, response.text


def test_a_value_no_deployment_uses_is_announced_when_superseded(
    workspace: Workspace, project: str
) -> None:
    put(workspace, "2")
    assert announced(workspace) == [("DATABASE_URL", 1, 1)]
    assert revocable_in_usage(workspace) == {("DATABASE_URL", 1, 1)}
    [payload] = payloads(workspace, REVOCABLE)
    internal_id = str(workspace.partner.get_resource()["internalId"])
    assert payload == {
        **resource_base(workspace.partner, internal_id),
        "user": None,
        "name": "DATABASE_URL",
        "fromVersion": 1,
        "toVersion": 1,
    }
    # The event follows the version's own `secrets.updated`, in the same transaction.
    types = [e["type"] for e in feed(workspace, limit=100)["events"]]
    assert types[-2:] == ["resource.secrets.updated", REVOCABLE]
    assert MARKER not in json.dumps(feed(workspace, limit=100))


def test_a_value_in_use_is_announced_when_its_last_live_deployment_is_deleted(
    workspace: Workspace, project: str
) -> None:
    first = workspace.deploy({"name": "web", "target": "production"})
    second = workspace.deploy({"name": "web", "target": "production"})
    put(workspace, "2")
    assert announced(workspace) == []
    assert revocable_in_usage(workspace) == set()
    delete_deployment(workspace, first["id"])
    assert announced(workspace) == []
    delete_deployment(workspace, second["id"])
    assert announced(workspace) == [("DATABASE_URL", 1, 1)]
    assert revocable_in_usage(workspace) == {("DATABASE_URL", 1, 1)}
    # A deployment of the current value going changes nothing announced.
    third = workspace.deploy({"name": "web", "target": "production"})
    delete_deployment(workspace, third["id"])
    assert announced(workspace) == [("DATABASE_URL", 1, 1)]


def test_deleting_the_project_announces_the_values_only_its_deployments_used(
    workspace: Workspace, project: str
) -> None:
    workspace.deploy({"name": "web", "target": "production"})
    put(workspace, "2")
    put(workspace, "3")
    assert announced(workspace) == [("DATABASE_URL", 2, 2)]
    response = workspace.client.delete(f"/v9/projects/{project}", headers=workspace.headers)
    assert response.status_code == 204
    assert announced(workspace) == [("DATABASE_URL", 2, 2), ("DATABASE_URL", 1, 1)]
    assert revocable_in_usage(workspace) == {("DATABASE_URL", 1, 1), ("DATABASE_URL", 2, 2)}


def test_a_removed_name_is_announced_like_a_replaced_value(
    workspace: Workspace, project: str
) -> None:
    put(workspace, "1", name="DATABASE_URL")
    status, _ = workspace.partner.put_secrets(
        {"secrets": [{"name": "PGHOST", "value": f"{MARKER}-host"}]}
    )
    assert status == 201
    assert announced(workspace) == [("DATABASE_URL", 1, 1)]
    assert revocable_in_usage(workspace) == {("DATABASE_URL", 1, 1)}


def test_a_value_a_rollback_brings_back_is_announced_again_as_the_new_value_it_is(
    workspace: Workspace, project: str
) -> None:
    partner = workspace.partner
    put(workspace, "2")
    rolled = workspace.client.post(
        partner.resource_path() + "/secrets/rollback", json={"version": 1}, headers=partner.auth()
    )
    assert rolled.status_code == 201, rolled.text
    assert rolled.json() == {"version": 3}
    # Version 3 holds version 1's value again, as a value of its own: 1..1 stays announced.
    assert announced(workspace) == [("DATABASE_URL", 1, 1), ("DATABASE_URL", 2, 2)]
    put(workspace, "4")
    assert announced(workspace) == [
        ("DATABASE_URL", 1, 1),
        ("DATABASE_URL", 2, 2),
        ("DATABASE_URL", 3, 3),
    ]
    assert revocable_in_usage(workspace) == set(announced(workspace))


@contextmanager
def failing_announcements(runtime: Runtime) -> Iterator[None]:
    """While open, the database fails the transaction right after it inserted a
    value-revocable event."""

    def fail(
        _conn: object, _cursor: object, statement: str, parameters: Any, *_args: object
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS") and REVOCABLE in str(
            parameters
        ):
            raise RuntimeError("injected failure after the event insert")

    event.listen(runtime.store.engine, "after_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(runtime.store.engine, "after_cursor_execute", fail)


def count_announced(runtime: Runtime) -> int:
    with runtime.store.engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(revocable_values)).scalar_one()
        )


def test_a_failure_after_the_announcement_leaves_neither_it_nor_the_change(
    workspace: Workspace, project: str, runtime: Runtime
) -> None:
    deployment = workspace.deploy({"name": "web", "target": "production"})
    put(workspace, "2")
    before = feed(workspace, limit=100)["events"]
    path = f"/v13/deployments/{deployment['id']}"
    with failing_announcements(runtime):
        with pytest.raises(RuntimeError):
            workspace.client.delete(path, headers=workspace.headers)
        with pytest.raises(RuntimeError):
            workspace.client.delete(f"/v9/projects/{project}", headers=workspace.headers)
    assert feed(workspace, limit=100)["events"] == before
    assert count_announced(runtime) == 0
    assert workspace.client.get(path, headers=workspace.headers).status_code == 200
    # Once the database works again, the deletion announces the value, once.
    delete_deployment(workspace, deployment["id"])
    assert announced(workspace) == [("DATABASE_URL", 1, 1)]
    assert count_announced(runtime) == 1


def test_a_failure_after_the_announcement_at_supersede_time_keeps_the_old_version(
    workspace: Workspace, project: str, runtime: Runtime
) -> None:
    before = feed(workspace, limit=100)["events"]
    with failing_announcements(runtime), pytest.raises(RuntimeError):
        put(workspace, "2")
    assert feed(workspace, limit=100)["events"] == before
    assert count_announced(runtime) == 0
    assert workspace.partner.get_resource()["secretsVersion"] == 1
