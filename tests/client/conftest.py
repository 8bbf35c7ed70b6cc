"""Fixtures for the client: the real app served by uvicorn on a free port, on both databases.

The client speaks real HTTP to it (no mocked transport). `api` gives each test the blocking
`Client` or the `AsyncClient` (driven on a loop of the test's own), so that every method is
tried both ways against the same server.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from keyturn.app import Runtime, create_app
from keyturn.client import AsyncClient, Client
from tests.conftest import ADMIN_TOKEN


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


class BlockingAsyncClient:
    """An `AsyncClient` whose methods are awaited on one loop, so one test body drives both."""

    def __init__(self, client: AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        def run(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(method(*args, **kwargs))

        return run


ClientFactory = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, live_server: LiveServer) -> Iterator[ClientFactory]:
    """`api(token, **options)`: a client of the test's kind on the live server."""
    loop = asyncio.new_event_loop()
    opened: list[Client | AsyncClient] = []

    def make(token: str, **options: Any) -> Any:
        if request.param == "sync":
            client = Client(live_server.url, token, **options)
            opened.append(client)
            return client
        async_client = AsyncClient(live_server.url, token, **options)
        opened.append(async_client)
        return BlockingAsyncClient(async_client, loop)

    yield make
    for client in opened:
        if isinstance(client, Client):
            client.close()
        else:
            loop.run_until_complete(client.close())
    loop.close()


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


@pytest.fixture
def world(api: ClientFactory) -> World:
    return seed_world(api(ADMIN_TOKEN))
