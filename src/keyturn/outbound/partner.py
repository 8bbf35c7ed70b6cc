"""The call keyturn makes to a partner's API: `POST .../secrets/rotate` (CONTRACT.md 5.3).

One `httpx.Client` per process (its connection pool is shared by the requests that rotate).
An attempt that cannot connect, times out or gets a 5xx is tried again, twice at most, after
short pauses that keep the three attempts within about 3 s of waiting, always with the same
`Idempotency-Key` so that a partner that did the work before failing can answer it again.
Redirects are not followed: the partner's `baseUrl` is where it is. The answer's body is read
up to a bound, so a partner cannot make keyturn hold an unbounded body in memory.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from keyturn.domain.rotations import (
    PARTNER_TIMEOUT,
    PARTNER_UNREACHABLE,
    PartnerAnswered,
    PartnerFailed,
    PartnerReply,
)

# Pauses before the second and the third attempt.
RETRY_DELAYS_S: Final = (0.5, 1.5)
# A sync answer carries at most 500 secrets of 64 KiB; 40 MiB holds them with room for JSON.
MAX_ANSWER_BYTES: Final = 40 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RotationCall:
    """One rotation request to send: where, with which token and key, and the owner's body."""

    url: str
    token: str = field(repr=False)
    idempotency_key: str
    body: dict[str, Any]


class HttpPartnerClient:
    """Sends rotation requests over HTTP with httpx (the port `services.rotations.PartnerApi`)."""

    def __init__(
        self,
        *,
        timeout_s: float,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._retry_delays_s = tuple(retry_delays_s)
        self._sleep = sleep
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HttpPartnerClient(timeout_s={self._timeout_s})"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _http(self) -> httpx.Client:
        # Made on the first rotation: building its TLS context reads the system's CA bundle
        # (about 70 ms), which every start-up and every test's runtime would otherwise pay.
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self._timeout_s),
                    follow_redirects=False,
                    transport=self._transport,
                )
            return self._client

    def request_rotation(self, call: RotationCall) -> PartnerReply:
        """The partner's answer to `call`, after up to three attempts."""
        reply = self._attempt(call)
        for delay in self._retry_delays_s:
            if not _worth_retrying(reply):
                break
            self._sleep(delay)
            reply = self._attempt(call)
        return reply

    def _attempt(self, call: RotationCall) -> PartnerReply:
        headers = {
            "Authorization": f"Bearer {call.token}",
            "X-Vercel-Auth": "user",
            "Idempotency-Key": call.idempotency_key,
            "Content-Type": "application/json",
        }
        # The whole attempt, body included, ends by the timeout: httpx's own applies to each
        # read, so a partner trickling bytes would otherwise hold the request open for ever.
        deadline = time.monotonic() + self._timeout_s
        try:
            with self._http().stream(
                "POST", call.url, content=json.dumps(call.body).encode(), headers=headers
            ) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_ANSWER_BYTES:
                        # Not read to the end, so not JSON: a bad response.
                        return PartnerAnswered(response.status_code, None)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("the partner's answer took too long")
                return PartnerAnswered(response.status_code, _json_or_none(bytes(body)))
        except httpx.TimeoutException:
            return PartnerFailed(
                PARTNER_TIMEOUT, f"the partner did not answer within {self._timeout_s:g} s"
            )
        except httpx.HTTPError as exc:
            # The exception's type, not its text: that may quote the URL with its credentials.
            return PartnerFailed(
                PARTNER_UNREACHABLE, f"the partner could not be reached ({type(exc).__name__})"
            )


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _worth_retrying(reply: PartnerReply) -> bool:
    if isinstance(reply, PartnerFailed):
        return True
    return reply.status >= 500
