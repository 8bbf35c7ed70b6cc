"""Dashboard sessions: a signed cookie that names a user token by its digest, never the token.

The cookie holds `{token digest or none, expiry, CSRF token}`: the digest is the SHA-256 the
database keeps in place of the token (`domain.ids.hash_token`), which no request can present
as a bearer token. It is signed with a key the composition
root derives from the master key (so every worker process and every restart agrees on it, and
nothing new is stored). It is HttpOnly and SameSite=Strict; its expiry is checked against the
services' clock, never the wall clock, so tests and the emulator can move time past it. A
session without a token digest is what the sign-in form is posted from: its CSRF token protects
the sign-in too. Every request re-checks that the token is still live, so revoking a token
ends its sessions at once; signing out deletes the cookie.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Final

from itsdangerous import BadSignature, URLSafeSerializer

from keyturn.domain.clock import Clock

COOKIE_NAME: Final = "keyturn_dashboard"
COOKIE_PATH: Final = "/dashboard"
# How long a sign-in lasts; a new sign-in is needed after it, whatever the activity.
SESSION_LIFETIME_MS: Final = 8 * 60 * 60 * 1000
# A form opened before signing in (only its CSRF token matters) lasts as long.
CSRF_FIELD: Final = "csrf_token"


@dataclass(frozen=True, slots=True)
class Session:
    token_digest: str | None = field(repr=False)
    expires_at: int
    csrf: str = field(repr=False)

    def accepts(self, csrf: str | None) -> bool:
        """Whether a form's CSRF token is this session's (compared in constant time)."""
        return csrf is not None and hmac.compare_digest(csrf.encode(), self.csrf.encode())


class SessionCodec:
    """Turns sessions into cookie values and back, refusing tampered or expired ones."""

    def __init__(self, key: bytes, clock: Clock) -> None:
        self._serializer = URLSafeSerializer(key, salt="keyturn.dashboard.session")
        self._clock = clock

    def __repr__(self) -> str:
        return "SessionCodec()"

    def new(self, token_digest: str | None) -> Session:
        return Session(
            token_digest=token_digest,
            expires_at=self._clock.now_ms() + SESSION_LIFETIME_MS,
            csrf=secrets.token_urlsafe(32),
        )

    def encode(self, session: Session) -> str:
        payload = {"t": session.token_digest, "x": session.expires_at, "c": session.csrf}
        return str(self._serializer.dumps(payload))

    def decode(self, cookie: str | None) -> Session | None:
        """The cookie's session; None when there is none, or it is tampered with or expired."""
        if not cookie:
            return None
        try:
            payload = self._serializer.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(payload, dict):
            return None
        digest, expires_at, csrf = payload.get("t"), payload.get("x"), payload.get("c")
        if not (digest is None or isinstance(digest, str)):
            return None
        if not isinstance(expires_at, int) or not isinstance(csrf, str):
            return None
        if expires_at <= self._clock.now_ms():
            return None
        return Session(token_digest=digest, expires_at=expires_at, csrf=csrf)

    def max_age_s(self, session: Session) -> int:
        return max(0, (session.expires_at - self._clock.now_ms()) // 1000)
