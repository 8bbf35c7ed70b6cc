"""Health and readiness (CONTRACT.md 4)."""

from __future__ import annotations

from fastapi import APIRouter

from keyturn.domain.errors import ServiceUnavailable
from keyturn.http.dependencies import Context

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up; touches no database, so it runs on the event loop (no thread hop)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(context: Context) -> dict[str, str]:
    """The database answers and the master keys open its data; else 503."""
    problem = context.readiness.problem()
    if problem is not None:
        raise ServiceUnavailable(problem)
    return {"status": "ok"}
