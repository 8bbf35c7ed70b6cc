"""The reference the HTTP benchmark measures keyturn against: a bare FastAPI app.

It answers `/healthz` and validates a secrets PUT body with a pydantic model of the same
shape as keyturn's (CONTRACT.md 2.1), then answers 201 `{}`: what any FastAPI service pays
for the socket, the HTTP parsing, routing and validation, with no database and no crypto.
It runs under the same uvicorn stack as `keyturn serve` (uvloop, httptools, no access log).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, FastAPI
from pydantic import BaseModel, ConfigDict


class EnvironmentOverrides(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    production: str | None = None
    preview: str | None = None
    development: str | None = None


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    value: str
    prefix: str | None = None
    environmentOverrides: EnvironmentOverrides | None = None  # noqa: N815 (the wire's name)


class SecretsUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    secrets: list[SecretIn]
    partial: bool = False


app = FastAPI(docs_url=None, redoc_url=None)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.put("/v1/installations/{installation_id}/resources/{resource_id}/secrets", status_code=201)
async def update_secrets(
    installation_id: str, resource_id: str, body: Annotated[SecretsUpdateIn, Body()]
) -> dict[str, str]:
    return {}
