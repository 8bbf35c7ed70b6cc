"""A real partner for the rotation tests: an HTTP server on a free port, started by the test.

It does what a partner's code does with a rotation request (CONTRACT.md 5.3): it verifies the
bearer JWT against keyturn's JWKS, fetched over HTTP from a running keyturn (PyJWT's
`PyJWKClient`: signature, `kid`, issuer, audience, expiry), and then answers as the test told
it to. Every request is recorded with its headers, body and verified claims, so a test can
assert what keyturn sent. Nothing here mocks keyturn's HTTP client: bytes cross a socket.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt


@dataclass(frozen=True)
class Answer:
    """What the partner answers one request with: a status, a body and a delay first."""

    status: int
    body: bytes
    delay_s: float = 0.0

    @classmethod
    def json(cls, status: int, body: object, *, delay_s: float = 0.0) -> Answer:
        return cls(status, json.dumps(body).encode(), delay_s)


def sync(secrets: list[dict[str, Any]], **extra: object) -> Answer:
    return Answer.json(200, {"sync": True, "secrets": secrets, **extra})


def deferred(status: int = 202) -> Answer:
    return Answer.json(status, {"sync": False})


@dataclass
class Received:
    """One request the partner got."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    claims: dict[str, Any] | None
    verification_error: str | None


@dataclass
class PartnerServer:
    """The partner's API: answers queued with `answer` are given in order, then `default`."""

    # Where keyturn's JWKS is, and the claims to insist on; None accepts any token unverified
    # (for tests of keyturn's HTTP client alone).
    jwks_url: str | None = None
    # One issuer, or several that are all accepted.
    issuer: str | list[str] = ""
    audience: str = ""
    default: Answer = field(default_factory=deferred)
    received: list[Received] = field(default_factory=list)
    # Run while a request is handled, before the answer (a partner pushing secrets first).
    on_request: Callable[[Received], None] | None = None
    _answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self._answers.extend(answers)

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._answers.pop(0) if self._answers else self.default

    def _verify(self, authorization: str | None) -> tuple[dict[str, Any] | None, str | None]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not token:
            return None, "no bearer token"
        if self.jwks_url is None:
            return None, None
        try:
            # A new client per request: the JWKS is fetched over HTTP each time, as a partner
            # with a cold cache does.
            key = jwt.PyJWKClient(self.jwks_url, cache_keys=False).get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return claims, None

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        claims, error = self._verify(handler.headers.get("Authorization"))
        received = Received(
            method=handler.command,
            path=handler.path,
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=json.loads(raw) if raw else None,
            claims=claims,
            verification_error=error,
        )
        with self._lock:
            self.received.append(received)
        if self.on_request is not None:
            self.on_request(received)
        answer = (
            Answer.json(401, {"error": {"code": "invalid_token", "message": error}})
            if error is not None
            else self._next_answer()
        )
        if answer.delay_s:
            time.sleep(answer.delay_s)
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # keyturn gave up waiting (the timeout test): nobody reads this answer

    def start(self) -> None:
        partner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                partner.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test asserts on `received`

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def run_partner(jwks_url: str, issuer: str, audience: str) -> Iterator[PartnerServer]:
    partner = PartnerServer(jwks_url=jwks_url, issuer=issuer, audience=audience)
    partner.start()
    try:
        yield partner
    finally:
        partner.stop()
