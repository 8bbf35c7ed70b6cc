"""Health and readiness (CONTRACT.md 4)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from keyturn.http.dependencies import Context
from keyturn.http.errors import error_response
from keyturn.services.operations import database_answers

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up; touches no database."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(context: Context) -> dict[str, str] | JSONResponse:
    """The database answers."""
    if not database_answers(context.store):
        return error_response(503, "service_unavailable", "the database does not answer")
    return {"status": "ok"}
