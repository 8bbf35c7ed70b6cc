"""A partner's resource (a database, a cache ...) as keyturn keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

ResourceStatus = Literal[
    "ready", "pending", "onboarding", "suspended", "resumed", "uninstalled", "error"
]
Ownership = Literal["owned", "linked", "sandbox"]

# The partner's own resource id comes from the import's path and is stored, so it is bounded.
MAX_PARTNER_ID_LENGTH: Final = 256

# A resource in this status takes no new secrets (CONTRACT.md 2.1, `resource_not_active`).
INACTIVE_STATUS: Final = "uninstalled"


@dataclass(frozen=True, slots=True)
class Resource:
    internal_id: str
    installation_id: str
    partner_id: str
    product_id: str
    name: str
    status: str
    ownership: str | None
    metadata: dict[str, Any] | None
    billing_plan: dict[str, Any] | None
    notification: dict[str, Any] | None
    extras: dict[str, Any] | None
    secrets_version: int
    created_at: int
    updated_at: int
    # A keyed digest of the current version's whole secret set (storage's HMAC), written with
    # the version: a PUT that sends the same set again is answered without opening a value.
    # None when not known (written before digests, or under another master key).
    secrets_digest: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ResourceFields:
    """The descriptive fields an import sets and a patch may change; `None` leaves one as is."""

    product_id: str | None = None
    name: str | None = None
    status: str | None = None
    ownership: str | None = None
    metadata: dict[str, Any] | None = None
    billing_plan: dict[str, Any] | None = None
    notification: dict[str, Any] | None = None
    extras: dict[str, Any] | None = None
