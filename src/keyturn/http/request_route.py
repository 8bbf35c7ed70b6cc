"""A route whose endpoint reads its own request: FastAPI documents it, and calls it as it is.

An `APIRoute`'s handler resolves the endpoint's parameters and dependencies, validates and
serializes its answer, and records telemetry data on every call, even for an endpoint whose
only parameter is the `Request`. The hottest routes read the request themselves (the secrets
PUT: `routes/marketplace.py`), so they need none of that; their `openapi_extra` documents what
they read. This route class hands the request straight to the endpoint, inside FastAPI's usual
exception handling: about 20 µs less per request (docs/performance.md, "Seventh pass").
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class RequestRoute(APIRoute):
    """For `async def endpoint(request: Request) -> Response` only."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint
