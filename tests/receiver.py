"""A real webhook receiver for the tests: an HTTP server on a free port, in a thread.

It checks `x-vercel-signature` against the secret it is given (the way partner code does, with
`hmac`), records every delivery, and answers as the test scripts it: a status per request in
order (then 200), or a hang longer than the sender's timeout. `refuse()` closes the socket so
connections are refused until `accept()` opens it again on the same port.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    body: dict[str, Any]
    signature_ok: bool
    headers: dict[str, str]


@dataclass
class Script:
    statuses: list[int] = field(default_factory=list)
    hang_s: float = 0.0
    hang_count: int = 0


class _Server(ThreadingHTTPServer):
    # A worker sends many deliveries at once: a short listen backlog would refuse some.
    request_queue_size = 256


class Receiver:
    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.received: list[Received] = []
        self.script = Script()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.accept()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def accept(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    hang = receiver.script.hang_count > 0
                    if hang:
                        receiver.script.hang_count -= 1
                    status = receiver.script.statuses.pop(0) if receiver.script.statuses else 200
                if hang:
                    time.sleep(receiver.script.hang_s)
                    return
                expected = hmac.new(receiver.secret.encode(), raw, hashlib.sha1).hexdigest()
                got = self.headers.get("x-vercel-signature", "")
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            json.loads(raw),
                            hmac.compare_digest(expected, got),
                            {k.lower(): v for k, v in self.headers.items()},
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests assert on what was received."""

        server = _Server(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def refuse(self) -> None:
        """Close the listening socket: connections to the port are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.refuse()

    def delivered(self) -> list[Received]:
        """What was answered 2xx-or-otherwise and recorded, signature checked."""
        with self._lock:
            return list(self.received)

    def ids(self) -> Counter[str]:
        with self._lock:
            return Counter(item.body["id"] for item in self.received)
