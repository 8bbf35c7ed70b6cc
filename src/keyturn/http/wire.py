"""Wire models of request bodies: strict (no coercion), closed (unknown keys refused).

They describe shape (and the bounds of free-form objects, which are shape too: 400); the rules
on names, prefixes and sizes are the domain's (`domain/secrets.py`), checked after, so that
shape errors answer 400 and rule errors 422.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from keyturn.domain.accounts import PartnerSettings, PartnerSettingsPatch, partner_url_problem
from keyturn.domain.envkeys import Environment
from keyturn.domain.events import EVENT_TYPES
from keyturn.domain.resources import Ownership, ResourceFields, ResourceStatus
from keyturn.domain.rotations import MAX_DELAY_HOURS, MAX_REASON_LENGTH
from keyturn.domain.secrets import Secret
from keyturn.http.body import INNER_PATH, JsonPath
from keyturn.services.rotations import RotationRequest
from keyturn.services.secrets import SecretsUpdate

# Literal aliases from the domain, so the OpenAPI schema lists the allowed values.
EnvironmentName = Environment


# Free-form objects (`metadata`, `billingPlan`, ...) are stored as given and answered on every
# read of the resource, so they are bounded: nesting past this depth would make reads recurse
# (the object itself is level 1), and the size bounds what one listing carries per resource.
MAX_FREE_FORM_DEPTH = 32
MAX_FREE_FORM_BYTES = 64 * 1024


def _bounded_free_form(value: dict[str, Any]) -> dict[str, Any]:
    """A free-form object within the depth and size limits; strings and numbers are already
    checked by the body parser (`body.check_storable`)."""
    pending: list[tuple[JsonPath, Any, int]] = [((), value, 1)]
    while pending:
        path, node, depth = pending.pop()
        if isinstance(node, dict | list):
            if depth > MAX_FREE_FORM_DEPTH:
                raise PydanticCustomError(
                    "free_form_too_deep",
                    "nests deeper than {limit} levels",
                    {"limit": MAX_FREE_FORM_DEPTH, INNER_PATH: path},
                )
            items = node.items() if isinstance(node, dict) else enumerate(node)
            pending.extend(((*path, key), item, depth + 1) for key, item in items)
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_FREE_FORM_BYTES:
        raise PydanticCustomError(
            "free_form_too_large",
            "is larger than {limit} bytes as compact JSON",
            {"limit": MAX_FREE_FORM_BYTES},
        )
    return value


FreeFormObject = Annotated[dict[str, Any], AfterValidator(_bounded_free_form)]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_explicit_null(cls, value: Any) -> Any:
        # An optional field may be left out, but `null` is not a string, object or boolean.
        if value is None:
            raise ValueError("must not be null; leave the field out instead")
        return value


class SecretIn(WireModel):
    name: str
    value: str = Field(repr=False)
    prefix: str | None = None
    environmentOverrides: dict[EnvironmentName, str] | None = Field(default=None, repr=False)

    def to_domain(self) -> Secret:
        return Secret(
            name=self.name,
            value=self.value,
            prefix=self.prefix,
            environment_overrides={
                str(env): override for env, override in (self.environmentOverrides or {}).items()
            },
        )


class SecretsUpdateIn(WireModel):
    """Body of `PUT .../resources/{resourceId}/secrets`."""

    secrets: list[SecretIn]
    partial: bool | None = None

    def to_domain(self) -> SecretsUpdate:
        return SecretsUpdate(
            secrets=tuple(secret.to_domain() for secret in self.secrets),
            partial=bool(self.partial),
        )


class RollbackIn(WireModel):
    """Body of `POST .../resources/{resourceId}/secrets/rollback`."""

    # Versions are stored as 32-bit integers: a larger one names no version.
    version: int = Field(ge=1, le=2**31 - 1)


class ResourcePatchIn(WireModel):
    """Body of `PATCH /v1/installations/{icfg}/resources/{resourceId}`: every field optional.

    `secrets` is an array (full replace) or `{"secrets": [...], "partial": bool}`.
    """

    productId: str | None = None
    name: str | None = Field(default=None, min_length=1, max_length=256)
    status: ResourceStatus | None = None
    ownership: Ownership | None = None
    metadata: FreeFormObject | None = None
    billingPlan: FreeFormObject | None = None
    notification: FreeFormObject | None = None
    extras: FreeFormObject | None = None
    secrets: list[SecretIn] | SecretsUpdateIn | None = None

    def fields(self) -> ResourceFields:
        return ResourceFields(
            product_id=self.productId,
            name=self.name,
            status=self.status,
            ownership=self.ownership,
            metadata=self.metadata,
            billing_plan=self.billingPlan,
            notification=self.notification,
            extras=self.extras,
        )

    def secrets_update(self) -> SecretsUpdate | None:
        if self.secrets is None:
            return None
        if isinstance(self.secrets, SecretsUpdateIn):
            return self.secrets.to_domain()
        return SecretsUpdate(secrets=tuple(s.to_domain() for s in self.secrets), partial=False)


class ResourceImportIn(ResourcePatchIn):
    """Body of `PUT /v1/installations/{icfg}/resources/{resourceId}` (import, an upsert):
    the patch's fields with `productId`, `name` and `status` required, `secrets` an array."""

    productId: str
    name: str = Field(min_length=1, max_length=256)
    status: ResourceStatus
    secrets: list[SecretIn] | None = None


class TeamIn(WireModel):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    name: str | None = Field(default=None, min_length=1, max_length=256)


class TokenIn(WireModel):
    name: str | None = Field(default=None, min_length=1, max_length=256)


class ProductIn(WireModel):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    name: str | None = Field(default=None, min_length=1, max_length=256)


def _partner_url(url: str) -> str:
    problem = partner_url_problem(url)
    if problem is not None:
        raise PydanticCustomError("partner_url", problem)
    return url


def _known_event_types(types: list[str]) -> list[str]:
    for index, name in enumerate(types):
        if name not in EVENT_TYPES:
            raise PydanticCustomError(
                "unknown_event_type",
                "is not a known event type (CONTRACT.md 6.1)",
                {INNER_PATH: (index,)},
            )
    # Listing a type twice asks for it once.
    return list(dict.fromkeys(types))


PartnerUrl = Annotated[str, AfterValidator(_partner_url)]
EventTypes = Annotated[list[str], Field(max_length=100), AfterValidator(_known_event_types)]
# PATCH takes `null` to clear a setting: the document says so (WireJsonSchema drops `null`).
NullablePartnerUrl = Annotated[
    PartnerUrl | None, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "null"}]})
]
NullableEventTypes = Annotated[
    EventTypes | None,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string", "enum": sorted(EVENT_TYPES)}},
                {"type": "null"},
            ]
        }
    ),
]


class IntegrationIn(WireModel):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    name: str | None = Field(default=None, min_length=1, max_length=256)
    products: list[ProductIn] = Field(min_length=1)
    baseUrl: PartnerUrl | None = None
    webhookUrl: PartnerUrl | None = None
    events: EventTypes | None = None

    def partner_settings(self) -> PartnerSettings:
        return PartnerSettings(
            base_url=self.baseUrl, webhook_url=self.webhookUrl, events=tuple(self.events or ())
        )


class IntegrationPatchIn(BaseModel):
    """Body of `PATCH /v1/admin/integrations/{idOrSlug}`: fields left out stay, `null` clears.

    Not a `WireModel`: that one refuses `null`, which here is meaningful.
    """

    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)

    baseUrl: NullablePartnerUrl = None
    webhookUrl: NullablePartnerUrl = None
    events: NullableEventTypes = None

    def to_domain(self) -> PartnerSettingsPatch:
        fields = {"baseUrl": "base_url", "webhookUrl": "webhook_url", "events": "events"}
        return PartnerSettingsPatch(
            given=frozenset(fields[name] for name in self.model_fields_set),
            settings=PartnerSettings(
                base_url=self.baseUrl,
                webhook_url=self.webhookUrl,
                events=tuple(self.events or ()),
            ),
        )


class InstallationIn(WireModel):
    teamId: str
    integration: str = Field(min_length=1)


class RotateIn(WireModel):
    """Body of `POST {owner path}/secrets/rotate`; the partner gets exactly the fields sent."""

    reason: str | None = Field(default=None, min_length=1, max_length=MAX_REASON_LENGTH)
    delayOldSecretsExpirationHours: float | None = Field(
        default=None, ge=0, le=MAX_DELAY_HOURS, allow_inf_nan=False
    )

    def to_domain(self) -> RotationRequest:
        return RotationRequest(
            reason=self.reason,
            delay_hours=self.delayOldSecretsExpirationHours,
            sent=self.model_dump(exclude_unset=True),
        )
