"""A live keyturn for tests that speak real HTTP to it: the app served by uvicorn in a thread.

uvicorn listens on a socket the OS gave a free port; the test gets the URL. `seed_world` makes a
team, a user token and an installation through the client's admin methods.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from keyturn.app import Runtime, create_app


@dataclass(frozen=True)
class LiveServer:
    url: str
    runtime: Runtime


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 on a port the OS picks; yield its URL; stop it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def live_server(runtime: Runtime) -> Iterator[LiveServer]:
    with serve_in_thread(create_app(runtime)) as url:
        yield LiveServer(url, runtime)


@dataclass(frozen=True)
class World:
    """A team with a user token and an installation of an integration with one product."""

    team_id: str
    user_token: str
    integration_id: str
    product_id: str
    installation_id: str
    token: str


def seed_world(admin: Any, slug: str = "acme") -> World:
    team = admin.create_team(f"{slug}-team", name="Acme")
    user = admin.create_user_token(team.id, name="ci")
    integration = admin.create_integration(slug, [{"slug": "postgres"}], name="Acme DB")
    installation = admin.create_installation(team.id, slug)
    return World(
        team_id=team.id,
        user_token=user.token,
        integration_id=integration.id,
        product_id=integration.products[0].id,
        installation_id=installation.id,
        token=installation.access_token,
    )
