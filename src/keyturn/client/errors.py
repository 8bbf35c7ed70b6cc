"""What the client raises: the server's refusal, or no answer at all.

    ClientError
     ├── APIError          the server answered with an error (4xx, or a 5xx after the retries)
     └── ConnectionFailed  no answer: refused, reset or timed out, after the retries

A script tells the two apart by type (the CLI exits 1 for the first and 3 for the second). No
message carries a request body, so none carries a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ClientError(Exception):
    """Every error the client raises."""


@dataclass(frozen=True)
class FieldError:
    """One entry of an error's `fields`: the JSON path of the item and what is wrong with it."""

    key: str
    message: str


class APIError(ClientError):
    """The server refused: `status`, the contract's `code`, its `message` and `fields`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: tuple[FieldError, ...] = (),
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        # The error object's other keys (`missingToken`, `rotation`, `limit`, ...), as sent.
        self.details = details or {}


class ConnectionFailed(ClientError):
    """The server could not be reached, or did not answer within the timeout."""
