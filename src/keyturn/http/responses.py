"""JSON answers the hot routes build themselves, so FastAPI has nothing left to do to them.

A route that returns a dict has FastAPI run it through `jsonable_encoder` (a Python walk of
every value) before encoding it, or, with a response model, validate it in the thread pool (a
second hop, after the route's own). A route that returns a `Response` skips both. The routes
keep their `responses=` in the decorator, so the OpenAPI document describes them as before.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """`content` encoded once with `json.dumps` (compact, UTF-8, no NaN), as sent."""
    return JSONResponse(content, status_code=status_code, headers=headers)
