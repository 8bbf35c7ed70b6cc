"""Time-based rules follow the emulator's clock: a rotated token expires when it is advanced."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import admin_headers
from tests.http.emulator.world import ACCESS_TOKEN, CLIENT_SECRET, INSTALLATION, seed, world

SECRET = CLIENT_SECRET


def test_advancing_the_clock_past_the_ttl_expires_a_rotated_token(emulator: TestClient) -> None:
    seeded = seed(emulator, world())
    assert seeded.status_code == 201, seeded.text
    assert seeded.json()["integrations"][0]["clientSecret"] == SECRET
    rotated = emulator.post(
        f"/v1/installations/{INSTALLATION}/credentials/rotate",
        json={"client_secret": SECRET},
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
    )
    assert rotated.status_code == 200, rotated.text
    token = rotated.json()["access_token"]
    listing = f"/v1/installations/{INSTALLATION}/resources"
    auth = {"Authorization": f"Bearer {token}"}
    assert emulator.get(listing, headers=auth).status_code == 200

    emulator.post("/v1/admin/clock", json={"advanceMs": 3600 * 1000}, headers=admin_headers())

    expired = emulator.get(listing, headers=auth)
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    assert (
        emulator.get(listing, headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}).status_code
        == 200
    )
