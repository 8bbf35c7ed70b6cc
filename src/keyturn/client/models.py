"""What the client returns: the contract's answers as frozen pydantic models, fields snake_case.

Unknown keys are ignored, so a client keeps working against a newer server that answers more.
Fields that hold a credential or a value are left out of `repr`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class Team(Model):
    id: str
    slug: str
    name: str


class UserToken(Model):
    id: str
    token: str = Field(repr=False)


class Product(Model):
    id: str
    slug: str
    name: str


class Integration(Model):
    """An integration; `client_id` is the audience of the tokens keyturn sends its partner."""

    id: str
    slug: str
    name: str
    products: list[Product]
    client_id: str
    base_url: str | None
    webhook_url: str | None
    events: list[str]


class CreatedIntegration(Integration):
    """The create answer, one of the two that hold the client secret (which signs webhooks)."""

    client_secret: str = Field(repr=False)


class ClientSecret(Model):
    """A new client secret of an integration; the old one stopped signing."""

    client_id: str
    client_secret: str = Field(repr=False)


class Installation(Model):
    id: str
    team_id: str
    integration_id: str
    access_token: str = Field(repr=False)


class ResourceName(Model):
    """The answer of an import or a patch."""

    name: str


class Resource(Model):
    id: str
    internal_id: str
    name: str
    status: str
    product_id: str
    secrets_version: int
    secret_names: list[str]
    ownership: str | None = None
    metadata: dict[str, Any] | None = None
    billing_plan: dict[str, Any] | None = None
    notification: dict[str, Any] | None = None
    extras: dict[str, Any] | None = None
    # From its latest rotation request, Vercel's fields; absent when it had none.
    secret_rotation_requested_at: int | None = None
    secret_rotation_requested_reason: str | None = None
    secret_rotation_requested_by: str | None = None
    secret_rotation_completed_at: int | None = None


class ListedResource(Resource):
    partner_id: str


class Project(Model):
    id: str
    name: str
    account_id: str
    created_at: int
    updated_at: int


class Connection(Model):
    id: str
    project_id: str
    env_var_environments: list[str]
    env_var_prefix: str | None
    make_env_vars_sensitive: bool
    created_at: int


class ContentHint(Model):
    type: str
    store_id: str
    integration_id: str
    integration_product_id: str
    integration_configuration_id: str


class EnvVar(Model):
    id: str
    key: str
    value: str = Field(repr=False)
    type: str
    target: list[str]
    configuration_id: str | None
    content_hint: ContentHint | None
    created_at: int
    updated_at: int
    git_branch: str | None = None


class SecretsVersionUsed(Model):
    """Which secrets version of a resource a deployment was built with, and the resource's now
    (null once the resource is deleted): the deployment is stale for it when the two differ."""

    resource_id: str
    secrets_version: int
    current_version: int | None = None


class Deployment(Model):
    id: str
    name: str
    project_id: str
    target: str
    git_branch: str | None
    ready_state: str
    created_at: int
    url: str
    secrets_versions: list[SecretsVersionUsed]


class SecretsVersion(Model):
    """One version of a resource's secret set: which names it added, changed and removed."""

    version: int
    created_at: int
    source: str
    rotation_id: str | None
    added: list[str]
    changed: list[str]
    removed: list[str]


class SecretsVersions(Model):
    current_version: int
    versions: list[SecretsVersion]


class SecretValueUsage(Model):
    """One value of a secret name (a stretch of versions) and the live deployments using it."""

    name: str
    from_version: int
    to_version: int | None
    current: bool
    superseded_at: int | None
    expires_at: int | None
    live_deployments: int
    serving_deployments: int
    deployment_ids: list[str]
    safe_to_revoke: bool


class SecretsUsage(Model):
    current_version: int
    values: list[SecretValueUsage]


class RotationError(Model):
    code: str
    message: str


class Rotation(Model):
    """A rotation request: `pending` until the partner's next update, or `completed`, `failed`."""

    id: str
    resource_id: str
    status: str
    reason: str | None
    delay_old_secrets_expiration_hours: float | None
    requested_at: int
    requested_by: str | None
    completed_at: int | None
    version: int | None
    error: RotationError | None


class RolledBack(Model):
    """The answer of a rollback: the version now current (a new one, or the same when the set
    was already that version's)."""

    version: int


class Webhook(Model):
    """A team webhook (Vercel's shape); `project_ids` only when it is limited to some projects."""

    id: str
    url: str
    events: list[str]
    owner_id: str
    created_at: int
    updated_at: int
    project_ids: list[str] | None = None


class CreatedWebhook(Webhook):
    """The create answer, the only one that holds the secret which signs the deliveries."""

    secret: str = Field(repr=False)


class Event(Model):
    """One event of the feed; its payload never holds a secret value."""

    id: str
    type: str
    created_at: int
    region: str | None
    payload: dict[str, Any]


class EventPage(Model):
    """A page of the event feed; pass `next` as `after` for the next one (None: no more yet)."""

    events: list[Event]
    next: str | None


class Destination(Model):
    """Where a delivery goes: `kind` is `integration` or `webhook`, `id` the one it belongs to."""

    kind: str
    id: str
    url: str


class Delivery(Model):
    """One destination's delivery of an event: `pending`, `delivered` or `failed`."""

    id: str
    destination: Destination
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: int | None
    delivered_at: int | None


class Redelivered(Model):
    """How many failed deliveries of the event were queued again."""

    queued: int


class Credential(Model):
    """A new access token of an installation. Vercel answers these in snake_case, so the field
    names are the wire's as they are."""

    model_config = ConfigDict(alias_generator=None)

    access_token: str = Field(repr=False)
    token_type: str
    expires_in: int
    scope: str


class Revocation(Model):
    """The answer of a revoke: `already_revoked` when the token had been revoked before."""

    model_config = ConfigDict(alias_generator=None)

    revoked: bool
    already_revoked: bool
