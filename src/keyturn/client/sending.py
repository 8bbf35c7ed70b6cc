"""What `Client` and `AsyncClient` share around one HTTP exchange: headers, the error reading.

A refusal becomes an `APIError` carrying the contract's code, message and fields; an answer that
is not the contract's error shape still becomes one, with the code `http_<status>`.
"""

from __future__ import annotations

from typing import Any

import httpx

from keyturn import __version__
from keyturn.client.errors import APIError, FieldError

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RETRIES = 3


def default_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": f"keyturn-client/{__version__}",
    }


def base_url(url: str) -> str:
    return url.rstrip("/")


def api_error(response: httpx.Response) -> APIError:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return APIError(
            response.status_code,
            f"http_{response.status_code}",
            response.reason_phrase or "the server refused the request",
        )
    fields = tuple(
        FieldError(key=str(item.get("key", "")), message=str(item.get("message", "")))
        for item in error.get("fields") or ()
        if isinstance(item, dict)
    )
    details = {k: v for k, v in error.items() if k not in ("code", "message", "fields")}
    return APIError(
        response.status_code,
        str(error.get("code", f"http_{response.status_code}")),
        str(error.get("message", "")),
        fields,
        details,
    )
