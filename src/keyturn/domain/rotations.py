"""Rotation requests (CONTRACT.md 5.3): an owner asks, keyturn calls the partner, and the
partner answers with new secrets (sync), a promise (async) or a failure.

This module holds the pure parts: what a rotation is, the claims of the token the partner
gets, and the reading of the partner's answer into one of three outcomes. A partner is another
party's server, so its answer is read defensively: any shape other than the two the contract
names is `partner_bad_response`, and what it says about itself (an `error.code`, a message)
is bounded and checked for storable text before keyturn keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from keyturn.domain.envkeys import ENVIRONMENTS
from keyturn.domain.errors import Code
from keyturn.domain.secrets import Secret
from keyturn.domain.text import text_problem

RotationStatus = Literal["pending", "completed", "failed"]

MAX_REASON_LENGTH: Final = 1000
MAX_DELAY_HOURS: Final = 720
# The partner's token lives five minutes (`exp` = `iat` + 300).
TOKEN_LIFETIME_S: Final = 300
# What keyturn keeps of a partner's own error: a code and a message, bounded.
MAX_PARTNER_CODE_LENGTH: Final = 100
MAX_PARTNER_MESSAGE_LENGTH: Final = 1000

# R.error codes keyturn gives when the partner's answer does not name one (5.3).
PARTNER_UNREACHABLE: Final = str(Code.PARTNER_UNREACHABLE)
PARTNER_TIMEOUT: Final = str(Code.PARTNER_TIMEOUT)
PARTNER_BAD_RESPONSE: Final = str(Code.PARTNER_BAD_RESPONSE)
ROTATION_TIMED_OUT: Final = str(Code.ROTATION_TIMED_OUT)


@dataclass(frozen=True, slots=True)
class RotationError:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Rotation:
    """One rotation request of a resource; `resource_id` is the partner's id."""

    id: str
    resource_internal_id: str
    resource_id: str
    status: RotationStatus
    reason: str | None
    delay_hours: float | None
    requested_at: int
    requested_by: str | None
    # When a pending rotation stops waiting for the partner (requested_at + the timeout).
    deadline_at: int
    completed_at: int | None = None
    version: int | None = None
    error: RotationError | None = None

    def as_seen_at(self, now_ms: int) -> Rotation:
        """This rotation as it stands at `now_ms`: a pending one past its deadline has failed,
        whether or not a write has recorded that yet."""
        if self.status != "pending" or now_ms < self.deadline_at:
            return self
        return Rotation(
            id=self.id,
            resource_internal_id=self.resource_internal_id,
            resource_id=self.resource_id,
            status="failed",
            reason=self.reason,
            delay_hours=self.delay_hours,
            requested_at=self.requested_at,
            requested_by=self.requested_by,
            deadline_at=self.deadline_at,
            error=timed_out_error(),
        )

    @property
    def superseded_expire_after_ms(self) -> int | None:
        """How long the values this rotation replaces stay valid (5.2 `expiresAt`)."""
        return None if self.delay_hours is None else round(self.delay_hours * 3_600_000)


def timed_out_error() -> RotationError:
    return RotationError(
        ROTATION_TIMED_OUT, "the partner did not deliver the new secrets before the timeout"
    )


@dataclass(frozen=True, slots=True)
class PartnerClaims:
    """Who the partner's token speaks for (5.3)."""

    issuer: str
    client_id: str
    team_id: str
    installation_id: str
    user_id: str

    def at(self, now_ms: int) -> dict[str, Any]:
        issued_at = now_ms // 1000
        return {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": f"account:{self.team_id}:user:{self.user_id}",
            "account_id": self.team_id,
            "installation_id": self.installation_id,
            "user_id": self.user_id,
            "user_role": "ADMIN",
            "iat": issued_at,
            "exp": issued_at + TOKEN_LIFETIME_S,
        }


# What the partner's server did, as the outbound client saw it.


@dataclass(frozen=True, slots=True)
class PartnerAnswered:
    """The partner answered: its status and its body, parsed as JSON (None when it was not)."""

    status: int
    body: Any = field(repr=False)


@dataclass(frozen=True, slots=True)
class PartnerFailed:
    """No answer: `code` is `partner_unreachable` or `partner_timeout`."""

    code: str
    message: str


PartnerReply = PartnerAnswered | PartnerFailed


# What the answer means.


@dataclass(frozen=True, slots=True)
class SyncRotation:
    secrets: tuple[Secret, ...] = field(repr=False)
    partial: bool


@dataclass(frozen=True, slots=True)
class AsyncRotation:
    pass


PartnerOutcome = SyncRotation | AsyncRotation | RotationError


def read_partner_reply(reply: PartnerReply) -> PartnerOutcome:
    """The outcome a partner's reply means (5.3)."""
    if isinstance(reply, PartnerFailed):
        return RotationError(reply.code, reply.message)
    body = reply.body
    if reply.status in (200, 202) and isinstance(body, dict) and body.get("sync") is False:
        return AsyncRotation()
    if reply.status == 200 and isinstance(body, dict) and body.get("sync") is True:
        return _sync_rotation(body)
    if reply.status >= 300:
        own = _partner_error(body)
        if own is not None:
            return own
        return RotationError(PARTNER_BAD_RESPONSE, f"the partner answered {reply.status}")
    return RotationError(
        PARTNER_BAD_RESPONSE,
        f"the partner answered {reply.status} with a body that is neither "
        '{"sync": true, "secrets": [...]} nor {"sync": false}',
    )


def _sync_rotation(body: dict[str, Any]) -> SyncRotation | RotationError:
    secrets = body.get("secrets")
    partial = body.get("partial", False)
    if not isinstance(secrets, list):
        return _bad_shape("secrets", "must be a list")
    if not isinstance(partial, bool):
        return _bad_shape("partial", "must be a boolean")
    parsed = []
    for index, item in enumerate(secrets):
        secret = _secret(item, f"secrets[{index}]")
        if isinstance(secret, RotationError):
            return secret
        parsed.append(secret)
    return SyncRotation(secrets=tuple(parsed), partial=partial)


SECRET_KEYS: Final = frozenset({"name", "value", "prefix", "environmentOverrides"})


def _secret(item: Any, path: str) -> Secret | RotationError:
    """One item of the partner's `secrets`, with the shape rules of a 2.1 item."""
    if not isinstance(item, dict):
        return _bad_shape(path, "must be an object")
    unknown = sorted(set(item) - SECRET_KEYS)
    if unknown:
        return _bad_shape(f"{path}.{unknown[0]}", "is not a known field")
    name, value, prefix = item.get("name"), item.get("value"), item.get("prefix")
    overrides = item.get("environmentOverrides", {})
    if not isinstance(name, str) or not _storable(name):
        return _bad_shape(f"{path}.name", "must be a string")
    if not isinstance(value, str) or not _storable(value):
        return _bad_shape(f"{path}.value", "must be a string")
    if "prefix" in item and (not isinstance(prefix, str) or not _storable(prefix)):
        return _bad_shape(f"{path}.prefix", "must be a string")
    if not isinstance(overrides, dict) or not all(
        key in ENVIRONMENTS and isinstance(text, str) and _storable(text)
        for key, text in overrides.items()
    ):
        return _bad_shape(
            f"{path}.environmentOverrides",
            "must be an object of strings keyed by production, preview or development",
        )
    return Secret(
        name=name,
        value=value,
        prefix=prefix if isinstance(prefix, str) else None,
        environment_overrides=dict(overrides),
    )


def _storable(text: str) -> bool:
    return text_problem(text) is None


def _bad_shape(path: str, problem: str) -> RotationError:
    return RotationError(PARTNER_BAD_RESPONSE, f"the partner's answer: {path} {problem}")


def _partner_error(body: Any) -> RotationError | None:
    """The partner's own `{"error": {"code", "message"?}}`, when it is one keyturn can keep."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if (
        not isinstance(code, str)
        or not code
        or len(code) > MAX_PARTNER_CODE_LENGTH
        or not _storable(code)
    ):
        return None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message or not _storable(message):
        message = "the partner refused the rotation"
    return RotationError(code, message[:MAX_PARTNER_MESSAGE_LENGTH])
