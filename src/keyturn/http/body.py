"""Request bodies: JSON parsed by hand, then checked against a strict pydantic model.

Routes parse bodies themselves, not through FastAPI's automatic body parameter, because the
contract orders its checks (auth, then 404, then the body's shape) and wants a 400
`bad_request` naming the field, where FastAPI would answer 422 before the route runs.

Parsing is also where keyturn decides, once for every body, what it will store: the body is
UTF-8, strict JSON (no `NaN`, `Infinity`, or numbers that overflow to infinity), and every
string in it, object keys included, is storable text (`domain.text`). A body that passes can
be written and read back the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from keyturn.domain.errors import BadRequest, FieldError
from keyturn.domain.text import text_problem

Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")
JsonPath = tuple[int | str, ...]
# The `ctx` key a validator sets to name the part of its field that is wrong.
INNER_PATH = "inner_path"


async def raw_body(request: Request) -> bytes:
    """The request's bytes (already capped by `BodySizeLimit`); parsed later by the route."""
    return await request.body()


def parse_json_body(body: bytes) -> Any:
    """Any JSON value whose strings and numbers keyturn can store, or a 400; empty is `None`."""
    if not body.strip():
        return None
    try:
        # Decoded here, not by json.loads: that would also guess UTF-16 and UTF-32.
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse((), "is not UTF-8 text") from None
    numbers = _FloatLiterals()
    try:
        value = json.loads(
            text, parse_float=numbers.parse_float, parse_constant=numbers.parse_constant
        )
    except (ValueError, RecursionError):
        raise _refuse((), "is not valid JSON") from None
    # Only a `\u` escape can put NUL or a lone surrogate in a parsed string: json.loads refuses
    # raw control characters in strings, and strict UTF-8 decoding yields no surrogates. So a
    # body with neither an escape nor a non-finite number needs no walk (most bodies).
    if numbers.non_finite or "\\u" in text:
        check_storable(value)
    return value


class _FloatLiterals:
    """json.loads' hooks for number literals with a fraction or exponent, and for `NaN` and
    `Infinity`: they parse as json.loads would, noting whether any is not finite."""

    __slots__ = ("non_finite",)

    def __init__(self) -> None:
        self.non_finite = False

    def parse_float(self, literal: str) -> float:
        number = float(literal)
        if not math.isfinite(number):
            self.non_finite = True
        return number

    def parse_constant(self, name: str) -> float:
        self.non_finite = True
        return float(name)


def check_storable(value: Any) -> None:
    """400 naming the first string that is not storable text or number that is not finite.

    json.loads reads `NaN`, `Infinity` and `1e400` as non-finite floats; they are not JSON
    (RFC 8259) and PostgreSQL's JSON types refuse them. The walk uses its own stack, so a
    deeply nested body cannot exhaust Python's.
    """
    pending: list[tuple[JsonPath, Any]] = [((), value)]
    while pending:
        path, node = pending.pop()
        if isinstance(node, str):
            problem = text_problem(node)
            if problem is not None:
                raise _refuse(path, problem)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise _refuse(
                    path,
                    "must be a finite number (NaN, Infinity and numbers beyond about "
                    "±1.8e308 are not JSON)",
                )
        elif isinstance(node, dict):
            for key in node:
                problem = text_problem(key)
                if problem is not None:
                    raise _refuse(path, f"has a key that {problem}")
            # Reversed onto the stack, so the first bad value in the document is the one named.
            pending.extend(((*path, key), item) for key, item in reversed(node.items()))
        elif isinstance(node, list):
            pending.extend(((*path, index), node[index]) for index in reversed(range(len(node))))


def _refuse(path: JsonPath, message: str) -> BadRequest:
    key = _json_path(path)
    return BadRequest(f"{key}: {message}", (FieldError(key, message),))


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


def parsed_when_asked(parse: Callable[[], T]) -> Callable[[], T]:
    """Run `parse` now, outside any transaction, but raise its 400 only when the use case
    calls the result: after it has checked the token (and, for the secrets PUT, the resource),
    so the contract's order of errors holds."""
    try:
        value = parse()
    except BadRequest as refusal:
        error = refusal

        def refuse() -> T:
            raise error

        return refuse
    return lambda: value


def _bad_request(exc: ValidationError) -> BadRequest:
    fields = tuple(FieldError(_error_path(error), _message(error)) for error in exc.errors())
    first = fields[0]
    return BadRequest(f"{first.key}: {first.message}", fields)


def _error_path(error: Any) -> str:
    # pydantic marks a bad key of a mapping with "[key]" after it: the key is the field.
    location = tuple(part for part in error["loc"] if part != "[key]")
    # A free-form object's own check (wire.py) names the part of it that is wrong in `ctx`.
    inner: JsonPath = tuple(error.get("ctx", {}).get(INNER_PATH, ()))
    return _json_path((*location, *inner))


def _json_path(location: JsonPath) -> str:
    path = ""
    for part in location:
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
