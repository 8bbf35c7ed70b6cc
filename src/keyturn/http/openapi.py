"""The OpenAPI document: hand-parsed request bodies inlined, every route's answers declared.

Routes parse their bodies by hand (see body.py), so FastAPI infers neither their request schemas
nor their answers. Each route declares both here: `json_body` inlines a wire model's schema, and
`answers` lists the success shape and the error statuses the route can give, all with one error
body. `install_openapi` then removes what FastAPI would claim on its own (a 422 with its
validation body, which keyturn never sends) and adds the bearer scheme. tests/fuzz holds the
server to the document it publishes.
"""

from __future__ import annotations

from typing import Any, NotRequired, cast

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import ConfigDict, TypeAdapter, with_config
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema
from typing_extensions import TypedDict, is_typeddict

from keyturn.http.wire_out import RotationOut


class WireJsonSchema(GenerateJsonSchema):
    """Request schemas as the server reads them: an optional field is left out, never null.

    `WireModel` refuses an explicit `null` for every field (400 naming it), so a field typed
    `X | None = None` is documented as plain `X`, not required, with no `null` default.
    """

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if "default" in schema and schema["default"] is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def json_body(shape: Any, *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` declaring `shape` (a wire model, or a union of them) as the JSON body."""
    schema = TypeAdapter(shape).json_schema(schema_generator=WireJsonSchema)
    definitions = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": _inline(schema, definitions)}},
        }
    }


def request_parameters(
    path: tuple[str, ...],
    headers: tuple[tuple[str, str], ...] = (),
    *,
    optional: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """`openapi_extra` documenting the path parameters and optional headers of a route that
    reads its request itself (FastAPI documents only the parameters of an endpoint's
    signature), as FastAPI would document them; `headers` are (name, description) pairs, and
    `optional` (where, name) pairs of parameters a signature would type `str | None`, listed
    after the path's."""
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True, "schema": _text(name.capitalize())}
        for name in path
    ]
    parameters += [
        {
            "in": where,
            "name": name,
            # A path parameter is required whatever its type; a query one is not.
            "required": where == "path",
            "schema": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "title": name.capitalize(),
            },
        }
        for where, name in optional
    ]
    parameters += [
        {
            "description": description,
            "in": "header",
            "name": name,
            "required": False,
            "schema": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": description,
                "title": name,
            },
        }
        for name, description in headers
    ]
    return {"parameters": parameters}


def _text(title: str) -> dict[str, Any]:
    return {"title": title, "type": "string"}


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inline(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


@with_config(ConfigDict(extra="forbid"))
class FieldErrorOut(TypedDict):
    key: str
    message: str


@with_config(ConfigDict(extra="forbid"))
class ErrorDetailOut(TypedDict):
    code: str
    message: str
    fields: NotRequired[list[FieldErrorOut]]
    missingToken: NotRequired[bool]
    invalidToken: NotRequired[bool]
    # The failed rotation request of a 502 `partner_error` (5.3).
    rotation: NotRequired[RotationOut]


@with_config(ConfigDict(extra="forbid"))
class ErrorOut(TypedDict):
    """Every error answer (CONTRACT.md 0); `fields` on 400s, the token flags on 401s."""

    error: ErrorDetailOut


# FastAPI documents this 422 for any route with parameters; keyturn answers those errors 400.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_BEARER = "bearerToken"
_COMPONENTS = "#/components/schemas/{model}"
ERROR_REF = _COMPONENTS.format(model="ErrorOut")
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": ERROR_REF}}}


def _error_schemas() -> dict[str, Any]:
    """`ErrorOut` and the schemas it refers to, named as FastAPI names a response model's."""
    schema = TypeAdapter(ErrorOut).json_schema(ref_template=_COMPONENTS, mode="serialization")
    return {"ErrorOut": schema, **schema.pop("$defs", {})}


ERROR_MEANINGS: dict[int, str] = {
    400: "The body, a path or a query parameter is malformed (`bad_request`, `fields` name it)",
    401: "No usable token (`unauthorized`, with `missingToken` or `invalidToken`)",
    403: "The token's kind or scope does not reach this (`forbidden`)",
    404: "Something the request names does not exist (`not_found`)",
    409: "Clashes with existing state; `code` names the clash",
    412: "An `If-Match` or `If-None-Match` does not hold (`precondition_failed`; the message "
    "names the current secrets version)",
    413: "The request body is over 1 MiB (`payload_too_large`)",
    422: "Well-formed, but breaks a rule; `code` names the rule",
    502: "The partner did not rotate (`partner_error`, with the failed `rotation`)",
    503: "The database does not answer (`service_unavailable`)",
}


def answers(status: int, shape: object | None, *errors: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its success `status` with `shape`, and the `errors` it gives.

    The errors point at the one `ErrorOut` schema, which `install_openapi` adds to the
    document, rather than naming it as a `model`: FastAPI builds a validator for every `model`
    of every route, twice (when the route is declared and when the app first routes a
    request), and the same error body on some 70 routes cost a second of start-up and of the
    first request for nothing it checks.
    """
    success: dict[str, Any] = {"description": "Success"}
    if shape is not None:
        success["model"] = _built_when_documented(shape)
    documented: dict[int | str, dict[str, Any]] = {status: success}
    for error in sorted(errors):
        documented[error] = {"description": ERROR_MEANINGS[error], "content": _ERROR_CONTENT}
    return documented


def _built_when_documented(shape: object) -> object:
    """`shape`, with its pydantic schema built when first needed (for `/openapi.json`).

    FastAPI makes a validator of each route's response model when the route is declared and
    again when the app routes its first request, and uses neither: keyturn's routes answer JSON
    they shape themselves. `defer_build` in the shape's pydantic config, which FastAPI's adapters
    read, leaves the work to the document: about a fifth of a start's CPU went to them.
    """
    if is_typeddict(shape):
        # A ConfigDict is a plain dict; a shape of several routes is given it once per route.
        config: dict[str, Any] = {**(getattr(shape, "__pydantic_config__", None) or {})}
        cast(Any, shape).__pydantic_config__ = {**config, "defer_build": True}
    return shape


# Every write a team's or an installation's token makes takes an Idempotency-Key (CONTRACT.md
# 5.6, http/idempotency.py); the admin token's bootstrap calls have no scope to keep keys in.
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
ADMIN_PREFIX = "/v1/admin/"
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Run this write once: the same key with the same request answers the first "
    "answer again (`Idempotent-Replayed: true`) for 24 hours; with another request 422 "
    "`idempotency_key_reused`; while the first runs 409 `idempotency_key_in_use`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
IDEMPOTENCY_ERRORS = {
    "400": "The body, a parameter or the `Idempotency-Key` header is malformed "
    "(`bad_request`, `fields` name it)",
    "409": "Clashes with existing state, or a request with this `Idempotency-Key` is still "
    "running (`idempotency_key_in_use`); `code` names the clash",
    "422": "Well-formed, but breaks a rule, or reuses an `Idempotency-Key` with another "
    "request (`idempotency_key_reused`); `code` names the rule",
}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (and `/openapi.json`) the document described in this module."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _keyturn_answers_only(document)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]  # the override FastAPI documents


def _keyturn_answers_only(document: dict[str, Any]) -> dict[str, Any]:
    validation_ref = "#/components/schemas/HTTPValidationError"
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation["responses"]
            body = responses.get("422", {}).get("content", {}).get("application/json", {})
            if body.get("schema", {}).get("$ref") == validation_ref:
                del responses["422"]
            if "401" in responses:
                operation["security"] = [{_BEARER: []}]
    for path, path_item in document.get("paths", {}).items():
        for method, operation in path_item.items():
            if method in WRITE_METHODS and not path.startswith(ADMIN_PREFIX):
                _document_idempotency_key(operation)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    for name, schema in _error_schemas().items():
        schemas.setdefault(name, schema)
    components["securitySchemes"] = {
        _BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "An admin, user or integration token: `[A-Za-z0-9_]` only",
        }
    }
    return document


def _document_idempotency_key(operation: dict[str, Any]) -> None:
    operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
    responses = operation["responses"]
    for status, description in IDEMPOTENCY_ERRORS.items():
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
        }
