"""Operations: health, readiness, OpenAPI, unknown routes (CONTRACT.md 4)."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr

from keyturn.app import build_runtime, create_app
from keyturn.settings import Settings
from tests.conftest import ADMIN_TOKEN


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


def test_openapi_describes_every_route_with_its_request_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    app_routes = [route for route in client.app.routes if isinstance(route, APIRoute)]  # type: ignore[attr-defined]
    for route in app_routes:
        assert route.path in spec["paths"], route.path
        for method in route.methods:
            operation = spec["paths"][route.path][method.lower()]
            if method in {"PUT", "POST", "PATCH"}:
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                assert schema["type"] == "object", route.path
                assert schema["properties"], route.path
    secrets_put = spec["paths"][
        "/v1/installations/{integrationConfigurationId}/resources/{resourceId}/secrets"
    ]["put"]
    item = secrets_put["requestBody"]["content"]["application/json"]["schema"]["properties"][
        "secrets"
    ]["items"]
    assert set(item["properties"]) == {"name", "value", "prefix", "environmentOverrides"}


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
