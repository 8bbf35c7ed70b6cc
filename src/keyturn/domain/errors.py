"""Every refusal keyturn can answer with, as exceptions the HTTP layer maps to a status.

One tree, so that services raise what went wrong in domain terms and `http/errors.py` alone
decides the status code::

    KeyturnError
    ├── Unauthorized            401  no usable token
    ├── Forbidden               403  a valid token out of its scope
    ├── NotFound                404
    ├── BadRequest              400  the body's shape is wrong (carries `fields`)
    ├── RuleViolation           422  well-formed, but breaks a secrets rule (`code` names it)
    ├── Conflict                409  clashes with existing state (`code` names it)
    └── ServiceUnavailable      503

Messages name fields and rules, never secret values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field of a request body, by its JSON path (`secrets[2].name`)."""

    key: str
    message: str


class KeyturnError(Exception):
    """Base of every refusal; `code` is the wire error code."""

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(KeyturnError):
    code = "unauthorized"

    def __init__(self, message: str, *, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


class Forbidden(KeyturnError):
    code = "forbidden"


class NotFound(KeyturnError):
    code = "not_found"


class BadRequest(KeyturnError):
    code = "bad_request"

    def __init__(self, message: str, fields: tuple[FieldError, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class RuleViolation(KeyturnError):
    """A 422: the request is well-formed but breaks the named rule."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Conflict(KeyturnError):
    """A 409: the request clashes with state that exists (`code` says which clash)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ServiceUnavailable(KeyturnError):
    code = "service_unavailable"
