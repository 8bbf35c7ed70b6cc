"""Idempotency-Key (CONTRACT.md 5.6): what a key is, what a request is compared by, how long
an answer is kept, and the answer kept.

A key is remembered per scope (the token's installation or team), method and path, as one
digest: the record's id. The request it was first sent with is remembered as a fingerprint
(a digest of its query and body), so the same key with another request is told apart without
keeping the request. The first request's final answer is kept for `RETENTION_MS`; while it
runs, its claim holds for `LEASE_MS` on the clock, so a process that dies mid-request leaves
the key usable again once the lease has passed, never stuck.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from keyturn.domain.accounts import Principal, TokenKind
from keyturn.domain.errors import BadRequest, Code, Conflict, FieldError, RuleViolation

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Printable ASCII, the space included (CONTRACT.md 5.6).
KEY_SHAPE = re.compile(r"[\x20-\x7e]{1,255}")

# At least 24 hours (CONTRACT.md 5.6).
RETENTION_MS = 24 * 60 * 60 * 1000
# Longer than the slowest request keyturn serves (a rotation request's three partner attempts
# at the default 10 s timeout, and their backoff, take about 35 s), short enough that a retry
# after a crash waits two minutes at most.
LEASE_MS = 2 * 60 * 1000

# Answers that are not kept (CONTRACT.md 5.6): they say nothing final about the request.
# 401 and 403 are about the token, 429 asks to come back later, a 5xx is keyturn's failure.
UNKEPT_STATUSES = frozenset({401, 403, 429})


def is_kept_status(status: int) -> bool:
    return status < 500 and status not in UNKEPT_STATUSES


def check_key(key: str) -> str:
    """The key as sent, or 400 naming the header."""
    if not KEY_SHAPE.fullmatch(key):
        message = f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        raise BadRequest(f"{HEADER}: {message}", (FieldError(HEADER, message),))
    return key


def scope_of(principal: Principal) -> str | None:
    """Where a token's keys live: its installation or its team; None for the admin token,
    which has neither, so its requests run without a key."""
    if principal.kind is TokenKind.INTEGRATION and principal.installation_id is not None:
        return f"installation/{principal.installation_id}"
    if principal.kind is TokenKind.USER and principal.team_id is not None:
        return f"team/{principal.team_id}"
    return None


def record_id(scope: str, method: str, path: str, key: str) -> str:
    """The id a key is stored under in its scope: a digest, so its length is fixed."""
    return _digest(scope, method.upper(), path, key)


def fingerprint(query: bytes, body: bytes) -> str:
    """What decides whether a request with a known key is the same request."""
    hashed = hashlib.sha256(len(query).to_bytes(8, "big") + query)
    hashed.update(body)
    return hashed.hexdigest()


def purges_expired(record_id: str) -> bool:
    """Whether the write keeping this record also deletes expired ones: one in sixteen, by
    the record's id (a digest, so evenly spread), spares the hot path a statement on most
    writes. A purge deletes up to 100 rows, far more than the sixteen records written between
    two purges, so expired rows never pile up."""
    return record_id.startswith("0")


def _digest(*parts: str) -> str:
    # Each part's length first, so no two different lists of parts have the same input.
    hashed = hashlib.sha256()
    for part in parts:
        encoded = part.encode()
        hashed.update(len(encoded).to_bytes(8, "big") + encoded)
    return hashed.hexdigest()


@dataclass(frozen=True, slots=True)
class KeptResponse:
    """An answer as it is kept and replayed: status, the headers that matter, body bytes."""

    status: int
    body: bytes = field(repr=False)  # may hold secret values (an env var create's answer)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key's stored state: its request's fingerprint and, once it finished, the answer."""

    fingerprint: str
    response: KeptResponse | None  # None while the first request still runs
    expires_at: int
    claim: str


def replay_of(record: KeyRecord | None, fingerprint: str, now_ms: int) -> KeptResponse | None:
    """The answer to replay for a request with a known key; None when the key is free (never
    used, kept past its retention, or claimed by a request whose lease ran out).

    422 `idempotency_key_reused` when the key came with another request; 409
    `idempotency_key_in_use` while the first request runs.
    """
    if record is None or record.expires_at <= now_ms:
        return None
    if not hmac.compare_digest(record.fingerprint, fingerprint):
        raise RuleViolation(
            Code.IDEMPOTENCY_KEY_REUSED,
            f"{HEADER}: this key was sent with another request (method, path, query or body); "
            "use a new key for a new request",
        )
    if record.response is None:
        raise Conflict(
            Code.IDEMPOTENCY_KEY_IN_USE,
            f"{HEADER}: a request with this key is still running; retry when it has answered",
        )
    return record.response
