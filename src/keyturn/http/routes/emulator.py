"""Emulator controls (CONTRACT.md 7): reset, seed, faults, the clock and the request recorder.

Admin token only. The router is mounted only in emulator mode (`keyturn serve --emulator`), so
elsewhere these paths answer 404 like any unknown path and are absent from /openapi.json.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from keyturn.domain.emulator import RECORDED_REQUESTS, Fault
from keyturn.domain.errors import BadRequest, FieldError
from keyturn.http.body import parse_body, raw_body
from keyturn.http.dependencies import Caller, Context
from keyturn.http.openapi import answers, json_body
from keyturn.http.wire_emulator import (
    ClockIn,
    ClockOut,
    FaultIn,
    FaultOut,
    FaultsOut,
    RecordedRequestsOut,
)
from keyturn.http.wire_seed import SeedIn, SeedOut, seed_answer
from keyturn.services import emulator as controls
from keyturn.services import seed
from keyturn.services.auth import require_admin
from keyturn.services.emulator import Emulator

router = APIRouter(prefix="/v1/admin", tags=["emulator"])
Body = Annotated[bytes, Depends(raw_body)]


async def emulator_state(request: Request) -> Emulator:
    """The emulator `keyturn.app.create_app` put on `app.state`."""
    state: Emulator = request.app.state.emulator
    return state


State = Annotated[Emulator, Depends(emulator_state)]


@router.post("/reset", status_code=204, responses=answers(204, None, 401, 403, 503))
def reset(context: Context, caller: Caller, state: State) -> Response:
    require_admin(caller.principal())
    controls.reset(context, state)
    return Response(status_code=204)


@router.post(
    "/seed",
    status_code=201,
    openapi_extra=json_body(SeedIn),
    response_model=None,
    responses=answers(201, SeedOut, 400, 401, 403, 413, 422, 503),
)
def seed_world(context: Context, caller: Caller, body: Body) -> SeedOut:
    require_admin(caller.principal())
    fixture = parse_body(SeedIn, body).to_fixture()
    return seed_answer(seed.seed_world(context, fixture))


@router.post(
    "/faults",
    status_code=201,
    openapi_extra=json_body(FaultIn),
    response_model=None,
    responses=answers(201, FaultOut, 400, 401, 403, 413, 503),
)
def add_fault(caller: Caller, state: State, body: Body) -> FaultOut:
    require_admin(caller.principal())
    return _fault(state.faults.add(parse_body(FaultIn, body).to_domain()))


@router.get("/faults", response_model=None, responses=answers(200, FaultsOut, 401, 403, 503))
def list_faults(caller: Caller, state: State) -> FaultsOut:
    require_admin(caller.principal())
    return {"faults": [_fault(fault) for fault in state.faults.all()]}


@router.delete(
    "/faults/{faultId}", status_code=204, responses=answers(204, None, 401, 403, 404, 503)
)
def delete_fault(faultId: str, caller: Caller, state: State) -> Response:
    require_admin(caller.principal())
    state.faults.remove(faultId)
    return Response(status_code=204)


@router.delete("/faults", status_code=204, responses=answers(204, None, 401, 403, 503))
def delete_faults(caller: Caller, state: State) -> Response:
    require_admin(caller.principal())
    state.faults.clear()
    return Response(status_code=204)


@router.get("/clock", response_model=None, responses=answers(200, ClockOut, 401, 403, 503))
def read_clock(caller: Caller, state: State) -> ClockOut:
    require_admin(caller.principal())
    return _clock(state)


@router.post(
    "/clock",
    openapi_extra=json_body(ClockIn),
    response_model=None,
    responses=answers(200, ClockOut, 400, 401, 403, 413, 503),
)
def advance_clock(caller: Caller, state: State, body: Body) -> ClockOut:
    require_admin(caller.principal())
    state.clock.advance(parse_body(ClockIn, body).advanceMs)
    return _clock(state)


@router.get(
    "/requests",
    response_model=None,
    responses=answers(200, RecordedRequestsOut, 400, 401, 403, 503),
)
def recorded_requests(
    context: Context,
    caller: Caller,
    state: State,
    limit: str | None = None,
    path: str | None = None,
) -> RecordedRequestsOut:
    """The newest recorded requests; `limit` 1..1000 (default 1000), `path` a glob."""
    require_admin(caller.principal())
    views = controls.recorded_requests(context, state, limit=_limit(limit), path_glob=path)
    return {
        "requests": [
            {
                "id": view.request.id,
                "at": view.request.at,
                "method": view.request.method,
                "path": view.request.path,
                "query": view.request.query,
                "status": view.request.status,
                "durationMs": view.request.duration_ms,
                "tokenKind": None if view.token_kind is None else view.token_kind.value,
                "idempotencyKey": view.request.idempotency_key,
            }
            for view in views
        ]
    }


@router.delete("/requests", status_code=204, responses=answers(204, None, 401, 403, 503))
def forget_requests(caller: Caller, state: State) -> Response:
    require_admin(caller.principal())
    state.requests.clear()
    return Response(status_code=204)


def _limit(raw: str | None) -> int:
    # Parsed here, not by FastAPI, so that a bad limit answers after the token's 401/403.
    if raw is None:
        return RECORDED_REQUESTS
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= RECORDED_REQUESTS:
        message = f"must be an integer from 1 to {RECORDED_REQUESTS}"
        raise BadRequest(f"limit: {message}", (FieldError("limit", message),))
    return int(raw)


def _clock(state: Emulator) -> ClockOut:
    return {"now": state.clock.now_ms(), "offsetMs": state.clock.offset_ms}


def _fault(fault: Fault) -> FaultOut:
    spec = fault.spec
    return {
        "id": fault.id,
        "path": spec.path,
        "method": spec.method,
        "status": spec.status,
        "body": spec.body,
        "latencyMs": spec.latency_ms,
        "count": spec.count,
        "probability": spec.probability,
        "retryAfterS": spec.retry_after_s,
        "remaining": fault.remaining,
        "fired": fault.fired,
    }
