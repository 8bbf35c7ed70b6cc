"""Rotation requests (CONTRACT.md 5.3) end to end, with a real partner.

keyturn runs over real HTTP (a thread, `tests.keyturn_server`); the partner is a real HTTP
server (`tests.partner_server`) that verifies every token against keyturn's JWKS fetched over
HTTP, as partner code does, and answers as each test tells it. Owners call keyturn's socket
too, so the token's issuer is the server's own base URL as a request sees it. Every failure
case checks that no secret changed.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.event import listen, remove

from keyturn.app import Runtime
from keyturn.domain.clock import SettableClock
from keyturn.services.rotations import record_timed_out_rotations
from keyturn.settings import Settings
from keyturn.storage.tables import secrets_versions
from tests.conftest import Partner, Workspace, admin_headers
from tests.keyturn_server import serve_in_thread
from tests.partner_server import Answer, PartnerServer, deferred, sync

OLD = [{"name": "PGPASSWORD", "value": "old-password"}]
NEW = [{"name": "PGPASSWORD", "value": "new-password"}]
HOUR_MS = 3_600_000


@pytest.fixture
def partner_timeout_s() -> float:
    return 10.0


@pytest.fixture
def settings(settings: Settings, partner_timeout_s: float) -> Settings:
    return settings.model_copy(update={"partner_timeout_s": partner_timeout_s})


@pytest.fixture
def keyturn_url(runtime: Runtime) -> Iterator[str]:
    with serve_in_thread(runtime) as url:
        yield url


@pytest.fixture
def partner_api(keyturn_url: str, partner: Partner) -> Iterator[PartnerServer]:
    """The partner's server, set as the integration's `baseUrl`, and a resource with secrets."""
    server = PartnerServer(
        jwks_url=f"{keyturn_url}/.well-known/jwks",
        issuer=keyturn_url,
        audience=partner.integration_id,
    )
    server.start()
    set_base_url(partner, server.base_url)
    partner.import_resource("db1", secrets=OLD)
    yield server
    server.stop()


class Owner:
    """The resource's owner, calling keyturn's socket with the team's user token."""

    def __init__(self, partner: Partner, keyturn_url: str) -> None:
        self.partner = partner
        self.http = httpx.Client(
            base_url=keyturn_url,
            headers={"Authorization": f"Bearer {partner.user_token}"},
            timeout=60,
        )

    def path(self, resource_id: str = "db1") -> str:
        return (
            f"/v1/integrations/installations/{self.partner.installation_id}"
            f"/resources/{resource_id}/secrets"
        )

    def rotate(self, body: object = None, resource_id: str = "db1", **kwargs: Any) -> Any:
        if body is None:
            return self.http.post(self.path(resource_id) + "/rotate", **kwargs)
        return self.http.post(self.path(resource_id) + "/rotate", json=body, **kwargs)

    def rotations(self, resource_id: str = "db1") -> list[dict[str, Any]]:
        response = self.http.get(self.path(resource_id) + "/rotations")
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["rotations"]
        return found


@pytest.fixture
def owner(partner: Partner, keyturn_url: str) -> Iterator[Owner]:
    owner = Owner(partner, keyturn_url)
    yield owner
    owner.http.close()


def set_base_url(partner: Partner, base_url: str | None) -> None:
    response = partner.client.patch(
        f"/v1/admin/integrations/{partner.integration_id}",
        json={"baseUrl": base_url},
        headers=admin_headers(),
    )
    assert response.status_code == 200, response.text


def secrets_state(partner: Partner) -> tuple[object, object]:
    """What a failed request must leave alone: the version and the values a project pulls."""
    resource = partner.get_resource()
    return resource["secretsVersion"], resource["secretNames"]


def pulled(workspace: Workspace, project_id: str) -> dict[str, str]:
    return workspace.pull(project_id, "production")


def version_row(runtime: Runtime, version: int) -> Any:
    with runtime.store.engine.connect() as connection:
        return connection.execute(
            select(secrets_versions).where(secrets_versions.c.version == version)
        ).one()


# Sync answers


def test_sync_answer_rotates_at_once_as_a_rotation_version(
    owner: Owner,
    partner_api: PartnerServer,
    workspace: Workspace,
    runtime: Runtime,
    partner: Partner,
) -> None:
    project = workspace.create_project("web")
    assert workspace.connect(project).status_code == 201
    partner_api.answer(sync(NEW))
    response = owner.rotate({"reason": "leaked in a log", "delayOldSecretsExpirationHours": 1.5})
    assert response.status_code == 200, response.text
    rotation = response.json()["rotation"]
    assert set(rotation) == {
        "id",
        "resourceId",
        "status",
        "reason",
        "delayOldSecretsExpirationHours",
        "requestedAt",
        "requestedBy",
        "completedAt",
        "version",
        "error",
    }
    assert rotation["id"].startswith("rot_")
    assert (rotation["status"], rotation["version"], rotation["error"]) == ("completed", 2, None)
    assert (rotation["resourceId"], rotation["reason"]) == ("db1", "leaked in a log")
    assert rotation["delayOldSecretsExpirationHours"] == 1.5
    assert rotation["requestedBy"].startswith("user_")
    assert rotation["completedAt"] >= rotation["requestedAt"]
    assert pulled(workspace, project) == {"PGPASSWORD": "new-password"}
    row = version_row(runtime, 2)
    assert (row.source, row.rotation_id) == ("rotation", rotation["id"])
    assert row.superseded_expire_after_ms == round(1.5 * HOUR_MS)


def test_usage_ledger_shows_when_the_rotated_value_expires(
    owner: Owner, partner_api: PartnerServer
) -> None:
    partner_api.answer(sync(NEW))
    rotation = owner.rotate({"delayOldSecretsExpirationHours": 2}).json()["rotation"]
    response = owner.http.get(owner.path() + "/usage")
    assert response.status_code == 200, response.text
    old = next(v for v in response.json()["values"] if not v["current"])
    assert (old["name"], old["fromVersion"], old["toVersion"]) == ("PGPASSWORD", 1, 1)
    assert old["supersededAt"] == rotation["completedAt"]
    assert old["expiresAt"] == old["supersededAt"] + 2 * HOUR_MS


def test_partner_gets_a_verified_token_with_vercels_claims_and_headers(
    owner: Owner, partner_api: PartnerServer, partner: Partner, keyturn_url: str
) -> None:
    partner_api.answer(sync(NEW))
    body = {"reason": "scheduled"}
    rotation = owner.rotate(body).json()["rotation"]
    (received,) = partner_api.received
    assert received.verification_error is None
    assert received.path == (
        f"/v1/installations/{partner.installation_id}/resources/db1/secrets/rotate"
    )
    assert received.headers["x-vercel-auth"] == "user"
    assert received.headers["idempotency-key"] == rotation["id"]
    assert received.headers["content-type"] == "application/json"
    assert received.body == body
    claims = received.claims
    assert claims is not None
    user_id = rotation["requestedBy"]
    assert claims == {
        "iss": keyturn_url,
        "aud": partner.integration_id,
        "sub": f"account:{partner.team_id}:user:{user_id}",
        "account_id": partner.team_id,
        "installation_id": partner.installation_id,
        "user_id": user_id,
        "user_role": "ADMIN",
        "iat": claims["iat"],
        "exp": claims["iat"] + 300,
    }


def test_partner_resource_id_is_one_escaped_path_segment(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    partner.import_resource("db%201", secrets=OLD)
    assert partner.get_resource("db%201")["id"] == "db 1"
    partner_api.answer(sync(NEW))
    assert owner.rotate({}, resource_id="db%201").status_code == 200
    assert partner_api.received[0].path.endswith("/resources/db%201/secrets/rotate")


def test_partner_body_is_only_what_the_owner_sent(owner: Owner, partner_api: PartnerServer) -> None:
    partner_api.answer(sync(NEW), sync(NEW))
    assert owner.rotate().status_code == 200
    assert owner.rotate({"delayOldSecretsExpirationHours": 0}).status_code == 200
    assert [r.body for r in partner_api.received] == [{}, {"delayOldSecretsExpirationHours": 0}]


def test_sync_answer_may_be_partial(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    partner.put_secrets({"secrets": [*OLD, {"name": "PGUSER", "value": "app"}]})
    partner_api.answer(sync(NEW, partial=True))
    assert owner.rotate({}).status_code == 200
    assert partner.get_resource()["secretNames"] == ["PGPASSWORD", "PGUSER"]


def test_sync_answer_with_the_same_secrets_completes_without_a_version(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    partner_api.answer(sync(OLD))
    rotation = owner.rotate({}).json()["rotation"]
    assert (rotation["status"], rotation["version"]) == ("completed", 1)
    assert partner.get_resource()["secretsVersion"] == 1


# Async answers


@pytest.mark.parametrize("status", [200, 202])
def test_async_answer_is_202_pending(
    owner: Owner, partner_api: PartnerServer, status: int, partner: Partner
) -> None:
    before = secrets_state(partner)
    partner_api.answer(deferred(status))
    response = owner.rotate({"reason": "r"})
    assert response.status_code == 202, response.text
    rotation = response.json()["rotation"]
    assert (rotation["status"], rotation["completedAt"], rotation["version"]) == (
        "pending",
        None,
        None,
    )
    assert owner.rotations() == [rotation]
    assert secrets_state(partner) == before


def test_partners_next_effective_update_completes_a_pending_rotation(
    owner: Owner, partner_api: PartnerServer, partner: Partner, runtime: Runtime
) -> None:
    rotation = owner.rotate({"delayOldSecretsExpirationHours": 2}).json()["rotation"]
    # A PUT that changes nothing leaves it pending.
    assert partner.put_secrets({"secrets": OLD})[0] == 201
    assert owner.rotations()[0]["status"] == "pending"
    assert partner.put_secrets({"secrets": NEW})[0] == 201
    (completed,) = owner.rotations()
    assert completed["id"] == rotation["id"]
    assert (completed["status"], completed["version"]) == ("completed", 2)
    row = version_row(runtime, 2)
    assert (row.source, row.rotation_id, row.superseded_expire_after_ms) == (
        "rotation",
        rotation["id"],
        2 * HOUR_MS,
    )
    # The next update is an ordinary one again.
    assert partner.put_secrets({"secrets": OLD})[0] == 201
    assert (version_row(runtime, 3).source, version_row(runtime, 3).rotation_id) == ("update", None)


@pytest.mark.parametrize("how", ["import", "patch"])
def test_import_or_patch_with_secrets_completes_a_pending_rotation(
    owner: Owner, partner_api: PartnerServer, partner: Partner, runtime: Runtime, how: str
) -> None:
    rotation = owner.rotate({}).json()["rotation"]
    if how == "import":
        partner.import_resource("db1", secrets=NEW)
    else:
        response = partner.client.patch(
            partner.resource_path("db1"), json={"secrets": NEW}, headers=partner.auth()
        )
        assert response.status_code == 200, response.text
    assert owner.rotations()[0]["status"] == "completed"
    assert version_row(runtime, 2).rotation_id == rotation["id"]


def test_second_request_while_one_is_pending_is_409(
    owner: Owner, partner_api: PartnerServer
) -> None:
    first = owner.rotate({}).json()["rotation"]
    response = owner.rotate({})
    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "rotation_in_progress",
    )
    assert len(partner_api.received) == 1
    assert owner.rotations() == [first]


def test_pending_rotation_times_out_on_the_clock(
    owner: Owner,
    partner_api: PartnerServer,
    partner: Partner,
    clock: SettableClock,
    runtime: Runtime,
) -> None:
    rotation = owner.rotate({}).json()["rotation"]
    clock.advance(24 * HOUR_MS - 1)
    assert owner.rotations()[0]["status"] == "pending"
    clock.advance(1)
    (timed_out,) = owner.rotations()
    assert timed_out["id"] == rotation["id"]
    assert timed_out["status"] == "failed"
    assert timed_out["error"]["code"] == "rotation_timed_out"
    # Too late: the partner's update is an ordinary one and completes nothing.
    assert partner.put_secrets({"secrets": NEW})[0] == 201
    assert version_row(runtime, 2).source == "update"
    assert owner.rotations()[0]["status"] == "failed"
    # And the owner may ask again. (keyturn's clock is a day ahead of the partner's now, so
    # the partner would find the new token issued in the future: it skips verifying it.)
    partner_api.jwks_url = None
    partner_api.answer(sync(OLD))
    assert owner.rotate({}).status_code == 200
    assert [r["status"] for r in owner.rotations()] == ["completed", "failed"]


# Failures: 502 partner_error with the failed rotation, and no secret changed


def assert_partner_error(response: Any, code: str) -> dict[str, Any]:
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "partner_error"
    assert error["message"]
    rotation: dict[str, Any] = error["rotation"]
    assert rotation["status"] == "failed"
    assert rotation["error"]["code"] == code
    assert rotation["error"]["message"]
    return rotation


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (
            Answer.json(409, {"error": {"code": "rotation_busy", "message": "try later"}}),
            "rotation_busy",
        ),
        (Answer.json(403, {"error": {"message": "no code"}}), "partner_bad_response"),
        (Answer.json(404, {}), "partner_bad_response"),
        (Answer(200, b"not json"), "partner_bad_response"),
        (Answer.json(200, {"sync": True}), "partner_bad_response"),
        (Answer.json(200, {"sync": True, "secrets": [{"name": "A"}]}), "partner_bad_response"),
        (Answer.json(201, {"sync": False}), "partner_bad_response"),
        (sync([{"name": "1BAD", "value": "v"}]), "invalid_secret_name"),
        (sync([{"name": "TZ", "value": "v"}]), "reserved_secret_name"),
    ],
)
def test_partner_failure_is_502_and_changes_no_secret(
    owner: Owner,
    partner_api: PartnerServer,
    partner: Partner,
    workspace: Workspace,
    answer: Answer,
    code: str,
) -> None:
    project = workspace.create_project("web")
    workspace.connect(project)
    before = secrets_state(partner), pulled(workspace, project)
    partner_api.answer(answer)
    rotation = assert_partner_error(owner.rotate({"reason": "r"}), code)
    assert len(partner_api.received) == 1
    assert (secrets_state(partner), pulled(workspace, project)) == before
    assert owner.rotations() == [rotation]
    assert rotation["completedAt"] is None


def test_partner_secrets_colliding_with_a_user_variable_fail_with_env_var_conflict(
    owner: Owner, partner_api: PartnerServer, partner: Partner, workspace: Workspace
) -> None:
    project = workspace.create_project("web")
    workspace.connect(project)
    added = workspace.add_var(
        project, {"key": "PGHOST", "value": "mine", "type": "encrypted", "target": ["production"]}
    )
    assert added.status_code == 201, added.text
    before = pulled(workspace, project)
    partner_api.answer(sync([*NEW, {"name": "PGHOST", "value": "theirs"}]))
    assert_partner_error(owner.rotate({}), "env_var_conflict")
    assert pulled(workspace, project) == before


def test_5xx_then_success_retries_with_the_same_idempotency_key(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    partner_api.answer(Answer.json(503, {}), sync(NEW))
    response = owner.rotate({})
    assert response.status_code == 200, response.text
    keys = [r.headers["idempotency-key"] for r in partner_api.received]
    assert keys == [response.json()["rotation"]["id"]] * 2
    assert all(r.verification_error is None for r in partner_api.received)
    assert partner.get_resource()["secretsVersion"] == 2


def test_5xx_three_times_is_502_with_the_partners_code(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    before = secrets_state(partner)
    partner_api.default = Answer.json(500, {"error": {"code": "vault_down"}})
    assert_partner_error(owner.rotate({}), "vault_down")
    assert len(partner_api.received) == 3
    assert secrets_state(partner) == before


@pytest.mark.parametrize("partner_timeout_s", [0.5])
def test_slow_partner_times_out(
    owner: Owner, partner_api: PartnerServer, partner: Partner, partner_timeout_s: float
) -> None:
    before = secrets_state(partner)
    partner_api.default = Answer.json(200, {"sync": True, "secrets": NEW}, delay_s=3.0)
    assert_partner_error(owner.rotate({}), "partner_timeout")
    assert secrets_state(partner) == before


def test_unreachable_partner_is_502(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    set_base_url(partner, f"http://127.0.0.1:{closed_port}")
    before = secrets_state(partner)
    assert_partner_error(owner.rotate({}), "partner_unreachable")
    assert secrets_state(partner) == before


def test_after_a_failure_the_owner_may_ask_again(owner: Owner, partner_api: PartnerServer) -> None:
    partner_api.answer(Answer.json(400, {"error": {"code": "nope"}}), sync(NEW))
    assert owner.rotate({}).status_code == 502
    assert owner.rotate({}).status_code == 200
    assert [r["status"] for r in owner.rotations()] == ["completed", "failed"]


# The checks before the partner call, in the contract's order


def test_integration_without_base_url_is_409_rotation_not_supported(
    owner: Owner, partner: Partner, keyturn_url: str
) -> None:
    partner.import_resource("db1", secrets=OLD)
    response = owner.rotate({})
    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "rotation_not_supported",
    )
    assert owner.rotations() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 1001}, "reason"),
        ({"reason": 5}, "reason"),
        ({"reason": None}, "reason"),
        ({"delayOldSecretsExpirationHours": -1}, "delayOldSecretsExpirationHours"),
        ({"delayOldSecretsExpirationHours": 720.5}, "delayOldSecretsExpirationHours"),
        ({"delayOldSecretsExpirationHours": "5"}, "delayOldSecretsExpirationHours"),
        ({"delayOldSecretsExpirationHours": True}, "delayOldSecretsExpirationHours"),
        ({"why": "x"}, "why"),
        (["reason"], "body"),
    ],
)
def test_bad_body_is_400_before_rotation_not_supported(
    owner: Owner, partner: Partner, body: object, field: str
) -> None:
    partner.import_resource("db1", secrets=OLD)
    response = owner.rotate(body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith(f"{field}:")
    assert owner.rotations() == []


def test_reason_of_1000_characters_and_delays_of_0_and_720_are_accepted(
    owner: Owner, partner_api: PartnerServer
) -> None:
    partner_api.answer(sync(NEW), sync(OLD))
    assert (
        owner.rotate({"reason": "x" * 1000, "delayOldSecretsExpirationHours": 720}).status_code
        == 200
    )
    assert owner.rotate({"delayOldSecretsExpirationHours": 0.25}).status_code == 200


def test_unknown_resource_is_404_before_the_body(owner: Owner, partner_api: PartnerServer) -> None:
    response = owner.rotate({"why": 1}, resource_id="nope")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert partner_api.received == []


def test_rotate_refuses_other_tokens(
    owner: Owner, partner_api: PartnerServer, partner: Partner, client: TestClient
) -> None:
    path = owner.path() + "/rotate"
    assert owner.http.post(path, json={}, headers={"Authorization": ""}).status_code == 401
    response = owner.http.post(path, json={}, headers=partner.auth(partner.token))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
    other_team = client.post("/v1/admin/teams", json={"slug": "other"}, headers=admin_headers())
    stranger = client.post(
        f"/v1/admin/teams/{other_team.json()['id']}/tokens", json={}, headers=admin_headers()
    ).json()["token"]
    response = owner.http.post(path, json={}, headers=partner.auth(stranger))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
    assert partner_api.received == []
    assert owner.rotations() == []


# Listing, and the resource's fields


def test_partner_lists_the_same_rotations_newest_first(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    partner_api.answer(sync(NEW), Answer.json(500, {}), Answer.json(500, {}), Answer.json(500, {}))
    owner.rotate({"reason": "first"})
    owner.rotate({"reason": "second"})
    response = partner.client.get(
        partner.resource_path("db1") + "/secrets/rotations", headers=partner.auth()
    )
    assert response.status_code == 200
    listed = response.json()["rotations"]
    assert [r["reason"] for r in listed] == ["second", "first"]
    assert listed == owner.rotations()


def test_rotations_of_an_unknown_resource_are_404_on_both_paths(
    owner: Owner, partner: Partner
) -> None:
    assert owner.http.get(owner.path("nope") + "/rotations").status_code == 404
    response = partner.client.get(
        partner.resource_path("nope") + "/secrets/rotations", headers=partner.auth()
    )
    assert response.status_code == 404


def test_rotation_listing_refuses_the_other_paths_token(owner: Owner, partner: Partner) -> None:
    partner.import_resource("db1")
    response = owner.http.get(owner.path() + "/rotations", headers=partner.auth(partner.token))
    assert response.status_code == 403
    response = partner.client.get(
        partner.resource_path("db1") + "/secrets/rotations",
        headers=partner.auth(partner.user_token),
    )
    assert response.status_code == 403


def test_resource_gains_vercels_rotation_fields_from_its_latest_rotation(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    assert not any(key.startswith("secretRotation") for key in partner.get_resource())
    pending = owner.rotate({"reason": "leak"}).json()["rotation"]
    resource = partner.get_resource()
    assert resource["secretRotationRequestedAt"] == pending["requestedAt"]
    assert resource["secretRotationRequestedReason"] == "leak"
    assert resource["secretRotationRequestedBy"] == pending["requestedBy"]
    assert resource["secretRotationCompletedAt"] is None
    partner.put_secrets({"secrets": NEW})
    completed = owner.rotations()[0]
    assert partner.get_resource()["secretRotationCompletedAt"] == completed["completedAt"]


def test_two_owners_at_once_get_one_rotation_and_one_409(
    partner: Partner, partner_api: PartnerServer, keyturn_url: str
) -> None:
    # The partner takes its time, so the second request arrives while the first is out.
    partner_api.default = Answer.json(202, {"sync": False}, delay_s=0.5)
    owners = [Owner(partner, keyturn_url) for _ in range(2)]
    start = threading.Barrier(2)
    statuses: list[int] = []

    def ask(owner: Owner) -> None:
        start.wait()
        statuses.append(owner.rotate({}).status_code)

    threads = [threading.Thread(target=ask, args=(owner,)) for owner in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202, 409]
    assert len(owners[0].rotations()) == 1
    assert len(partner_api.received) == 1
    for owner in owners:
        owner.http.close()


# Events (CONTRACT.md 6.1): rotation-requested, then -completed or -failed


ROTATION_TYPES = (
    "resource.secrets.rotation-requested",
    "resource.secrets.rotation-completed",
    "resource.secrets.rotation-failed",
)


def rotation_events(owner: Owner) -> list[tuple[str, dict[str, Any]]]:
    """(type, payload) of the team's rotation events, oldest first."""
    response = owner.http.get("/v1/events", params={"limit": 100})
    assert response.status_code == 200, response.text
    return [
        (item["type"], item["payload"])
        for item in response.json()["events"]
        if item["type"] in ROTATION_TYPES
    ]


def rotation_base(partner: Partner, user_id: str | None) -> dict[str, Any]:
    return {
        "team": {"id": partner.team_id},
        "user": None if user_id is None else {"id": user_id},
        "installationIds": [partner.installation_id],
        "integrations": [
            {
                "installationId": partner.installation_id,
                "resources": [{"externalResourceId": "db1"}],
            }
        ],
        "resource": {"id": "db1", "internalId": partner.get_resource()["internalId"]},
    }


def test_sync_rotation_emits_requested_then_completed_with_the_rotation_and_no_value(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    partner_api.answer(sync(NEW))
    rotation = owner.rotate({"reason": "quarterly"}).json()["rotation"]
    user = rotation["requestedBy"]
    base = rotation_base(partner, user)
    (requested, completed) = rotation_events(owner)
    assert requested == (
        "resource.secrets.rotation-requested",
        {
            **base,
            "rotation": {
                **rotation,
                "status": "pending",
                "completedAt": None,
                "version": None,
            },
        },
    )
    assert completed == ("resource.secrets.rotation-completed", {**base, "rotation": rotation})
    response = owner.http.get("/v1/events", params={"limit": 100})
    types = [item["type"] for item in response.json()["events"]]
    # The version the rotation made, the old value it superseded (no deployment uses it) and
    # the rotation's end: one transaction's events.
    assert sorted(types[-3:]) == [
        "resource.secrets.rotation-completed",
        "resource.secrets.updated",
        "resource.secrets.value-revocable",
    ]
    assert "new-password" not in response.text
    assert "old-password" not in response.text


def test_async_rotation_completes_with_the_partners_update_naming_no_user(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    rotation = owner.rotate({}).json()["rotation"]
    assert [t for t, _ in rotation_events(owner)] == ["resource.secrets.rotation-requested"]
    assert partner.put_secrets({"secrets": OLD})[0] == 201  # a no-op leaves it pending
    assert [t for t, _ in rotation_events(owner)] == ["resource.secrets.rotation-requested"]
    assert partner.put_secrets({"secrets": NEW})[0] == 201
    (completed_rotation,) = owner.rotations()
    assert completed_rotation["id"] == rotation["id"]
    assert rotation_events(owner)[-1] == (
        "resource.secrets.rotation-completed",
        {**rotation_base(partner, None), "rotation": completed_rotation},
    )


def test_partner_failure_emits_requested_then_failed_with_the_error(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    partner_api.answer(Answer.json(400, {"error": {"code": "nope", "message": "not today"}}))
    response = owner.rotate({})
    assert response.status_code == 502, response.text
    failed = response.json()["error"]["rotation"]
    assert failed["error"] == {"code": "nope", "message": "not today"}
    types = [t for t, _ in rotation_events(owner)]
    assert types == ["resource.secrets.rotation-requested", "resource.secrets.rotation-failed"]
    assert rotation_events(owner)[-1] == (
        "resource.secrets.rotation-failed",
        {**rotation_base(partner, failed["requestedBy"]), "rotation": failed},
    )


def test_timed_out_rotation_fails_with_its_event_when_the_next_write_meets_it(
    owner: Owner, partner_api: PartnerServer, partner: Partner, clock: SettableClock
) -> None:
    owner.rotate({})
    clock.advance(24 * HOUR_MS)
    assert partner.put_secrets({"secrets": NEW})[0] == 201
    (timed_out,) = owner.rotations()
    assert timed_out["error"]["code"] == "rotation_timed_out"
    assert rotation_events(owner)[-1] == (
        "resource.secrets.rotation-failed",
        {**rotation_base(partner, None), "rotation": timed_out},
    )
    # Recorded once: a second write and a listing add nothing.
    assert partner.put_secrets({"secrets": OLD})[0] == 201
    assert [t for t, _ in rotation_events(owner)].count("resource.secrets.rotation-failed") == 1


def test_a_request_refused_before_the_partner_call_emits_no_rotation_event(
    owner: Owner, partner_api: PartnerServer, partner: Partner
) -> None:
    owner.rotate({})
    assert owner.rotate({}).status_code == 409  # rotation_in_progress
    set_base_url(partner, None)
    assert owner.rotate({}).status_code == 409  # rotation_not_supported
    assert owner.rotate({"reason": ""}).status_code == 400
    assert [t for t, _ in rotation_events(owner)] == ["resource.secrets.rotation-requested"]


@contextmanager
def failing_event(runtime: Runtime, event_type: str) -> Iterator[None]:
    """While open, the database fails the transaction right after it inserted an event of
    `event_type`."""

    def fail(
        _conn: object, _cursor: object, statement: str, parameters: Any, *_args: object
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS") and event_type in str(
            parameters
        ):
            raise RuntimeError("injected failure after the event insert")

    listen(runtime.store.engine, "after_cursor_execute", fail)
    try:
        yield
    finally:
        remove(runtime.store.engine, "after_cursor_execute", fail)


def rotate_failing(owner: Owner) -> int:
    """POST rotate on a connection of its own: after a server error uvicorn drops the
    connection, which the owner's client would otherwise reuse."""
    with httpx.Client(base_url=owner.http.base_url, headers=owner.http.headers) as once:
        return once.post(owner.path() + "/rotate", json={}).status_code


def test_a_failure_after_the_requested_event_records_no_rotation_and_calls_no_partner(
    owner: Owner, partner_api: PartnerServer, runtime: Runtime
) -> None:
    with failing_event(runtime, "resource.secrets.rotation-requested"):
        assert rotate_failing(owner) == 500
    assert owner.rotations() == []
    assert partner_api.received == []
    assert rotation_events(owner) == []


def test_a_failure_after_the_completed_event_leaves_no_new_version_and_no_completion(
    owner: Owner, partner_api: PartnerServer, partner: Partner, runtime: Runtime
) -> None:
    before = secrets_state(partner)
    partner_api.answer(sync(NEW))
    with failing_event(runtime, "resource.secrets.rotation-completed"):
        assert rotate_failing(owner) == 500
    assert secrets_state(partner) == before
    (rotation,) = owner.rotations()
    assert rotation["status"] == "pending"
    assert [t for t, _ in rotation_events(owner)] == ["resource.secrets.rotation-requested"]


def test_a_failure_after_the_failed_event_leaves_the_rotation_pending(
    owner: Owner, partner_api: PartnerServer, runtime: Runtime
) -> None:
    partner_api.answer(Answer.json(400, {"error": {"code": "nope"}}))
    with failing_event(runtime, "resource.secrets.rotation-failed"):
        assert rotate_failing(owner) == 500
    (rotation,) = owner.rotations()
    assert rotation["status"] == "pending"
    assert [t for t, _ in rotation_events(owner)] == ["resource.secrets.rotation-requested"]


def test_a_timed_out_rotation_no_write_meets_is_recorded_by_the_sweep_once(
    owner: Owner,
    partner_api: PartnerServer,
    partner: Partner,
    clock: SettableClock,
    runtime: Runtime,
) -> None:
    owner.rotate({})
    clock.advance(24 * HOUR_MS - 1)
    assert record_timed_out_rotations(runtime.context) == 0
    assert [t for t, _ in rotation_events(owner)] == ["resource.secrets.rotation-requested"]
    clock.advance(1)
    assert record_timed_out_rotations(runtime.context) == 1
    assert record_timed_out_rotations(runtime.context) == 0
    (timed_out,) = owner.rotations()
    assert (timed_out["status"], timed_out["error"]["code"]) == ("failed", "rotation_timed_out")
    assert rotation_events(owner)[-1] == (
        "resource.secrets.rotation-failed",
        {**rotation_base(partner, None), "rotation": timed_out},
    )
    # The partner's late update is an ordinary one and ends nothing again.
    assert partner.put_secrets({"secrets": NEW})[0] == 201
    assert [t for t, _ in rotation_events(owner)].count("resource.secrets.rotation-failed") == 1
