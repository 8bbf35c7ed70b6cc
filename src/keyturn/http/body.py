"""Request bodies: JSON parsed by hand, then checked against a strict pydantic model.

Routes parse bodies themselves, not through FastAPI's automatic body parameter, because the
contract orders its checks (auth, then 404, then the body's shape) and wants a 400
`bad_request` naming the field, where FastAPI would answer 422 before the route runs.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from keyturn.domain.errors import BadRequest, FieldError

Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")


async def raw_body(request: Request) -> bytes:
    """The request's bytes (already capped by `BodySizeLimit`); parsed later by the route."""
    return await request.body()


def parse_json_body(body: bytes) -> Any:
    """Any JSON value, or a 400; an empty body is `None`."""
    try:
        return json.loads(body) if body.strip() else None
    except (ValueError, RecursionError) as exc:
        raise BadRequest("body: is not valid JSON", (FieldError("body", "invalid JSON"),)) from exc


def parse_json_object(body: bytes) -> dict[str, Any]:
    parsed = parse_json_body(body)
    if not isinstance(parsed, dict):
        raise BadRequest(
            "body: must be a JSON object", (FieldError("body", "must be a JSON object"),)
        )
    return parsed


def parse_body(model: type[Model], body: bytes) -> Model:
    """`body` as `model`, or a 400 naming every invalid field (`secrets[2].name`)."""
    data = parse_json_object(body)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _bad_request(exc) from None


def parse_body_as(adapter: TypeAdapter[T], body: bytes) -> T:
    """`body` as any JSON shape `adapter` describes (an object or a list of them)."""
    data = parse_json_body(body)
    try:
        return adapter.validate_python(data, strict=True)
    except ValidationError as exc:
        raise _bad_request(exc) from None


def _bad_request(exc: ValidationError) -> BadRequest:
    fields = tuple(FieldError(_json_path(error["loc"]), _message(error)) for error in exc.errors())
    first = fields[0]
    return BadRequest(f"{first.key}: {first.message}", fields)


def _json_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if part == "[key]":  # pydantic's marker for a bad key of a mapping: the key is the field
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "body"


def _message(error: Any) -> str:
    # pydantic's message, never its `input`: the input may be a secret value.
    if error["type"] == "extra_forbidden":
        return "is not a known field"
    if error["type"] == "missing":
        return "is required"
    return str(error["msg"])
