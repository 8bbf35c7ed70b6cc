"""What `PRAGMA synchronous=FULL` costs a rotation PUT on SQLite, against NORMAL, in one run.

keyturn runs SQLite with FULL so that an acknowledged write survives a power cut. To price that,
two small worlds (one resource of 20 secrets each, in two SQLite files side by side) are rotated
in alternation: one with keyturn's engine as it is (FULL), one with the same engine told to use
NORMAL on every connection it opens. Each mode is checked on a live connection before measuring,
so the table cannot compare a setting that did not take.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, event, text

from bench.databases import migrate
from bench.measure import WARMUP_ROUNDS, Result, timed
from bench.world import ADMIN_TOKEN, SECRETS_PER_RESOURCE, expect, secret_values
from keyturn.app import build_runtime, create_app
from keyturn.settings import Settings

# PRAGMA synchronous answers a number; these are the two compared.
MODES = {"NORMAL": 1, "FULL": 2}
RESOURCE = "durable"


@dataclass(frozen=True)
class Rotated:
    client: TestClient
    path: str
    headers: dict[str, str]
    names: list[str]


def _force_normal(engine: Engine) -> None:
    # Runs after keyturn's own connect hook (listeners run in the order they were added), so
    # it overrides FULL; the pool is emptied so that no connection opened before escapes it.
    @event.listens_for(engine, "connect")
    def _normal(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()


def _check_mode(engine: Engine, mode: str) -> None:
    with engine.connect() as connection:
        found = connection.execute(text("PRAGMA synchronous")).scalar()
    if found != MODES[mode]:
        raise RuntimeError(f"expected synchronous={mode} ({MODES[mode]}), the engine has {found}")


def _seed(client: TestClient) -> Rotated:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    team = expect(client.post("/v1/admin/teams", json={"slug": "sync"}, headers=admin), 201)
    expect(
        client.post(
            "/v1/admin/integrations",
            json={"slug": "sync-db", "products": [{"slug": "postgres"}]},
            headers=admin,
        ),
        201,
    )
    installation = expect(
        client.post(
            "/v1/admin/installations",
            json={"teamId": team["id"], "integration": "sync-db"},
            headers=admin,
        ),
        201,
    )
    headers = {"Authorization": f"Bearer {installation['accessToken']}"}
    path = f"/v1/installations/{installation['id']}/resources/{RESOURCE}"
    names = [f"SYNC_SECRET_{i:02d}" for i in range(SECRETS_PER_RESOURCE)]
    body = {
        "productId": "postgres",
        "name": RESOURCE,
        "status": "ready",
        "secrets": secret_values(names, "v0"),
    }
    expect(client.put(path, json=body, headers=headers), 200)
    return Rotated(client=client, path=f"{path}/secrets", headers=headers, names=names)


@contextmanager
def _world(work_dir: Path, mode: str) -> Iterator[Rotated]:
    url = f"sqlite:///{work_dir / f'sync-{mode.lower()}.db'}"
    migrate(url)
    runtime = build_runtime(
        Settings(
            data_dir=work_dir / f"sync-{mode.lower()}-data",
            database_url=url,
            admin_token=SecretStr(ADMIN_TOKEN),
            master_key=SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()),
        )
    )
    engine = runtime.store.engine
    try:
        if mode == "NORMAL":
            _force_normal(engine)
        _check_mode(engine, mode)
        with TestClient(create_app(runtime)) as client:
            yield _seed(client)
    finally:
        engine.dispose()


def measure_synchronous_modes(work_dir: Path, samples: int) -> dict[str, Result]:
    """Median rotation PUT (20 secrets, 1 resource) under each mode, interleaved."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    with ExitStack() as stack:
        worlds = {mode: stack.enter_context(_world(work_dir, mode)) for mode in MODES}

        def rotate(mode: str, tag: str) -> float:
            world = worlds[mode]
            body = {"secrets": secret_values(world.names, tag), "partial": False}
            return timed(
                lambda: world.client.put(world.path, json=body, headers=world.headers), 201
            )

        order = list(MODES)
        for round_number in range(WARMUP_ROUNDS + samples):
            # The first of a round alternates, so neither mode always follows the other.
            for mode in order if round_number % 2 == 0 else order[::-1]:
                elapsed = rotate(mode, f"r{round_number}")
                if round_number >= WARMUP_ROUNDS:
                    times[mode].append(elapsed)
    return {mode: Result(f"rotation PUT, synchronous={mode}", times[mode]) for mode in MODES}
