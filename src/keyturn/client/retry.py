"""When to send a request again, and how long to wait first.

A 429 and a 5xx are retried (a 502 `partner_error` is not: it records a finished rotation that
failed, and sending it again would ask the partner again), and so is a request that got no
answer. The wait is the server's `Retry-After` when it sends one, capped so that a server asking
for an hour cannot hang a script, else an exponential backoff with jitter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

# A 502 with this code is the outcome of a rotation request, not a failure to answer it.
FINAL_502_CODE = "partner_error"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 30.0

    def retries(self, response: httpx.Response) -> bool:
        if response.status_code == 429:
            return True
        if response.status_code < 500 or response.status_code == 501:
            return False
        return not (response.status_code == 502 and _error_code(response) == FINAL_502_CODE)

    def delay_s(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait before retry number `attempt` (1, 2, ...)."""
        asked = _retry_after_s(response) if response is not None else None
        if asked is not None:
            return min(asked, self.max_retry_after_s)
        backoff = min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
        # Full jitter: clients that failed together do not come back together.
        return random.uniform(0, backoff)  # noqa: S311 - spreading retries, not a secret


def _retry_after_s(response: httpx.Response) -> float | None:
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    date = response.headers.get("Date")
    now = parsedate_to_datetime(date) if date else None
    if now is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None
