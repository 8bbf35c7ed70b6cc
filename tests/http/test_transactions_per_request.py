"""The hot writes run in one transaction, token look-up included, and keep the error order.

Counted with SQLAlchemy's `begin` event on the runtime's engine: each unit of work is one
transaction, so a count above 1 means a request paid for a second one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event

from keyturn.app import Runtime
from tests.conftest import Partner, Workspace


@pytest.fixture
def begins(runtime: Runtime) -> Iterator[list[object]]:
    seen: list[object] = []

    def count(connection: object) -> None:
        seen.append(connection)

    event.listen(runtime.store.engine, "begin", count)
    yield seen
    event.remove(runtime.store.engine, "begin", count)


@pytest.fixture
def project(partner: Partner, workspace: Workspace) -> str:
    partner.import_resource("db1", secrets=[{"name": "DATABASE_URL", "value": "pg://one"}])
    project_id = workspace.create_project("web")
    assert workspace.connect(project_id).status_code == 201
    return project_id


def test_secrets_put_is_one_transaction(
    partner: Partner, project: str, begins: list[object]
) -> None:
    begins.clear()
    status, _ = partner.put_secrets({"secrets": [{"name": "DATABASE_URL", "value": "pg://two"}]})
    assert status == 201
    assert len(begins) == 1


def test_secrets_put_with_idempotency_key_and_if_match_is_one_transaction(
    partner: Partner, project: str, begins: list[object]
) -> None:
    """The key is claimed and its answer kept in the write's own transaction."""
    begins.clear()
    response = partner.client.put(
        partner.resource_path() + "/secrets",
        json={"secrets": [{"name": "DATABASE_URL", "value": "pg://two"}]},
        headers={**partner.auth(), "Idempotency-Key": "rotate-1", "If-Match": '"1"'},
    )
    assert response.status_code == 201, response.text
    assert len(begins) == 1


def test_deployment_create_is_one_transaction(
    workspace: Workspace, project: str, begins: list[object]
) -> None:
    begins.clear()
    workspace.deploy({"name": "web", "project": project, "target": "production"})
    assert len(begins) == 1


def test_env_var_create_is_one_transaction(
    workspace: Workspace, project: str, begins: list[object]
) -> None:
    begins.clear()
    response = workspace.add_var(
        project, {"key": "API_KEY", "value": "k1", "type": "encrypted", "target": ["production"]}
    )
    assert response.status_code == 201, response.text
    assert len(begins) == 1


def test_env_pull_is_one_transaction_token_included(
    workspace: Workspace, project: str, begins: list[object]
) -> None:
    begins.clear()
    response = workspace.client.get(f"/v3/env/pull/{project}/production", headers=workspace.headers)
    assert response.status_code == 200, response.text
    assert response.json()["env"]["DATABASE_URL"] == "pg://one"
    assert len(begins) == 1


def test_env_pull_of_an_unknown_target_with_an_unknown_token_is_401_first(
    workspace: Workspace, project: str
) -> None:
    response = workspace.client.get(
        f"/v3/env/pull/{project}/nowhere", headers={"Authorization": "Bearer kt_user_unknown"}
    )
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v13/deployments", b'{"name": 5}'),
        ("/v10/projects/web/env", b'{"key": "K", "value": "v", "type": "encrypted", "target": 1}'),
        ("/v13/deployments", b"not json"),
    ],
)
def test_unknown_token_with_a_bad_body_is_401_not_400(
    workspace: Workspace, project: str, path: str, body: bytes
) -> None:
    response = workspace.client.post(
        path, content=body, headers={"Authorization": "Bearer kt_user_unknown"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["invalidToken"] is True


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v13/deployments", b'{"name": 5}'),
        ("/v10/projects/web/env", b'{"key": "K", "value": "v", "type": "encrypted", "target": 1}'),
    ],
)
def test_user_token_with_a_bad_body_is_400_and_creates_nothing(
    workspace: Workspace, project: str, path: str, body: bytes
) -> None:
    response = workspace.client.post(path, content=body, headers=workspace.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
    listed = workspace.client.get("/v6/deployments", headers=workspace.headers).json()
    assert listed["deployments"] == []
    assert [var["key"] for var in workspace.envs(project)] == ["DATABASE_URL"]


def test_partner_token_on_deployments_is_403_before_its_bad_body(
    partner: Partner, workspace: Workspace, project: str
) -> None:
    response = workspace.client.post("/v13/deployments", content=b"[", headers=partner.auth())
    assert response.status_code == 403, response.text
