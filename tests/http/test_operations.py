"""Operations: health, readiness, unknown routes (CONTRACT.md 4); OpenAPI is test_openapi.py."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from keyturn.app import build_runtime, create_app
from keyturn.services.operations import KEY_RECHECK_S
from keyturn.settings import Settings
from keyturn.storage.encryption import key_id_of
from tests.conftest import ADMIN_TOKEN, Partner


def test_healthz_and_readyz_answer_ok(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_readyz_is_503_when_the_database_does_not_answer(tmp_path: Path, master_key: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
        admin_token=SecretStr(ADMIN_TOKEN),
        master_key=SecretStr(master_key),
    )
    runtime = build_runtime(settings)
    with TestClient(create_app(runtime)) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    runtime.store.engine.dispose()
    assert (response.status_code, response.json()["error"]["code"]) == (503, "service_unavailable")


def test_unknown_route_is_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


def test_wrong_method_is_405_in_the_error_shape(client: TestClient) -> None:
    response = client.delete("/healthz")
    assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")


def test_oversize_body_without_content_length_is_413(client: TestClient) -> None:
    def chunks() -> object:
        for _ in range(17):
            yield b"x" * 65536

    response = client.put(
        "/v1/installations/icfg_x/resources/r/secrets",
        content=chunks(),  # type: ignore[arg-type]
        headers={"Authorization": "Bearer whatever", "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")


def _other_ring(settings: Settings, *keys: bytes) -> Settings:
    ring = ",".join(base64.b64encode(key).decode() for key in keys)
    return settings.model_copy(update={"master_key": None, "master_keys": SecretStr(ring)})


def test_readyz_is_503_naming_the_key_id_when_the_keys_cannot_open_the_data(
    partner: Partner, settings: Settings, master_key: str
) -> None:
    partner.import_resource("db1", secrets=[{"name": "URL", "value": "postgres://x@db/app"}])
    stranger = build_runtime(_other_ring(settings, secrets.token_bytes(32)))
    try:
        with TestClient(create_app(stranger)) as client:
            response = client.get("/readyz")
    finally:
        stranger.store.engine.dispose()
    needed = key_id_of(base64.b64decode(master_key)).hex()
    assert (response.status_code, response.json()["error"]["code"]) == (503, "service_unavailable")
    assert f"needs key id {needed}" in response.json()["error"]["message"]


def test_readyz_notices_data_sealed_with_a_key_it_lacks_within_the_recheck_interval(
    partner: Partner, settings: Settings, master_key: str
) -> None:
    """Another process, rotated first, seals with a new key: this one turns unready."""
    now = [0.0]
    lagging = build_runtime(settings, readiness_timer=lambda: now[0])
    rotated = build_runtime(
        _other_ring(settings, secrets.token_bytes(32), base64.b64decode(master_key))
    )
    try:
        with TestClient(create_app(lagging)) as client, TestClient(create_app(rotated)) as other:
            assert client.get("/readyz").status_code == 200
            written = other.put(
                partner.resource_path("db1"),
                json={
                    "productId": partner.product_id,
                    "name": "db1",
                    "status": "ready",
                    "secrets": [{"name": "URL", "value": "postgres://new@db/app"}],
                },
                headers=partner.auth(),
            )
            assert written.status_code == 200, written.text
            now[0] += KEY_RECHECK_S - 1
            before_recheck = client.get("/readyz").status_code
            now[0] += 1
            after_recheck = client.get("/readyz").status_code
    finally:
        lagging.store.engine.dispose()
        rotated.store.engine.dispose()
    assert (before_recheck, after_recheck) == (200, 503)
