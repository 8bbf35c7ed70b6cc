"""Idempotency-Key on every write (CONTRACT.md 5.6), as one ASGI middleware.

Every POST, PUT, PATCH and DELETE that carries the header goes through here, so a write route
added later is covered without doing anything. The middleware reads the body (already capped
by `BodySizeLimit`), fingerprints the request, and either

* hands the key to the route, for routes marked `@keeps_key_in_transaction` (the secrets PUT):
  the use case claims and keeps it in the write's own transaction (services/idempotency.py),
  and only a refusal's answer is kept afterwards; or
* claims the key before the route runs and keeps the route's answer (or drops the claim)
  after it, in transactions of their own.

Either way the answer is kept before it is sent, so a client that retries as soon as it has an
answer finds it kept. A replay answers the kept status, body and headers, plus
`Idempotent-Replayed: true`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyturn.domain.errors import KeyturnError, Unauthorized
from keyturn.domain.idempotency import REPLAYED_HEADER, KeptResponse, fingerprint
from keyturn.http.errors import keyturn_error_response
from keyturn.services import idempotency
from keyturn.services.context import ServiceContext
from keyturn.services.idempotency import Claim, KeyedRequest

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER_NAME = b"idempotency-key"
# What a replay sends again besides the body; the rest (date, server, length) is per answer.
KEPT_HEADERS = frozenset({"content-type", "etag", "location"})
STATE_KEY = "idempotency"
_IN_TRANSACTION = "keyturn_keeps_idempotency_key_in_transaction"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def keeps_key_in_transaction(endpoint: Endpoint) -> Endpoint:
    """Mark a route whose use case claims and keeps the key in its own transaction; it reads
    the key with `key_of` and answers a `Replay` with `replayed`."""
    setattr(endpoint, _IN_TRANSACTION, True)
    return endpoint


def key_of(request: Request) -> KeyedRequest | None:
    """The request's key, for a route marked `keeps_key_in_transaction`; None without one."""
    keyed: KeyedRequest | None = request.scope.get("state", {}).get(STATE_KEY)
    return keyed


def replayed(response: KeptResponse) -> Response:
    """The kept answer as a response, marked as a replay."""
    headers = {**response.headers, REPLAYED_HEADER: "true"}
    return Response(response.body, status_code=response.status, headers=headers)


class IdempotencyKeys:
    """The middleware; `routes` are every route of the app (to find the marked ones).

    The marked paths are served by no other route, so a request that matches one of them is
    that route's.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        # Only the marked routes are matched against each keyed request: a couple of regexes.
        self.in_transaction_routes = [
            route
            for route in routes
            if getattr(getattr(route, "endpoint", None), _IN_TRANSACTION, False)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key_header(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        body, receive_again = await _read_body(receive)
        if body is None:
            return  # the client went away
        context: ServiceContext = scope["app"].state.context
        keyed = KeyedRequest(
            key=key,
            method=scope["method"],
            path=scope["path"],
            fingerprint=fingerprint(scope.get("query_string", b""), body),
        )
        if self._in_transaction(scope):
            scope.setdefault("state", {})[STATE_KEY] = keyed
            answer = await _answer_of(self.app, scope, receive_again)
            kept = answer.kept()
            if keyed.free is not None and not keyed.kept and kept is not None:
                await run_in_threadpool(idempotency.keep_refusal, context, keyed, kept)
            await answer.send_to(send)
            return
        try:
            headers = dict(scope["headers"])
            credentials = context.authenticator.credentials(
                headers.get(b"authorization", b"").decode("latin-1")
            )
        except Unauthorized:
            await self.app(scope, receive_again, send)  # the route answers the 401
            return
        try:
            claimed = await run_in_threadpool(idempotency.claim, context, credentials, keyed)
        except KeyturnError as refusal:
            await keyturn_error_response(refusal)(scope, receive_again, send)
            return
        if claimed is None:
            await self.app(scope, receive_again, send)
        elif isinstance(claimed, KeptResponse):
            await replayed(claimed)(scope, receive_again, send)
        else:
            await self._run_claimed(context, claimed, scope, receive_again, send)

    async def _run_claimed(
        self, context: ServiceContext, claimed: Claim, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            answer = await _answer_of(self.app, scope, receive)
        except BaseException:
            # A failure without an answer (a 500 the server sends): the key is free again.
            await run_in_threadpool(idempotency.finish, context, claimed, None)
            raise
        await run_in_threadpool(idempotency.finish, context, claimed, answer.kept())
        await answer.send_to(send)

    def _in_transaction(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self.in_transaction_routes)


def _key_header(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
        return None
    for name, value in scope["headers"]:
        if name == HEADER_NAME:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body, and a `receive` that hands it to the app again."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, receive
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def receive_again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, receive_again


class _Answer:
    """An app's answer, held back until its key's record is written."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def collect(self, message: Message) -> None:
        self.messages.append(message)

    def kept(self) -> KeptResponse | None:
        start = next((m for m in self.messages if m["type"] == "http.response.start"), None)
        if start is None:
            return None
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in start.get("headers", [])
            if name.decode("latin-1").lower() in KEPT_HEADERS
        }
        body = b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )
        return KeptResponse(status=start["status"], body=body, headers=headers)

    async def send_to(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


async def _answer_of(app: ASGIApp, scope: Scope, receive: Receive) -> _Answer:
    answer = _Answer()
    await app(scope, receive, answer.collect)
    return answer
