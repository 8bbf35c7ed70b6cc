"""Sending bodies no JSON library would build, and checking that a refusal changed nothing."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from keyturn.app import Runtime
from tests.storage_snapshot import database_snapshot


def raw_json(body: object) -> bytes:
    """`body` as JSON text, lone surrogates escaped (`"\\ud800"`) and NaN written as `NaN`:
    the bytes a careless client sends, which httpx's own `json=` refuses to encode."""
    return json.dumps(body, ensure_ascii=True, allow_nan=True).encode()


def send(
    client: TestClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
) -> Any:
    return client.request(
        method, path, content=body, headers={**headers, "Content-Type": "application/json"}
    )


def refused_400(
    runtime: Runtime,
    client: TestClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
) -> dict[str, Any]:
    """Send the request; assert a 400 `bad_request` that changed no row; return the error."""
    before = database_snapshot(runtime)
    response = send(client, method, path, headers, body)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "bad_request"
    assert database_snapshot(runtime) == before
    return error
