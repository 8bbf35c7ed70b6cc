"""Fixtures for the CLI: the live server of tests/live_server.py, seeded for the client's
commands."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from keyturn.cli.main import app
from keyturn.client import Client, Secret
from tests.conftest import ADMIN_TOKEN
from tests.live_server import LiveServer, World, seed_world
from tests.live_server import live_server as live_server


@dataclass(frozen=True)
class Seeded:
    url: str
    world: World
    project_id: str

    def partner(self) -> Client:
        return Client(self.url, self.world.token)

    def owner(self) -> Client:
        return Client(self.url, self.world.user_token)


@pytest.fixture
def seeded(live_server: LiveServer) -> Seeded:
    with Client(live_server.url, ADMIN_TOKEN) as admin:
        world = seed_world(admin)
    with Client(live_server.url, world.token) as partner:
        for resource_id in ("db1", "db2"):
            partner.import_resource(
                world.installation_id,
                resource_id,
                product_id=world.product_id,
                name=resource_id,
                status="ready",
                secrets=[Secret("OLD", "old")],
            )
    with Client(live_server.url, world.user_token) as owner:
        project = owner.create_project("web")
        owner.connect(world.installation_id, "db1", project.id)
    return Seeded(live_server.url, world, project.id)


def run(seeded: Seeded, token: str, *args: str) -> tuple[int, str, str]:
    # Wide enough that rich does not wrap a table cell the test looks for.
    result = CliRunner().invoke(
        app, [*args, "--url", seeded.url, "--token", token], env={"COLUMNS": "200"}
    )
    return result.exit_code, result.stdout, result.stderr
