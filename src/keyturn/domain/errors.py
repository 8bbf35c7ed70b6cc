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
    ├── PreconditionFailed      412  an `If-Match` / `If-None-Match` that does not hold
    ├── PartnerError            502  the partner's answer to a rotation request was not usable
    └── ServiceUnavailable      503

`Code` is the catalogue of every wire error code: code raises and answers with its names, never
with a bare string, so a code is spelled once. Messages name fields and rules, never secret values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    """Every `error.code` keyturn answers with; the comment names the contract section."""

    # Generic (0, 4): answered by the HTTP layer or the exception tree's base classes.
    ERROR = "error"  # a Starlette HTTP error with no more specific code
    UNAUTHORIZED = "unauthorized"  # 0: missing, malformed, unknown or revoked token
    FORBIDDEN = "forbidden"  # 0: a valid token out of its scope
    NOT_FOUND = "not_found"  # 0: no such thing (or no such route)
    BAD_REQUEST = "bad_request"  # 0: the body's or a parameter's shape is wrong
    CONFLICT = "conflict"  # 1, 3.1: a slug or name taken, or a lost race on one
    PAYLOAD_TOO_LARGE = "payload_too_large"  # 0: a body over 1 MiB
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 0: the path exists, the method does not
    INTERNAL_ERROR = "internal_error"  # 0: a bug (every 5xx but 502 and 503 is one)
    SERVICE_UNAVAILABLE = "service_unavailable"  # 4: the database does not answer
    # The secrets rules of 2.1.
    INVALID_SECRET_NAME = "invalid_secret_name"  # 2.1: a name that is not an env var name
    INVALID_PREFIX = "invalid_prefix"  # 2.1, 3.2: a prefix that is not an env var name start
    DUPLICATE_SECRET_NAME = "duplicate_secret_name"  # 2.1: two secrets of one name
    RESERVED_SECRET_NAME = "reserved_secret_name"  # 2.1: a name Vercel reserves
    TOO_MANY_SECRETS = "too_many_secrets"  # 2.1: more secrets than a resource may hold
    VALUE_TOO_LARGE = "value_too_large"  # 2.1: a value over the size limit
    RESOURCE_NOT_ACTIVE = "resource_not_active"  # 2.1: secrets for a suspended/uninstalled one
    ENV_VAR_CONFLICT = "env_var_conflict"  # 2.1, 3.2, 3.4: two sources of one env key
    # Projects, connections and env vars (3).
    ALREADY_CONNECTED = "already_connected"  # 3.2: the resource is connected to the project
    ENV_MANAGED_BY_INTEGRATION = "env_managed_by_integration"  # 3.4: a derived env var
    # The rotation lifecycle (5).
    PRECONDITION_FAILED = "precondition_failed"  # 5.5: If-Match / If-None-Match failed
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"  # 5.6: same key, another body
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"  # 5.6: same key, first still running
    ROTATION_NOT_SUPPORTED = "rotation_not_supported"  # 5.3: the integration has no baseUrl
    ROTATION_IN_PROGRESS = "rotation_in_progress"  # 5.3: one is pending for the resource
    PARTNER_ERROR = "partner_error"  # 5.3: the 502 of a failed partner call
    PARTNER_UNREACHABLE = "partner_unreachable"  # 5.3: R.error: no connection to the partner
    PARTNER_TIMEOUT = "partner_timeout"  # 5.3: R.error: the partner did not answer in time
    PARTNER_BAD_RESPONSE = "partner_bad_response"  # 5.3: R.error: an answer of neither shape
    ROTATION_TIMED_OUT = "rotation_timed_out"  # 5.3: R.error: pending past the timeout
    # Emulator controls and installation credentials (7, 8).
    RATE_LIMITED = "rate_limited"  # 7: an injected 429 in Vercel's shape
    LAST_LIVE_CREDENTIAL = "last_live_credential"  # 8: revoking the only live credential


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field of a request body, by its JSON path (`secrets[2].name`)."""

    key: str
    message: str


class KeyturnError(Exception):
    """Base of every refusal; `code` is the wire error code."""

    code: str = Code.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(KeyturnError):
    code = Code.UNAUTHORIZED

    def __init__(self, message: str, *, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


class Forbidden(KeyturnError):
    code = Code.FORBIDDEN


class NotFound(KeyturnError):
    code = Code.NOT_FOUND


class BadRequest(KeyturnError):
    code = Code.BAD_REQUEST

    def __init__(self, message: str, fields: tuple[FieldError, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class RuleViolation(KeyturnError):
    """A 422: the request is well-formed but breaks the named rule."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code


class Conflict(KeyturnError):
    """A 409: the request clashes with state that exists (`code` says which clash)."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code


class PreconditionFailed(KeyturnError):
    """A 412: the request's `If-Match` or `If-None-Match` does not hold (CONTRACT.md 5.5)."""

    code = Code.PRECONDITION_FAILED


class PartnerError(KeyturnError):
    """A 502: the partner's answer to a rotation request could not be used (CONTRACT.md 5.3).

    `extra` is added to the error body beside `code` and `message` (the failed `rotation`).
    """

    code = Code.PARTNER_ERROR

    def __init__(self, message: str, extra: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.extra: Mapping[str, object] = extra or {}


class ServiceUnavailable(KeyturnError):
    code = Code.SERVICE_UNAVAILABLE
