"""The request recorder (CONTRACT.md 7), a pure ASGI middleware of emulator mode.

It keeps what a partner's code sent, for assertions in its tests: method, path, query, the
status it got (a faulted one too: the recorder wraps fault injection), how long it took, the
idempotency key, and the token's digest, from which the token's kind is told when the recorder
is read. Never a header value, a body or a token. The control routes (`/v1/admin/*`) are not
recorded.
"""

from __future__ import annotations

import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyturn.domain.emulator import RecordedRequest
from keyturn.domain.ids import TOKEN_SHAPE, hash_token
from keyturn.http.faults import is_control_path
from keyturn.services.emulator import Emulator

# What an answer that never started counts as (the client went away, or a bug: a 5xx).
NO_ANSWER = 500


class RequestRecorder:
    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_control_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        at = self.emulator.clock.now_ms()
        started = time.monotonic()
        status = NO_ANSWER

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            headers = Headers(scope=scope)
            self.emulator.requests.add(
                RecordedRequest(
                    id=self.emulator.ids.new("req"),
                    at=at,
                    method=scope["method"],
                    path=scope["path"],
                    query=scope.get("query_string", b"").decode("latin-1"),
                    status=status,
                    duration_ms=round((time.monotonic() - started) * 1000),
                    token_digest=_token_digest(headers.get("authorization")),
                    idempotency_key=headers.get("idempotency-key"),
                )
            )


def _token_digest(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not TOKEN_SHAPE.fullmatch(token):
        return None
    return hash_token(token)
