"""A real HTTP server of the test's own that answers from a script, and records what it got.

Each answer of the script is sent once, in order; the last one repeats. `seen` holds the method,
path, `Idempotency-Key` and JSON body of every request, so a test sees exactly what a client (or
keyturn calling a partner) sent on the wire.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Answer:
    status: int
    body: object = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ScriptedServer:
    url: str
    script: list[Answer]
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    state = ScriptedServer(url="", script=[Answer(201, {})])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with lock:
                state.seen.append((self.command, self.path, self.headers.get("Idempotency-Key")))
                state.bodies.append(json.loads(raw) if raw else None)
                answer = state.script.pop(0) if len(state.script) > 1 else state.script[0]
            payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = _answer  # noqa: N815 - http.server's handler names

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads `seen`, not a log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
