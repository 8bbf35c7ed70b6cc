"""docs/events.md stays true: every event type is documented, and its Python verification
snippet accepts a real signed delivery and refuses a tampered one."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from keyturn.domain.events import EVENT_TYPES
from keyturn.domain.webhooks import ClaimedAttempt
from keyturn.outbound.webhooks import WebhookSender

DOC = Path(__file__).resolve().parent.parent / "docs" / "events.md"


def snippet(language: str) -> str:
    [code] = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return code


def test_every_event_type_is_documented() -> None:
    text = DOC.read_text()
    for event_type in EVENT_TYPES:
        assert f"| `{event_type}` |" in text, event_type


def test_the_python_snippet_verifies_what_keyturn_sends() -> None:
    namespace: dict[str, Any] = {}
    exec(snippet("python"), namespace)  # noqa: S102  # the documented snippet, run as written
    verify: Callable[[str, bytes, str], bool] = namespace["verify_signature"]
    captured: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            captured["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            captured["signature"] = self.headers["x-vercel-signature"]
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    sender = WebhookSender(5)
    body = b'{"id":"evt_1","type":"project.created","payload":{}}'
    try:
        outcome = sender.send(
            ClaimedAttempt("dlv_1", 1, f"http://127.0.0.1:{server.server_port}/", body, "s3cret")
        )
    finally:
        thread.join(timeout=10)
        server.server_close()
        sender.close()
    assert outcome.delivered
    assert captured["body"] == body
    assert verify("s3cret", captured["body"], captured["signature"])
    assert not verify("s3cret", captured["body"] + b" ", captured["signature"])
    assert not verify("other", captured["body"], captured["signature"])
