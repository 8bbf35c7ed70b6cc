"""Fault injection (CONTRACT.md 7): latency, a status instead of the route, Vercel's 429."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from tests.http.emulator.world import ACCESS_TOKEN, INSTALLATION, seed, world

SECRETS = f"/v1/installations/{INSTALLATION}/resources/db1/secrets"
PARTNER = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
ROTATION = {
    "secrets": [{"name": "DATABASE_URL", "value": "postgres://u:two@h/db"}],
    "partial": True,
}


def add_fault(client: TestClient, **spec: Any) -> Any:
    return client.post("/v1/admin/faults", json=spec, headers=admin_headers())


def version(client: TestClient) -> int:
    resource = client.get(SECRETS.removesuffix("/secrets"), headers=PARTNER)
    assert resource.status_code == 200, resource.text
    answer: int = resource.json()["secretsVersion"]
    return answer


@pytest.fixture
def seeded(emulator: TestClient) -> TestClient:
    assert seed(emulator, world()).status_code == 201
    return emulator


def test_a_429_fault_answers_vercels_body_and_headers_and_the_route_does_not_run(
    seeded: TestClient,
) -> None:
    made = add_fault(
        seeded,
        path="/v1/installations/*/resources/*/secrets",
        method="PUT",
        status=429,
        retryAfterS=7,
        count=1,
    )
    assert made.status_code == 201, made.text
    assert made.json()["id"].startswith("flt_")
    now = seeded.get("/v1/admin/clock", headers=admin_headers()).json()["now"]

    refused = seeded.put(SECRETS, json=ROTATION, headers=PARTNER)

    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert set(error) == {"code", "message", "limit"}
    limit = error["limit"]
    assert limit["remaining"] == 0
    assert limit["total"] > 0
    assert now + 7000 <= limit["resetMs"] <= now + 7000 + 5000
    assert limit["reset"] == limit["resetMs"] // 1000
    assert refused.headers["retry-after"] == "7"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-limit"] == str(limit["total"])
    assert refused.headers["x-ratelimit-reset"] == str(limit["reset"])
    assert version(seeded) == 1
    # Its count is spent: the retry goes through.
    assert seeded.put(SECRETS, json=ROTATION, headers=PARTNER).status_code == 201
    assert version(seeded) == 2
    listed = seeded.get("/v1/admin/faults", headers=admin_headers()).json()["faults"]
    assert [(f["remaining"], f["fired"]) for f in listed] == [(0, 1)]


def test_a_fault_with_a_status_and_body_answers_them_as_json(seeded: TestClient) -> None:
    add_fault(seeded, path=SECRETS, status=503, body={"error": {"code": "down", "message": "m"}})

    response = seeded.put(SECRETS, json=ROTATION, headers=PARTNER)

    assert response.status_code == 503
    assert response.json() == {"error": {"code": "down", "message": "m"}}
    assert "retry-after" not in response.headers
    assert version(seeded) == 1


def test_a_fault_without_a_body_answers_the_contracts_error_shape(seeded: TestClient) -> None:
    add_fault(seeded, path="/v3/*", status=500)

    response = seeded.get(f"/v3/env/pull/{world()['projects'][0]['id']}/production")

    assert response.status_code == 500
    assert set(response.json()["error"]) == {"code", "message"}


def test_a_latency_only_fault_delays_the_request_which_then_runs(seeded: TestClient) -> None:
    add_fault(seeded, path=SECRETS, latencyMs=150)

    response = seeded.put(SECRETS, json=ROTATION, headers=PARTNER)

    assert response.status_code == 201
    assert version(seeded) == 2
    recorded = seeded.get("/v1/admin/requests", params={"path": SECRETS}, headers=admin_headers())
    assert recorded.json()["requests"][0]["durationMs"] >= 150


def test_a_fault_for_another_method_leaves_the_request_alone(seeded: TestClient) -> None:
    add_fault(seeded, path=SECRETS, method="POST", status=500)
    assert seeded.put(SECRETS, json=ROTATION, headers=PARTNER).status_code == 201


def test_admin_paths_are_never_faulted_so_a_test_can_clean_up(seeded: TestClient) -> None:
    add_fault(seeded, path="*", status=500)

    assert seeded.get("/v1/admin/faults", headers=admin_headers()).status_code == 200
    assert seeded.delete("/v1/admin/faults", headers=admin_headers()).status_code == 204
    assert seeded.put(SECRETS, json=ROTATION, headers=PARTNER).status_code == 201


def test_faults_are_listed_deleted_one_by_one_and_all_at_once(seeded: TestClient) -> None:
    first = add_fault(seeded, path="/a").json()
    second = add_fault(seeded, path="/b", status=418).json()
    listed = seeded.get("/v1/admin/faults", headers=admin_headers()).json()["faults"]
    assert [fault["id"] for fault in listed] == [first["id"], second["id"]]
    assert listed[1] == second

    assert (
        seeded.delete(f"/v1/admin/faults/{first['id']}", headers=admin_headers()).status_code == 204
    )
    missing = seeded.delete(f"/v1/admin/faults/{first['id']}", headers=admin_headers())
    assert missing.status_code == 404
    listed = seeded.get("/v1/admin/faults", headers=admin_headers()).json()["faults"]
    assert [fault["id"] for fault in listed] == [second["id"]]
    assert seeded.delete("/v1/admin/faults", headers=admin_headers()).status_code == 204
    assert seeded.get("/v1/admin/faults", headers=admin_headers()).json() == {"faults": []}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "path"),
        ({"path": ""}, "path"),
        ({"path": "/x", "status": 99}, "status"),
        ({"path": "/x", "status": 600}, "status"),
        ({"path": "/x", "method": "FETCH"}, "method"),
        ({"path": "/x", "latencyMs": -1}, "latencyMs"),
        ({"path": "/x", "latencyMs": 600_000}, "latencyMs"),
        ({"path": "/x", "count": 0}, "count"),
        ({"path": "/x", "probability": 0}, "probability"),
        ({"path": "/x", "probability": 1.5}, "probability"),
        ({"path": "/x", "retryAfterS": -1}, "retryAfterS"),
        ({"path": "/x", "surprise": True}, "surprise"),
    ],
)
def test_a_bad_fault_is_400_naming_the_field_and_nothing_is_added(
    emulator: TestClient, spec: dict[str, Any], field: str
) -> None:
    response = add_fault(emulator, **spec)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["fields"][0]["key"] == field
    assert emulator.get("/v1/admin/faults", headers=admin_headers()).json() == {"faults": []}
