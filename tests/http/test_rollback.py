"""Rollback (CONTRACT.md 5.4): the secret set of an earlier version, as a new version."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from keyturn.app import Runtime
from keyturn.storage.tables import secrets_versions
from tests.conftest import Partner, Workspace, seed_partner
from tests.storage_snapshot import database_snapshot


def _rollback(partner: Partner, body: Any, resource_id: str = "db1", **headers: str) -> Any:
    return partner.client.post(
        partner.resource_path(resource_id) + "/secrets/rollback",
        json=body,
        headers={**partner.auth(), **headers},
    )


@pytest.fixture
def three_versions(partner: Partner) -> Partner:
    """db1 at version 3: v1 {A=1, B=1}, v2 {A=2, B=1}, v3 {A=2, C=3 prefixed}."""
    partner.import_resource("db1")
    assert (
        partner.put_secrets(
            {"secrets": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}]}
        )[0]
        == 201
    )
    assert (
        partner.put_secrets({"secrets": [{"name": "A", "value": "2"}], "partial": True})[0] == 201
    )
    assert (
        partner.put_secrets(
            {"secrets": [{"name": "A", "value": "2"}, {"name": "C", "value": "3", "prefix": "X"}]}
        )[0]
        == 201
    )
    assert partner.get_resource()["secretsVersion"] == 3
    return partner


def test_rollback_makes_the_old_set_a_new_version(
    three_versions: Partner, workspace: Workspace, runtime: Runtime
) -> None:
    project = workspace.create_project("web")
    assert workspace.connect(project).status_code == 201
    response = _rollback(three_versions, {"version": 1})
    assert response.status_code == 201, response.text
    assert response.json() == {"version": 4}
    assert response.headers["ETag"] == '"4"'
    resource = three_versions.get_resource()
    assert resource["secretsVersion"] == 4
    assert resource["secretNames"] == ["A", "B"]
    assert workspace.pull(project, "production") == {"A": "1", "B": "1"}
    with runtime.store.engine.connect() as connection:
        sources = connection.execute(
            select(secrets_versions.c.version, secrets_versions.c.source).order_by(
                secrets_versions.c.version
            )
        ).all()
    assert [tuple(row) for row in sources] == [
        (1, "update"),
        (2, "update"),
        (3, "update"),
        (4, "rollback"),
    ]


def test_rollback_to_the_current_set_makes_no_version(three_versions: Partner) -> None:
    response = _rollback(three_versions, {"version": 3})
    assert response.status_code == 201, response.text
    assert response.json() == {"version": 3}
    assert three_versions.get_resource()["secretsVersion"] == 3


def test_rollback_to_a_set_equal_to_the_current_one_makes_no_version(partner: Partner) -> None:
    partner.import_resource("db1", secrets=[{"name": "A", "value": "1"}])
    partner.put_secrets({"secrets": [{"name": "A", "value": "2"}]})
    partner.put_secrets({"secrets": [{"name": "A", "value": "1"}]})
    response = _rollback(partner, {"version": 1})
    assert response.status_code == 201, response.text
    assert response.json() == {"version": 3}


@pytest.mark.parametrize("version", [4, 99, 2**31 - 1])
def test_rollback_to_an_unknown_version_is_404_and_changes_nothing(
    three_versions: Partner, runtime: Runtime, version: int
) -> None:
    before = database_snapshot(runtime)
    response = _rollback(three_versions, {"version": version})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert "version" in response.json()["error"]["message"]
    assert database_snapshot(runtime) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "version"),
        ({"version": "1"}, "version"),
        ({"version": True}, "version"),
        ({"version": 1.5}, "version"),
        ({"version": 0}, "version"),
        ({"version": 2**31}, "version"),
        ({"version": 1, "partial": True}, "partial"),
        ([1], "body"),
    ],
)
def test_rollback_with_a_bad_body_is_400_naming_the_field(
    three_versions: Partner, runtime: Runtime, body: Any, field: str
) -> None:
    before = database_snapshot(runtime)
    response = _rollback(three_versions, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["message"].startswith(field)
    assert database_snapshot(runtime) == before


def test_rollback_of_an_unknown_resource_is_404_before_the_body(partner: Partner) -> None:
    response = _rollback(partner, {"version": "nope"}, resource_id="nothing")
    assert response.status_code == 404, response.text
    assert "resourceId" in response.json()["error"]["message"]


def test_rollback_with_another_installations_token_is_403(
    three_versions: Partner, client: TestClient
) -> None:
    other = seed_partner(client, "other")
    response = three_versions.client.post(
        three_versions.resource_path() + "/secrets/rollback",
        json={"version": 1},
        headers=other.auth(),
    )
    assert response.status_code == 403, response.text


def test_rollback_of_an_uninstalled_resource_is_422_and_changes_nothing(
    three_versions: Partner, runtime: Runtime
) -> None:
    patched = three_versions.client.patch(
        three_versions.resource_path(),
        json={"status": "uninstalled"},
        headers=three_versions.auth(),
    )
    assert patched.status_code == 200, patched.text
    before = database_snapshot(runtime)
    response = _rollback(three_versions, {"version": 1})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "resource_not_active"
    assert database_snapshot(runtime) == before


def test_rollback_bringing_back_a_key_a_user_took_is_409_and_changes_nothing(
    three_versions: Partner, workspace: Workspace, runtime: Runtime
) -> None:
    project = workspace.create_project("web")
    assert workspace.connect(project).status_code == 201
    added = workspace.add_var(
        project, {"key": "B", "value": "mine", "type": "encrypted", "target": ["production"]}
    )
    assert added.status_code == 201, added.text
    before = database_snapshot(runtime)
    response = _rollback(three_versions, {"version": 1})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "env_var_conflict"
    assert "mine" not in response.text
    assert database_snapshot(runtime) == before
