"""The one table from domain errors to HTTP statuses, and the handlers that answer with it.

Every error body is `{"error": {"code", "message", ...}}`; an unexpected exception answers a
generic 500 whose body carries no detail of the failure (and so no secret). A 503 (the database
is unavailable, CONTRACT.md 4) says when to retry in `Retry-After`; a 405 lists the methods
the path does take in `Allow`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Route

from keyturn.domain.errors import (
    BadRequest,
    Code,
    Conflict,
    FieldError,
    Forbidden,
    KeyturnError,
    NotFound,
    PartnerError,
    PreconditionFailed,
    RuleViolation,
    ServiceUnavailable,
    Unauthorized,
)

logger = logging.getLogger("keyturn.http")
ExceptionHandler = Callable[[Request, Exception], Awaitable[JSONResponse]]

STATUS_OF: dict[type[KeyturnError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    RuleViolation: 422,
    PartnerError: 502,
    ServiceUnavailable: 503,
}

STARLETTE_CODES = {404: Code.NOT_FOUND, 405: Code.METHOD_NOT_ALLOWED}

# Seconds a client should wait before retrying a 503: long enough for a database restart or a
# failover to begin answering, short enough that a retrying client does not stall for long.
RETRY_AFTER_S = 5


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **extra}},
        status_code=status,
        headers=headers,
    )


def _fields(fields: tuple[FieldError, ...]) -> list[dict[str, str]]:
    return [{"key": field.key, "message": field.message} for field in fields]


async def _keyturn_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KeyturnError)
    return keyturn_error_response(exc)


def keyturn_error_response(exc: KeyturnError) -> JSONResponse:
    """The answer to a refusal; also for middleware, which runs outside the handlers."""
    status = next(s for kind, s in STATUS_OF.items() if isinstance(exc, kind))
    extra: dict[str, object] = {}
    if isinstance(exc, Unauthorized):
        extra["missingToken" if exc.missing else "invalidToken"] = True
    if isinstance(exc, BadRequest) and exc.fields:
        extra["fields"] = _fields(exc.fields)
    if isinstance(exc, PartnerError):
        extra.update(exc.extra)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return error_response(status, exc.code, exc.message, headers=headers, **extra)


def _starlette_error(routes: Sequence[BaseRoute]) -> ExceptionHandler:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = STARLETTE_CODES.get(exc.status_code, Code.ERROR)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # The router names the methods of the first route whose path matched; several
            # routes share a path here (GET, PUT, PATCH, DELETE of a resource): ask them all.
            path = request.scope["path"]
            allowed = {method.strip() for method in headers.get("Allow", "").split(",")} - {""}
            allowed.update(
                method
                for route in routes
                if isinstance(route, Route) and route.path_regex.match(path)
                for method in route.methods or ()
            )
            headers["Allow"] = ", ".join(sorted(allowed))
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    return handle


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    # Only path and query parameters reach FastAPI's validation; bodies are parsed in the routes.
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"key": ".".join(str(part) for part in error["loc"][1:]), "message": error["msg"]}
        for error in exc.errors()
    ]
    first = fields[0] if fields else {"key": "request", "message": "is invalid"}
    return error_response(
        400, Code.BAD_REQUEST, f"{first['key']}: {first['message']}", fields=fields
    )


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    # The type only: an exception's message may quote a value, and values may be secrets.
    logger.error("unexpected %s while handling a request", type(exc).__name__)
    return error_response(500, Code.INTERNAL_ERROR, "internal error; this is a bug in keyturn")


def install_error_handlers(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """Answer every error in the one shape; `routes` are every route of `app` (for `Allow`)."""
    app.add_exception_handler(KeyturnError, _keyturn_error)
    app.add_exception_handler(StarletteHTTPException, _starlette_error(routes))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
