"""The request recorder (CONTRACT.md 7): what a partner's code sent, never what it said."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from keyturn.domain.emulator import RECORDED_REQUESTS
from tests.conftest import ADMIN_TOKEN, admin_headers
from tests.http.emulator.world import ACCESS_TOKEN, INSTALLATION, USER_TOKEN, seed, world

SECRETS = f"/v1/installations/{INSTALLATION}/resources/db1/secrets"
SECRET_VALUE = "postgres://u:recorded-never@h/db"


def recorded(client: TestClient, **params: object) -> list[dict[str, object]]:
    response = client.get("/v1/admin/requests", params=params, headers=admin_headers())
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["requests"]
    return items


def test_recorder_keeps_each_request_newest_first_with_its_status_and_token_kind(
    emulator: TestClient,
) -> None:
    assert seed(emulator, world()).status_code == 201
    before = emulator.get("/v1/admin/clock", headers=admin_headers()).json()["now"]
    partner = {"Authorization": f"Bearer {ACCESS_TOKEN}", "Idempotency-Key": "rotate-42"}
    put = emulator.put(
        SECRETS,
        json={"secrets": [{"name": "DATABASE_URL", "value": SECRET_VALUE}], "partial": True},
        headers=partner,
    )
    assert put.status_code == 201
    emulator.get(
        "/v9/projects?teamId=team_seeded1", headers={"Authorization": f"Bearer {USER_TOKEN}"}
    )
    emulator.get("/healthz", headers={"Authorization": "Bearer kt_unknown_token_value"})

    items = recorded(emulator)

    assert [item["path"] for item in items] == ["/healthz", "/v9/projects", SECRETS]
    health, projects, secrets = items
    assert secrets["method"] == "PUT"
    assert secrets["status"] == 201
    assert secrets["tokenKind"] == "integration"
    assert secrets["idempotencyKey"] == "rotate-42"
    assert secrets["query"] == ""
    assert isinstance(secrets["at"], int)
    assert secrets["at"] >= before
    assert isinstance(secrets["durationMs"], int)
    assert secrets["durationMs"] >= 0
    assert str(secrets["id"]).startswith("req_")
    assert projects["tokenKind"] == "user"
    assert projects["query"] == "teamId=team_seeded1"
    assert projects["idempotencyKey"] is None
    # A token keyturn does not know has no kind.
    assert health["tokenKind"] is None
    # No header value (but the idempotency key), no body, no token, no secret.
    text = json.dumps(items)
    for never in (SECRET_VALUE, ACCESS_TOKEN, USER_TOKEN, ADMIN_TOKEN, "kt_unknown_token_value"):
        assert never not in text


def test_control_routes_are_not_recorded(emulator: TestClient) -> None:
    seed(emulator, world())
    emulator.get("/v1/admin/faults", headers=admin_headers())
    emulator.post("/v1/admin/teams", json={"slug": "other"}, headers=admin_headers())
    assert recorded(emulator) == []


def test_recorder_filters_by_path_glob_and_limit(emulator: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/healthz"):
        emulator.get(path)

    assert [item["path"] for item in recorded(emulator, path="/h*")] == ["/healthz", "/healthz"]
    assert [item["path"] for item in recorded(emulator, limit=1)] == ["/healthz"]
    assert recorded(emulator, path="/nothing*") == []


def test_recorder_refuses_a_bad_limit_with_400_naming_it(emulator: TestClient) -> None:
    for limit in ("0", "1001", "x", "-1", "²", "\uff11"):
        response = emulator.get(
            "/v1/admin/requests", params={"limit": limit}, headers=admin_headers()
        )
        assert response.status_code == 400, limit
        assert response.json()["error"]["fields"][0]["key"] == "limit"


def test_recorder_keeps_only_the_last_thousand(emulator: TestClient) -> None:
    for _ in range(RECORDED_REQUESTS + 5):
        emulator.get("/healthz")
    emulator.get("/readyz")

    items = recorded(emulator)

    assert len(items) == RECORDED_REQUESTS
    assert items[0]["path"] == "/readyz"


def test_delete_empties_the_recorder(emulator: TestClient) -> None:
    emulator.get("/healthz")
    response = emulator.delete("/v1/admin/requests", headers=admin_headers())
    assert response.status_code == 204
    assert recorded(emulator) == []
    emulator.get("/healthz")
    assert len(recorded(emulator)) == 1


def test_a_faulted_request_is_recorded_with_the_status_it_got(emulator: TestClient) -> None:
    emulator.post(
        "/v1/admin/faults", json={"path": "/healthz", "status": 429}, headers=admin_headers()
    )
    assert emulator.get("/healthz").status_code == 429
    assert recorded(emulator)[0]["status"] == 429
