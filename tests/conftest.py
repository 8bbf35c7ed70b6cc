"""Fixtures: every database test runs on SQLite and on a real, throwaway PostgreSQL.

Databases are built by running the migrations: once per session into a template (a SQLite file
copied per test; a PostgreSQL database each test's database is created from), so each test
starts from an empty, migrated schema. The HTTP tests go through the real ASGI app.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from keyturn.app import Runtime, build_runtime, create_app
from keyturn.domain.clock import SettableClock
from keyturn.settings import Settings
from keyturn.storage.engine import create_database_engine
from keyturn.storage.migrate import upgrade
from tests.postgres_cluster import SKIP_ENV_VAR, PostgresBinariesMissing, PostgresCluster

# pytester runs inner pytest sessions for the tests of keyturn's own pytest plugin.
pytest_plugins = ("pytester",)

ADMIN_TOKEN = "kt_admin_test_token_of_32_or_more_chars"
BACKENDS = ["sqlite", "postgresql"]
RAM_DIR = Path("/dev/shm")  # noqa: S108 - mkdtemp makes a private, unpredictably named folder in it


@pytest.fixture(scope="session")
def master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_database_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the tests' SQLite databases live: in memory-backed /dev/shm when there is one.

    keyturn commits with `synchronous=FULL`, as it serves; on a disk each commit's fsync is
    most of a small test's time, on tmpfs it is free, and the database is thrown away anyway.
    """
    if RAM_DIR.is_dir() and os.access(RAM_DIR, os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="keyturn-tests-", dir=RAM_DIR))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("sqlite")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of our own, with a migrated template database `keyturn_template`."""
    if os.environ.get(SKIP_ENV_VAR) == "1":
        pytest.skip(f"{SKIP_ENV_VAR}=1: PostgreSQL tests skipped (CI never sets it)")
    try:
        cluster = PostgresCluster()
    except PostgresBinariesMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    cluster.start()
    try:
        cluster.create_database("keyturn_template")
        engine = create_database_engine(cluster.url("keyturn_template"))
        upgrade(engine)
        engine.dispose()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, sqlite_template: Path
) -> Iterator[str]:
    """An empty, migrated database of the test's backend."""
    if backend == "sqlite":
        path = request.getfixturevalue("sqlite_dir") / f"{secrets.token_hex(8)}.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        for leftover in (
            path,
            path.with_name(f"{path.name}-wal"),
            path.with_name(f"{path.name}-shm"),
        ):
            leftover.unlink(missing_ok=True)
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    name = f"t_{secrets.token_hex(8)}"
    cluster.create_database(name, template="keyturn_template")
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name, missing_ok=True)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, master_key: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        master_key=SecretStr(master_key),
    )


@pytest.fixture
def clock() -> SettableClock:
    """The app's one clock: a test moves time with `advance` instead of sleeping."""
    return SettableClock()


@pytest.fixture
def runtime(settings: Settings, clock: SettableClock) -> Iterator[Runtime]:
    runtime = build_runtime(settings, clock=clock)
    yield runtime
    runtime.store.engine.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


@dataclass(frozen=True)
class Partner:
    """A seeded world: a team with a user token, an integration with two products, installed."""

    client: TestClient
    team_id: str
    user_token: str
    integration_id: str
    product_id: str
    product_slug: str
    other_product_id: str
    installation_id: str
    token: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def resource_path(self, resource_id: str = "db1") -> str:
        return f"/v1/installations/{self.installation_id}/resources/{resource_id}"

    def import_resource(self, resource_id: str = "db1", **body: object) -> None:
        payload = {"productId": self.product_id, "name": resource_id, "status": "ready", **body}
        response = self.client.put(
            self.resource_path(resource_id), json=payload, headers=self.auth()
        )
        assert response.status_code == 200, response.text

    def put_secrets(self, body: object, resource_id: str = "db1") -> tuple[int, dict[str, object]]:
        response = self.client.put(
            self.resource_path(resource_id) + "/secrets", json=body, headers=self.auth()
        )
        return response.status_code, response.json()

    def get_resource(self, resource_id: str = "db1") -> dict[str, object]:
        response = self.client.get(self.resource_path(resource_id), headers=self.auth())
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def seed_partner(client: TestClient, slug: str = "acme") -> Partner:
    """Bootstrap a team, an integration and an installation through the admin API."""
    team = client.post("/v1/admin/teams", json={"slug": f"{slug}-team"}, headers=admin_headers())
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    user = client.post(f"/v1/admin/teams/{team_id}/tokens", json={}, headers=admin_headers())
    integration = client.post(
        "/v1/admin/integrations",
        json={"slug": slug, "products": [{"slug": "postgres"}, {"slug": "redis"}]},
        headers=admin_headers(),
    )
    assert integration.status_code == 201, integration.text
    products = {p["slug"]: p["id"] for p in integration.json()["products"]}
    installation = client.post(
        "/v1/admin/installations",
        json={"teamId": team_id, "integration": slug},
        headers=admin_headers(),
    )
    assert installation.status_code == 201, installation.text
    return Partner(
        client=client,
        team_id=team_id,
        user_token=user.json()["token"],
        integration_id=integration.json()["id"],
        product_id=products["postgres"],
        product_slug="postgres",
        other_product_id=products["redis"],
        installation_id=installation.json()["id"],
        token=installation.json()["accessToken"],
    )


@pytest.fixture
def partner(client: TestClient) -> Partner:
    return seed_partner(client)


class Workspace:
    """The projects side of a seeded world, driven with the team's user token."""

    def __init__(self, partner: Partner) -> None:
        self.partner = partner
        self.client = partner.client
        self.headers = {"Authorization": f"Bearer {partner.user_token}"}

    def create_project(self, name: str) -> str:
        response = self.client.post("/v11/projects", json={"name": name}, headers=self.headers)
        assert response.status_code == 200, response.text
        project_id: str = response.json()["id"]
        return project_id

    def connections_path(self, resource_id: str = "db1") -> str:
        return (
            f"/v1/integrations/installations/{self.partner.installation_id}"
            f"/resources/{resource_id}/connections"
        )

    def connect(self, project_id: str, resource_id: str = "db1", **options: object) -> Any:
        return self.client.post(
            self.connections_path(resource_id),
            json={"projectId": project_id, **options},
            headers=self.headers,
        )

    def pull(self, project_id: str, target: str, git_branch: str | None = None) -> dict[str, str]:
        path = f"/v3/env/pull/{project_id}/{target}" + (f"/{git_branch}" if git_branch else "")
        response = self.client.get(path, headers=self.headers)
        assert response.status_code == 200, response.text
        env: dict[str, str] = response.json()["env"]
        return env

    def envs(self, project_id: str, **params: str) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/v10/projects/{project_id}/env", params=params, headers=self.headers
        )
        assert response.status_code == 200, response.text
        envs: list[dict[str, Any]] = response.json()["envs"]
        return envs

    def add_var(self, project_id: str, body: object, **params: str) -> Any:
        return self.client.post(
            f"/v10/projects/{project_id}/env", json=body, params=params, headers=self.headers
        )

    def deploy(self, body: dict[str, object]) -> dict[str, Any]:
        response = self.client.post("/v13/deployments", json=body, headers=self.headers)
        assert response.status_code == 200, response.text
        deployment: dict[str, Any] = response.json()
        return deployment

    def deployment_env(self, deployment_id: str) -> dict[str, str]:
        response = self.client.get(f"/v3/env/pull/{deployment_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["env"] == body["buildEnv"]
        env: dict[str, str] = body["env"]
        return env


@pytest.fixture
def workspace(partner: Partner) -> Workspace:
    return Workspace(partner)
