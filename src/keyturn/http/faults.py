"""Fault injection (CONTRACT.md 7), a pure ASGI middleware of emulator mode.

A request that meets a fault waits the fault's `latencyMs`, then, when the fault has a
`status`, gets that answer instead of reaching a route: the fault's own `body`, or for a 429
Vercel's rate-limit body and headers, or else the contract's error body. Paths under
`/v1/admin/` are never faulted, so that a test can always clean up after a fault as broad as
`*`.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Receive, Scope, Send

from keyturn.domain.emulator import Fault, rate_limit_headers, rate_limited_body
from keyturn.services.emulator import Emulator

ADMIN_PREFIX = "/v1/admin"
# Statuses whose answers carry no body (RFC 9110).
BODILESS = {204, 304}


def is_control_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


class FaultInjection:
    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_control_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        fault = self.emulator.faults.draw(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.spec.latency_ms:
            await asyncio.sleep(fault.spec.latency_ms / 1000)
        if fault.spec.status is None:
            await self.app(scope, receive, send)
            return
        await self._answer(fault, fault.spec.status, send)

    async def _answer(self, fault: Fault, status: int, send: Send) -> None:
        headers: dict[str, str] = {}
        body = fault.spec.body
        if status == 429:
            now = self.emulator.clock.now_ms()
            headers.update(rate_limit_headers(now, fault.spec.retry_after_s))
            if body is None:
                body = rate_limited_body(now, fault.spec.retry_after_s)
        if body is None:
            body = {
                "error": {
                    "code": "injected_fault",
                    "message": f"fault {fault.id} answered {status} instead of keyturn",
                }
            }
        payload = b"" if status in BODILESS else json.dumps(body).encode()
        if payload:
            headers["content-type"] = "application/json"
            headers["content-length"] = str(len(payload))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (name.lower().encode(), value.encode()) for name, value in headers.items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
