"""The outbox (CONTRACT.md 6.1): every change writes its event in its own transaction, with
Vercel's base fields and never a value; the feed (6.4) reads them back in order, per caller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select

from keyturn.app import Runtime
from keyturn.storage.tables import events
from tests.conftest import Partner, Workspace, seed_partner

MARKER = "MARKER-value-that-must-never-leave-the-vault"


def feed(workspace: Workspace, token: str | None = None, **params: object) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else workspace.headers
    response = workspace.client.get("/v1/events", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def payloads(workspace: Workspace, event_type: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in feed(workspace, type=event_type, limit=100)["events"]]


def user_of(workspace: Workspace) -> dict[str, str]:
    user = workspace.client.get("/v2/user", headers=workspace.headers).json()["user"]
    return {"id": user["id"]}


def resource_base(partner: Partner, internal_id: str, resource_id: str = "db1") -> dict[str, Any]:
    return {
        "team": {"id": partner.team_id},
        "installationIds": [partner.installation_id],
        "integrations": [
            {
                "installationId": partner.installation_id,
                "resources": [{"externalResourceId": resource_id}],
            }
        ],
        "resource": {"id": resource_id, "internalId": internal_id},
    }


@pytest.fixture
def connected(workspace: Workspace) -> tuple[str, str]:
    """db1 with a marker secret, connected to project web: (project id, resource internal id)."""
    workspace.partner.import_resource(secrets=[{"name": "DATABASE_URL", "value": MARKER}])
    project = workspace.create_project("web")
    response = workspace.connect(project, envVarEnvironments=["production", "preview"])
    assert response.status_code == 201, response.text
    internal_id = str(workspace.partner.get_resource()["internalId"])
    return project, internal_id


def test_every_change_writes_its_event_with_vercels_fields_and_no_value(
    workspace: Workspace, connected: tuple[str, str]
) -> None:
    project, internal_id = connected
    partner = workspace.partner
    user = user_of(workspace)
    base = resource_base(partner, internal_id)
    deployment = workspace.deploy({"name": "web", "target": "production"})
    assert (
        partner.put_secrets({"secrets": [{"name": "PGHOST", "value": MARKER}], "partial": True})[0]
        == 201
    )
    disconnected = workspace.client.delete(
        workspace.connections_path() + f"/{project}", headers=workspace.headers
    )
    assert disconnected.status_code == 204
    assert (
        workspace.client.delete(partner.resource_path(), headers=partner.auth()).status_code == 204
    )
    removed = workspace.client.delete(f"/v9/projects/{project}", headers=workspace.headers)
    assert removed.status_code == 204

    everything = feed(workspace, limit=100)["events"]
    assert [e["type"] for e in everything] == [
        "resource.secrets.updated",  # the import's secrets
        "project.created",
        "integration-resource.project-connected",
        "deployment.created",
        "resource.secrets.updated",
        "integration-resource.project-disconnected",
        "resource.deleted",
        "project.removed",
    ]
    for item in everything:
        assert item["id"].startswith("evt_")
        assert item["region"] is None
        assert isinstance(item["createdAt"], int)
        assert item["payload"]["team"] == {"id": partner.team_id}
    assert MARKER not in json.dumps(everything)

    [created] = payloads(workspace, "project.created")
    assert created == {
        "team": base["team"],
        "user": user,
        "project": {"id": project, "name": "web"},
    }
    [connect] = payloads(workspace, "integration-resource.project-connected")
    assert connect == {
        **base,
        "user": user,
        "configuration": {"id": partner.installation_id},
        "project": {"id": project, "name": "web"},
        "envVarEnvironments": ["production", "preview"],
    }
    [disconnect] = payloads(workspace, "integration-resource.project-disconnected")
    assert disconnect == {**connect}
    [deployed] = payloads(workspace, "deployment.created")
    assert deployed == {
        **{key: base[key] for key in ("team", "installationIds", "integrations")},
        "user": user,
        "deployment": {
            "id": deployment["id"],
            "name": "web",
            "url": deployment["url"],
            "meta": {},
        },
        "project": {"id": project},
        "target": "production",
    }
    imported, updated = payloads(workspace, "resource.secrets.updated")
    assert (imported["version"], imported["source"]) == (1, "import")
    assert (imported["added"], imported["changed"], imported["removed"]) == (
        ["DATABASE_URL"],
        [],
        [],
    )
    assert updated == {
        **base,
        "user": None,
        "version": 2,
        "source": "update",
        "added": ["PGHOST"],
        "changed": [],
        "removed": [],
    }
    [deleted] = payloads(workspace, "resource.deleted")
    assert deleted == {**base, "user": None}
    [gone] = payloads(workspace, "project.removed")
    assert gone == created


def test_deleting_a_project_disconnects_each_connection_first(
    workspace: Workspace, connected: tuple[str, str]
) -> None:
    project, _ = connected
    assert (
        workspace.client.delete(f"/v9/projects/{project}", headers=workspace.headers).status_code
        == 204
    )
    types = [e["type"] for e in feed(workspace, limit=100)["events"]]
    assert types[-2:] == ["integration-resource.project-disconnected", "project.removed"]


def test_a_no_op_put_writes_no_event(workspace: Workspace, connected: tuple[str, str]) -> None:
    before = feed(workspace, limit=100)["events"]
    status, _ = workspace.partner.put_secrets(
        {"secrets": [{"name": "DATABASE_URL", "value": MARKER}]}
    )
    assert status == 201
    assert feed(workspace, limit=100)["events"] == before


@pytest.fixture
def failing_event_insert(runtime: Runtime) -> Iterator[None]:
    """The database fails the transaction right after it inserted the event rows."""

    def fail(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            raise RuntimeError("injected failure after the event insert")

    event.listen(runtime.store.engine, "after_cursor_execute", fail)
    yield
    event.remove(runtime.store.engine, "after_cursor_execute", fail)


def count_events(runtime: Runtime) -> int:
    with runtime.store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(events)).scalar_one())


def test_a_failure_after_the_event_insert_leaves_no_event_and_no_change(
    workspace: Workspace,
    connected: tuple[str, str],
    runtime: Runtime,
    request: pytest.FixtureRequest,
) -> None:
    partner = workspace.partner
    before = count_events(runtime)
    version = partner.get_resource()["secretsVersion"]
    request.getfixturevalue("failing_event_insert")
    with pytest.raises(RuntimeError):
        partner.put_secrets({"secrets": [{"name": "PGHOST", "value": "x"}], "partial": True})
    with pytest.raises(RuntimeError):
        workspace.client.post("/v11/projects", json={"name": "api"}, headers=workspace.headers)
    with pytest.raises(RuntimeError):
        workspace.deploy({"name": "web", "target": "preview"})
    assert count_events(runtime) == before
    assert partner.get_resource()["secretsVersion"] == version
    projects = workspace.client.get("/v9/projects", headers=workspace.headers).json()["projects"]
    assert [p["name"] for p in projects] == ["web"]
    deployments = workspace.client.get("/v6/deployments", headers=workspace.headers).json()
    assert deployments["deployments"] == []


def test_the_feed_pages_in_order_with_a_cursor_and_a_type_filter(workspace: Workspace) -> None:
    for index in range(5):
        workspace.create_project(f"p{index}")
    first = feed(workspace, limit=2)
    assert [e["payload"]["project"]["name"] for e in first["events"]] == ["p0", "p1"]
    second = feed(workspace, limit=2, after=first["next"])
    assert [e["payload"]["project"]["name"] for e in second["events"]] == ["p2", "p3"]
    last = feed(workspace, limit=2, after=second["next"])
    assert [e["payload"]["project"]["name"] for e in last["events"]] == ["p4"]
    assert last["next"] is None
    assert feed(workspace, type="deployment.created")["events"] == []
    assert len(feed(workspace, type="project.created")["events"]) == 5


def test_feed_refuses_bad_limits_types_and_cursors_with_400(workspace: Workspace) -> None:
    for params, field in [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"type": "nope"}, "type"),
        ({"after": "evt_missing"}, "after"),
    ]:
        response = workspace.client.get("/v1/events", params=params, headers=workspace.headers)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]["message"].startswith(field)


def test_an_integration_token_sees_its_installations_events_only(
    workspace: Workspace, connected: tuple[str, str]
) -> None:
    partner = workspace.partner
    other = seed_partner(workspace.client, "other")
    other.import_resource(secrets=[{"name": "K", "value": "v"}])
    mine = feed(workspace, token=partner.token, limit=100)["events"]
    assert [e["type"] for e in mine] == [
        "resource.secrets.updated",
        "integration-resource.project-connected",
    ]
    theirs = feed(workspace, token=other.token, limit=100)["events"]
    assert [e["payload"]["installationIds"] for e in theirs] == [[other.installation_id]]
    # Nor can one read the other's deliveries, or page from the other's cursor.
    foreign = theirs[0]["id"]
    deliveries = workspace.client.get(f"/v1/events/{foreign}/deliveries", headers=partner.auth())
    assert deliveries.status_code == 403
    cursor = workspace.client.get("/v1/events", params={"after": foreign}, headers=partner.auth())
    assert cursor.status_code == 400
    user_feed = feed(workspace, limit=100)["events"]
    assert foreign not in {e["id"] for e in user_feed}
