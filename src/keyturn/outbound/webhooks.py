"""Webhook deliveries over HTTP (CONTRACT.md 6.2, 6.4): one POST per attempt, signed.

One `httpx.Client` for the worker's lifetime, so deliveries to the same receiver reuse their
connections; it is safe to share between the worker's sending threads. What an attempt got is
reduced to a status code or a short error: never the receiver's answer body, and never the
secret.
"""

from __future__ import annotations

import httpx

from keyturn import __version__
from keyturn.domain.webhooks import SIGNATURE_HEADER, AttemptOutcome, ClaimedAttempt, signature

MAX_ERROR_LENGTH = 500


class WebhookSender:
    """Sends claimed attempts; `timeout_s` bounds each of connect, write and read."""

    def __init__(self, timeout_s: float, *, transport: httpx.BaseTransport | None = None) -> None:
        self.timeout_s = timeout_s
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            # A receiver's redirect is not a delivery: its 3xx is the attempt's answer.
            follow_redirects=False,
            headers={"User-Agent": f"keyturn-webhooks/{__version__}"},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def __repr__(self) -> str:
        return f"WebhookSender(timeout_s={self.timeout_s})"

    def send(self, attempt: ClaimedAttempt) -> AttemptOutcome:
        if attempt.secret is None:
            return AttemptOutcome(None, "the destination was removed or has no signing secret")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(attempt.secret, attempt.body),
        }
        try:
            response = self._client.post(attempt.url, content=attempt.body, headers=headers)
        except httpx.TimeoutException:
            return AttemptOutcome(None, f"timed out after {self.timeout_s:g} s")
        except httpx.ConnectError:
            return AttemptOutcome(None, "could not connect")
        except httpx.HTTPError as exc:
            # The class name only: a transport error's message may quote the URL's credentials.
            return AttemptOutcome(None, f"transport error ({type(exc).__name__})")
        return AttemptOutcome(response.status_code, _error_of(response.status_code))

    def close(self) -> None:
        self._client.close()


def _error_of(status_code: int) -> str | None:
    if 200 <= status_code < 300:
        return None
    return f"the receiver answered {status_code}"[:MAX_ERROR_LENGTH]
