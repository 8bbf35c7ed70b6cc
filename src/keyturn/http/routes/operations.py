"""Health and readiness (CONTRACT.md 4)."""

from __future__ import annotations

from fastapi import APIRouter

from keyturn.domain.errors import ServiceUnavailable
from keyturn.http.dependencies import Context
from keyturn.http.openapi import answers
from keyturn.http.wire_out import StatusOut

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=None,
    responses=answers(200, StatusOut),
)
async def healthz() -> StatusOut:
    """The process is up; touches no database, so it runs on the event loop (no thread hop)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=None,
    responses=answers(200, StatusOut, 503),
)
def readyz(context: Context) -> StatusOut:
    """The database answers and the master keys open its data; else 503."""
    problem = context.readiness.problem()
    if problem is not None:
        raise ServiceUnavailable(problem)
    return {"status": "ok"}
