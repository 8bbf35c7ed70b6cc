"""Fixtures for the client: the real app served by uvicorn on a free port (tests/live_server.py),
on both databases. The client speaks real HTTP to it (no mocked transport). `api` gives each
test the blocking `Client` or the `AsyncClient` (driven on a loop of the test's own), so that
every method is tried both ways against the same server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from keyturn.client import AsyncClient, Client
from tests.conftest import ADMIN_TOKEN
from tests.live_server import LiveServer, World, seed_world
from tests.live_server import live_server as live_server


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


@pytest.fixture
def world(api: ClientFactory) -> World:
    return seed_world(api(ADMIN_TOKEN))
