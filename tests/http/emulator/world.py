"""A seed fixture exercising every part of the seed route, and helpers the emulator tests share."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, inspect, select, table

from tests.conftest import admin_headers

USER_TOKEN = "kt_user_seeded_for_tests_0001"
ACCESS_TOKEN = "kt_integration_seeded_for_tests_0001"
INSTALLATION = "icfg_seeded1"
PROJECT = "prj_seeded1"
CLIENT_SECRET = "SeededClientSecretOfThirtyTwoOrMore01"


def world() -> dict[str, Any]:
    """A team with a user token, an integration with a product, its installation, a resource
    with two secrets, a project connected to it: every id and token given."""
    return {
        "teams": [
            {
                "id": "team_seeded1",
                "slug": "acme",
                "name": "Acme",
                "tokens": [{"token": USER_TOKEN}],
            }
        ],
        "integrations": [
            {
                "id": "oac_seeded1",
                "slug": "acme-db",
                "clientSecret": CLIENT_SECRET,
                "baseUrl": "https://partner.example/api",
                "products": [{"id": "iap_seeded1", "slug": "postgres", "name": "Postgres"}],
            }
        ],
        "installations": [
            {
                "id": INSTALLATION,
                "teamId": "team_seeded1",
                "integration": "acme-db",
                "accessToken": ACCESS_TOKEN,
            }
        ],
        "resources": [
            {
                "installationId": INSTALLATION,
                "id": "db1",
                "productId": "postgres",
                "name": "Main DB",
                "status": "ready",
                "metadata": {"region": "fra1"},
                "secrets": [
                    {"name": "DATABASE_URL", "value": "postgres://u:one@h/db"},
                    {"name": "PGHOST", "value": "h", "prefix": "ACME"},
                ],
            }
        ],
        "projects": [{"id": PROJECT, "teamId": "team_seeded1", "name": "web"}],
        "connections": [
            {
                "installationId": INSTALLATION,
                "resourceId": "db1",
                "projectId": PROJECT,
                "envVarEnvironments": ["production", "preview"],
            }
        ],
    }


def seed(client: TestClient, fixture: dict[str, Any]) -> Any:
    return client.post("/v1/admin/seed", json=fixture, headers=admin_headers())


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows of every table the database has (not only those the code knows), the schema's
    version aside."""
    names = [name for name in inspect(engine).get_table_names() if name != "alembic_version"]
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in names
        }
