"""keyturn's app served over real HTTP from a thread, for tests where another server (the test
partner) must call keyturn back: it fetches the JWKS from here while keyturn waits on it.

The app is the test's own (`create_app(runtime)`), so it shares the test's database and clock
with the `client` fixture; only the socket is real.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from keyturn.app import Runtime, create_app

START_DEADLINE_S = 10.0


@contextmanager
def serve_in_thread(runtime: Runtime) -> Iterator[str]:
    """The base URL of `runtime`'s app, listening on a free port until the block ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), log_level="warning", lifespan="off", loop="asyncio")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_DEADLINE_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("keyturn did not start serving in a thread")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_DEADLINE_S)
        listener.close()
