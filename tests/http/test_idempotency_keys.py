"""Idempotency-Key (CONTRACT.md 5.6) on both databases: replay, reuse, in flight, expiry."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from keyturn.app import Runtime
from keyturn.domain.clock import SettableClock
from keyturn.domain.idempotency import (
    LEASE_MS,
    RETENTION_MS,
    fingerprint,
    purges_expired,
    record_id,
)
from keyturn.services import idempotency
from keyturn.services.idempotency import KeyedRequest
from keyturn.storage.tables import idempotency_keys, metadata
from tests.conftest import Partner, Workspace, seed_partner
from tests.storage_snapshot import database_snapshot

SECRETS = {"secrets": [{"name": "A", "value": "secret-value-51f0"}]}


def _put(partner: Partner, body: Any, key: str | None = "key-1", **headers: str) -> Any:
    if key is not None:
        headers["Idempotency-Key"] = key
    return partner.client.put(
        partner.resource_path() + "/secrets", json=body, headers={**partner.auth(), **headers}
    )


def _kept_rows(runtime: Runtime) -> int:
    with runtime.store.engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(idempotency_keys)).scalar_one()
        )


@pytest.fixture
def resource(partner: Partner) -> Partner:
    partner.import_resource("db1")
    return partner


def test_secrets_put_replayed_with_the_same_key_answers_the_same_and_makes_no_version(
    resource: Partner, runtime: Runtime
) -> None:
    first = _put(resource, SECRETS)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    # Changed meanwhile by another request: a replay must not undo or redo anything.
    assert _put(resource, {"secrets": [{"name": "B", "value": "x"}]}, key=None).status_code == 201
    before = database_snapshot(runtime)
    again = _put(resource, SECRETS)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"] == '"1"'
    assert database_snapshot(runtime) == before
    assert resource.get_resource()["secretNames"] == ["B"]


def test_same_key_with_another_body_is_422_and_changes_nothing(
    resource: Partner, runtime: Runtime
) -> None:
    assert _put(resource, SECRETS).status_code == 201
    before = database_snapshot(runtime)
    response = _put(resource, {"secrets": [{"name": "A", "value": "other"}]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in response.json()["error"]["message"]
    assert database_snapshot(runtime) == before


def test_same_key_on_another_path_is_another_request(resource: Partner) -> None:
    resource.import_resource("db2")
    assert _put(resource, SECRETS).status_code == 201
    other = resource.client.put(
        resource.resource_path("db2") + "/secrets",
        json=SECRETS,
        headers={**resource.auth(), "Idempotency-Key": "key-1"},
    )
    assert other.status_code == 201, other.text
    assert "Idempotent-Replayed" not in other.headers
    assert resource.get_resource("db2")["secretsVersion"] == 1


def test_a_refusal_is_kept_and_replayed(resource: Partner) -> None:
    refused = _put(resource, {"secrets": [{"name": "1BAD", "value": "v"}]})
    assert refused.status_code == 422, refused.text
    again = _put(resource, {"secrets": [{"name": "1BAD", "value": "v"}]})
    assert again.status_code == 422
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == refused.json()


def test_a_412_is_kept_even_once_the_version_matches(resource: Partner) -> None:
    refused = _put(resource, SECRETS, **{"If-Match": '"1"'})
    assert refused.status_code == 412
    assert _put(resource, {"secrets": []}, key=None).status_code == 201
    again = _put(resource, SECRETS, **{"If-Match": '"1"'})
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (412, "true")


def test_an_unknown_token_is_401_and_keeps_nothing(resource: Partner, runtime: Runtime) -> None:
    response = resource.client.put(
        resource.resource_path() + "/secrets",
        json=SECRETS,
        headers={"Authorization": "Bearer kt_unknown", "Idempotency-Key": "key-1"},
    )
    assert response.status_code == 401
    assert _kept_rows(runtime) == 0
    assert _put(resource, SECRETS).status_code == 201


def test_a_403_is_not_kept(resource: Partner, workspace: Workspace, runtime: Runtime) -> None:
    response = resource.client.put(
        resource.resource_path() + "/secrets",
        json=SECRETS,
        headers={**workspace.headers, "Idempotency-Key": "key-1"},
    )
    assert response.status_code == 403
    assert _kept_rows(runtime) == 0


@pytest.mark.parametrize("key", ["", "é", "tab\there", "x" * 256, "nul\x7f"])
def test_an_invalid_key_is_400_naming_the_header_and_changes_nothing(
    resource: Partner, workspace: Workspace, runtime: Runtime, key: str
) -> None:
    before = database_snapshot(runtime)
    raw = key.encode("latin-1")
    for path, method, body, headers in [
        (resource.resource_path() + "/secrets", "PUT", SECRETS, resource.auth()),
        ("/v11/projects", "POST", {"name": "web"}, workspace.headers),
    ]:
        response = resource.client.request(
            method,
            path,
            json=body,
            headers=[*headers.items(), ("Idempotency-Key", raw)],
        )
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["message"].startswith("Idempotency-Key")
    assert database_snapshot(runtime) == before


@pytest.mark.parametrize("key", ["a", "x" * 255, "with space", "~!@#$%^&*()"])
def test_any_printable_ascii_key_up_to_255_is_accepted(resource: Partner, key: str) -> None:
    assert _put(resource, SECRETS, key=key).status_code == 201
    assert _put(resource, SECRETS, key=key).headers["Idempotent-Replayed"] == "true"


def test_a_key_expires_after_24_hours_on_the_clock(
    resource: Partner, runtime: Runtime, clock: SettableClock
) -> None:
    assert _put(resource, SECRETS).status_code == 201
    clock.advance(RETENTION_MS - 1)
    assert _put(resource, SECRETS).headers["Idempotent-Replayed"] == "true"
    clock.advance(1)
    fresh = _put(resource, {"secrets": [{"name": "A", "value": "new"}]})
    assert fresh.status_code == 201, fresh.text
    assert "Idempotent-Replayed" not in fresh.headers
    assert resource.get_resource()["secretsVersion"] == 2
    assert _kept_rows(runtime) == 1  # the expired record was replaced, not duplicated


def test_expired_records_are_cleaned_up(
    resource: Partner, runtime: Runtime, clock: SettableClock
) -> None:
    headers = {"Authorization": f"Bearer {resource.user_token}"}
    for number in range(3):
        created = resource.client.post(
            "/v11/projects",
            json={"name": f"web-{number}"},
            headers={**headers, "Idempotency-Key": f"old-{number}"},
        )
        assert created.status_code == 200, created.text
    assert _kept_rows(runtime) == 3
    clock.advance(RETENTION_MS)
    created = resource.client.post(
        "/v11/projects", json={"name": "web-new"}, headers={**headers, "Idempotency-Key": "new"}
    )
    assert created.status_code == 200, created.text
    assert _kept_rows(runtime) == 1


def test_one_secrets_put_in_sixteen_cleans_up_expired_records(
    resource: Partner, runtime: Runtime, clock: SettableClock
) -> None:
    """By its record's id; a purging key and a sparing one are picked here to show both."""
    path = resource.resource_path() + "/secrets"
    scope = f"installation/{resource.installation_id}"
    keys = [f"k{number}" for number in range(200)]
    purging = next(key for key in keys if purges_expired(record_id(scope, "PUT", path, key)))
    sparing = next(key for key in keys if not purges_expired(record_id(scope, "PUT", path, key)))
    assert _put(resource, {"secrets": []}, key="old").status_code == 201
    clock.advance(RETENTION_MS)
    assert _put(resource, {"secrets": []}, key=sparing).status_code == 201
    assert _kept_rows(runtime) == 2
    assert _put(resource, {"secrets": []}, key=purging).status_code == 201
    assert _kept_rows(runtime) == 2  # "old" went, `purging` came


def test_a_running_request_with_the_key_answers_409_until_its_lease_ends(
    resource: Partner, runtime: Runtime, clock: SettableClock
) -> None:
    """A claim left by a request still running (or by a process that died while running it)."""
    body = b'{"name": "web"}'
    keyed = KeyedRequest(
        key="key-1", method="POST", path="/v11/projects", fingerprint=fingerprint(b"", body)
    )
    credentials = runtime.context.authenticator.credentials(f"Bearer {resource.user_token}")
    held = idempotency.claim(runtime.context, credentials, keyed)
    assert isinstance(held, idempotency.Claim)
    headers = {"Authorization": f"Bearer {resource.user_token}", "Idempotency-Key": "key-1"}
    busy = resource.client.post("/v11/projects", content=body, headers=headers)
    assert busy.status_code == 409, busy.text
    assert busy.json()["error"]["code"] == "idempotency_key_in_use"
    other_body = resource.client.post("/v11/projects", content=b'{"name": "x"}', headers=headers)
    assert other_body.status_code == 422
    clock.advance(LEASE_MS)
    created = resource.client.post("/v11/projects", content=body, headers=headers)
    assert created.status_code == 200, created.text
    # The lapsed claim cannot overwrite the answer of the request that took the key over.
    idempotency.finish(runtime.context, held, None)
    again = resource.client.post("/v11/projects", content=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == created.json()


def test_env_var_create_is_replayed_once_created_and_its_value_is_sealed(
    resource: Partner, workspace: Workspace, runtime: Runtime
) -> None:
    project = workspace.create_project("web")
    body = {
        "key": "API_KEY",
        "value": "plaintext-canary-e01c",
        "type": "plain",
        "target": ["production"],
    }
    headers = {**workspace.headers, "Idempotency-Key": "create-api-key"}
    path = f"/v10/projects/{project}/env"
    first = workspace.client.post(path, json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = workspace.client.post(path, json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert [var["key"] for var in workspace.envs(project)] == ["API_KEY"]
    with runtime.store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                assert "plaintext-canary-e01c" not in repr(tuple(row)), table.name


def test_delete_is_replayed_with_its_204(resource: Partner) -> None:
    headers = {**resource.auth(), "Idempotency-Key": "delete-db1"}
    first = resource.client.delete(resource.resource_path(), headers=headers)
    assert first.status_code == 204
    again = resource.client.delete(resource.resource_path(), headers=headers)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (204, "true")
    assert again.content == b""


def test_keys_of_one_installation_do_not_reach_another(
    resource: Partner, client: TestClient
) -> None:
    other = seed_partner(client, "other")
    other.import_resource("db1")
    assert _put(resource, SECRETS).status_code == 201
    response = other.client.put(
        other.resource_path() + "/secrets",
        json=SECRETS,
        headers={**other.auth(), "Idempotency-Key": "key-1"},
    )
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert other.get_resource()["secretsVersion"] == 1
