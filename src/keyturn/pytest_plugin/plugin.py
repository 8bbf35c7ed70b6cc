"""The fixtures: `keyturn_server` (one emulator per session, or per xdist worker, whose
sessions are their own) and `keyturn` (the same emulator, reset before each test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyturn.pytest_plugin.server import KeyturnServer


@pytest.fixture(scope="session")
def keyturn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyturnServer]:
    """keyturn in emulator mode on a free port with a temporary SQLite database."""
    server = KeyturnServer.start(tmp_path_factory.mktemp("keyturn"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def keyturn(keyturn_server: KeyturnServer) -> KeyturnServer:
    """The session's emulator, emptied first: no data, faults or recorded requests; the
    clock back at the wall clock."""
    keyturn_server.reset()
    return keyturn_server
