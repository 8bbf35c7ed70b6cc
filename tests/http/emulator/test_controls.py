"""Emulator mode's switch, its admin-only controls, reset and the clock (CONTRACT.md 7)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime
from tests.conftest import admin_headers
from tests.http.emulator.world import (
    ACCESS_TOKEN,
    INSTALLATION,
    USER_TOKEN,
    row_counts,
    seed,
    world,
)

CONTROLS = [
    ("POST", "/v1/admin/reset"),
    ("POST", "/v1/admin/seed"),
    ("POST", "/v1/admin/faults"),
    ("GET", "/v1/admin/faults"),
    ("DELETE", "/v1/admin/faults"),
    ("DELETE", "/v1/admin/faults/flt_x"),
    ("GET", "/v1/admin/clock"),
    ("POST", "/v1/admin/clock"),
    ("GET", "/v1/admin/requests"),
    ("DELETE", "/v1/admin/requests"),
]
DAY_MS = 24 * 3600 * 1000


@pytest.mark.parametrize(("method", "path"), CONTROLS)
def test_outside_emulator_mode_every_control_is_404_and_undocumented(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, headers=admin_headers(), json={})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    documented = client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith(("/v1/admin/reset", "/v1/admin/faults")) for p in documented)


def test_in_emulator_mode_every_control_is_documented(emulator: TestClient) -> None:
    documented = emulator.get("/openapi.json").json()["paths"]
    for method, path in CONTROLS:
        shape = path.replace("flt_x", "{faultId}")
        assert method.lower() in documented[shape], (method, path)


@pytest.mark.parametrize(("method", "path"), CONTROLS)
def test_controls_take_the_admin_token_only(emulator: TestClient, method: str, path: str) -> None:
    assert seed(emulator, world()).status_code == 201
    missing = emulator.request(method, path, json={})
    assert missing.status_code == 401
    assert missing.json()["error"]["missingToken"] is True
    for token in (USER_TOKEN, ACCESS_TOKEN):
        refused = emulator.request(method, path, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 403, (token, refused.text)
    # Nothing was reset: the seeded token still works.
    env = emulator.get(
        f"/v3/env/pull/{world()['projects'][0]['id']}/production",
        headers={"Authorization": f"Bearer {USER_TOKEN}"},
    )
    assert env.status_code == 200


def test_reset_empties_every_table_faults_requests_and_the_clock_offset(
    emulator: TestClient, emulator_runtime: Runtime
) -> None:
    assert seed(emulator, world()).status_code == 201
    user = {"Authorization": f"Bearer {USER_TOKEN}"}
    deployed = emulator.post("/v13/deployments", json={"name": "web"}, headers=user)
    assert deployed.status_code == 200, deployed.text
    emulator.post("/v1/admin/faults", json={"path": "/nowhere"}, headers=admin_headers())
    emulator.post("/v1/admin/clock", json={"advanceMs": DAY_MS}, headers=admin_headers())
    jwks = emulator.get("/.well-known/jwks").json()
    counts = row_counts(emulator_runtime.store.engine)
    assert all(counts[name] > 0 for name in ("teams", "tokens", "resources", "deployments"))

    response = emulator.post("/v1/admin/reset", headers=admin_headers())

    assert response.status_code == 204
    assert response.content == b""
    # Every table is empty but the signing key's, which is the server's (made by the JWKS).
    assert row_counts(emulator_runtime.store.engine) == {
        **dict.fromkeys(counts, 0),
        "signing_keys": 1,
    }
    faults = emulator.get("/v1/admin/faults", headers=admin_headers()).json()
    assert faults == {"faults": []}
    assert emulator.get("/v1/admin/requests", headers=admin_headers()).json() == {"requests": []}
    assert emulator.get("/v1/admin/clock", headers=admin_headers()).json()["offsetMs"] == 0
    # The admin token is not a row: it still works; the seeded tokens are gone.
    assert emulator.get("/v3/env/pull/x/production", headers=user).status_code == 401
    assert seed(emulator, world()).status_code == 201
    assert emulator.get("/.well-known/jwks").json() == jwks


def test_clock_advances_only_forward_and_every_timestamp_follows_it(
    emulator: TestClient,
) -> None:
    before = emulator.get("/v1/admin/clock", headers=admin_headers()).json()
    assert before["offsetMs"] == 0

    advanced = emulator.post("/v1/admin/clock", json={"advanceMs": DAY_MS}, headers=admin_headers())

    assert advanced.status_code == 200
    body = advanced.json()
    assert body["offsetMs"] == DAY_MS
    assert body["now"] >= before["now"] + DAY_MS
    assert seed(emulator, world()).status_code == 201
    project = emulator.get("/v9/projects/web", headers={"Authorization": f"Bearer {USER_TOKEN}"})
    assert project.json()["createdAt"] >= before["now"] + DAY_MS


@pytest.mark.parametrize(
    "body",
    [{"advanceMs": -1}, {"advanceMs": 1.5}, {"advanceMs": "10"}, {}, {"advanceMs": 1, "x": 1}],
)
def test_clock_refuses_a_bad_advance_with_400_and_does_not_move(
    emulator: TestClient, body: dict[str, object]
) -> None:
    emulator.post("/v1/admin/clock", json={"advanceMs": 5}, headers=admin_headers())

    response = emulator.post("/v1/admin/clock", json=body, headers=admin_headers())

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
    clock = emulator.get("/v1/admin/clock", headers=admin_headers()).json()
    assert clock["offsetMs"] == 5


def test_a_seeded_resource_answers_the_partner_with_its_given_token(emulator: TestClient) -> None:
    assert seed(emulator, world()).status_code == 201
    resource = emulator.get(
        f"/v1/installations/{INSTALLATION}/resources/db1",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
    )
    assert resource.status_code == 200
    assert resource.json()["secretNames"] == ["DATABASE_URL", "PGHOST"]
    assert resource.json()["secretsVersion"] == 1
