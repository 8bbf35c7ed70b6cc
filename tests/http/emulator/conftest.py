"""An app in emulator mode, on each backend, driven through the real ASGI app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keyturn.app import Runtime, build_runtime, create_app
from keyturn.settings import Settings
from tests.conftest import admin_headers


@pytest.fixture
def emulator_runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings.model_copy(update={"emulator": True}))
    yield runtime
    runtime.store.engine.dispose()


@pytest.fixture
def emulator(emulator_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(emulator_runtime)) as test_client:
        yield test_client


def admin_call(client: TestClient, method: str, path: str, **options: Any) -> Any:
    return client.request(method, path, headers=admin_headers(), **options)
