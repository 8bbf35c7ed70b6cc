"""Wire shapes of success answers, as typed dicts: routes return them, /openapi.json shows them.

Routes build plain dicts (no model is instantiated on the hot path); annotating them with these
types lets mypy check each answer against the shape the document publishes, and the fuzz run
(tests/fuzz) checks what is really sent. Every shape is closed (`additionalProperties: false`)
so that a field added to an answer but not here fails there. `NotRequired` fields are left out
when unset; `X | None` fields are always sent, `null` when unset.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, get_args

from pydantic import ConfigDict, WithJsonSchema, with_config
from typing_extensions import TypedDict

from keyturn.domain.environment import UserEnvType
from keyturn.domain.envkeys import Environment
from keyturn.domain.resources import Ownership, ResourceStatus
from keyturn.domain.secrets import VersionSource

CLOSED = ConfigDict(extra="forbid")


def _one_of(values: object) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(get_args(values))})


# The domain keeps these as plain strings; the document lists the values they take.
StatusName = Annotated[str, _one_of(ResourceStatus)]
OwnershipName = Annotated[str, _one_of(Ownership)]
EnvironmentName = Annotated[str, _one_of(Environment)]
EnvTypeName = Annotated[str, _one_of(UserEnvType)]


@with_config(CLOSED)
class StatusOut(TypedDict):
    status: Literal["ok"]


@with_config(CLOSED)
class TeamOut(TypedDict):
    id: str
    slug: str
    name: str


@with_config(CLOSED)
class UserTokenOut(TypedDict):
    id: str
    token: str


@with_config(CLOSED)
class ProductOut(TypedDict):
    id: str
    slug: str
    name: str


@with_config(CLOSED)
class IntegrationOut(TypedDict):
    id: str
    slug: str
    name: str
    products: list[ProductOut]
    clientId: str
    baseUrl: str | None
    webhookUrl: str | None
    events: list[str]


@with_config(CLOSED)
class CreatedIntegrationOut(IntegrationOut):
    """The create answer: the integration and, this once, its client secret."""

    clientSecret: str


@with_config(CLOSED)
class ClientSecretOut(TypedDict):
    clientId: str
    clientSecret: str


@with_config(CLOSED)
class InstallationOut(TypedDict):
    id: str
    teamId: str
    integrationId: str
    accessToken: str


@with_config(CLOSED)
class EmptyOut(TypedDict):
    """The secrets PUT's 201 body: `{}`."""


@with_config(CLOSED)
class RolledBackOut(TypedDict):
    """The rollback's 201 body: the secrets version current afterwards."""

    version: int


@with_config(CLOSED)
class ResourceNameOut(TypedDict):
    name: str


@with_config(CLOSED)
class ResourceOut(TypedDict):
    id: str
    internalId: str
    name: str
    status: StatusName
    productId: str
    secretsVersion: int
    secretNames: list[str]
    ownership: NotRequired[OwnershipName]
    metadata: NotRequired[dict[str, Any]]
    billingPlan: NotRequired[dict[str, Any]]
    notification: NotRequired[dict[str, Any]]
    extras: NotRequired[dict[str, Any]]
    secretRotationRequestedAt: NotRequired[int]
    secretRotationRequestedReason: NotRequired[str | None]
    secretRotationRequestedBy: NotRequired[str | None]
    secretRotationCompletedAt: NotRequired[int | None]


@with_config(CLOSED)
class ListedResourceOut(ResourceOut):
    partnerId: str


@with_config(CLOSED)
class ResourcesOut(TypedDict):
    resources: list[ListedResourceOut]


@with_config(CLOSED)
class ConnectionOut(TypedDict):
    id: str
    projectId: str
    envVarEnvironments: list[EnvironmentName]
    envVarPrefix: str | None
    makeEnvVarsSensitive: bool
    createdAt: int


@with_config(CLOSED)
class ConnectionsOut(TypedDict):
    connections: list[ConnectionOut]


@with_config(CLOSED)
class ProjectOut(TypedDict):
    id: str
    name: str
    accountId: str
    createdAt: int
    updatedAt: int


@with_config(CLOSED)
class PaginationOut(TypedDict):
    count: int
    next: None
    prev: None


@with_config(CLOSED)
class ProjectsOut(TypedDict):
    projects: list[ProjectOut]
    pagination: PaginationOut


@with_config(CLOSED)
class CustomEnvironmentsOut(TypedDict):
    environments: list[dict[str, Any]]


@with_config(CLOSED)
class UserOut(TypedDict):
    id: str
    uid: str
    username: str
    name: str
    defaultTeamId: str


@with_config(CLOSED)
class CurrentUserOut(TypedDict):
    user: UserOut


@with_config(CLOSED)
class ContentHintOut(TypedDict):
    type: Literal["integration-store-secret"]
    storeId: str
    integrationId: str
    integrationProductId: str
    integrationConfigurationId: str


@with_config(CLOSED)
class EnvVarOut(TypedDict):
    """An env var record; `value` is `""` where the caller may not read it."""

    id: str
    key: str
    value: str
    type: EnvTypeName
    target: list[EnvironmentName]
    configurationId: str | None
    contentHint: ContentHintOut | None
    createdAt: int
    updatedAt: int
    decrypted: bool
    securityIssues: list[Any]
    gitBranch: NotRequired[str]
    comment: NotRequired[str]


@with_config(CLOSED)
class EnvVarsOut(TypedDict):
    envs: list[EnvVarOut]
    pagination: PaginationOut


@with_config(CLOSED)
class FailedEnvVarErrorOut(TypedDict):
    code: str
    message: str
    key: str
    envVarKey: str


@with_config(CLOSED)
class FailedEnvVarOut(TypedDict):
    error: FailedEnvVarErrorOut


@with_config(CLOSED)
class CreatedEnvVarsOut(TypedDict):
    created: list[EnvVarOut]
    failed: list[FailedEnvVarOut]


@with_config(CLOSED)
class PulledEnvOut(TypedDict):
    env: dict[str, str]


@with_config(CLOSED)
class DeploymentEnvOut(TypedDict):
    """A deployment's frozen env, the same map under both keys (the CLI reads `buildEnv`)."""

    env: dict[str, str]
    buildEnv: dict[str, str]


@with_config(CLOSED)
class SecretsVersionUsedOut(TypedDict):
    resourceId: str
    secretsVersion: int
    # The resource's version now; null once it is deleted (CONTRACT.md 5.2).
    currentVersion: int | None


@with_config(CLOSED)
class DeploymentOut(TypedDict):
    id: str
    uid: str
    name: str
    projectId: str
    target: str
    gitBranch: str | None
    readyState: Literal["READY"]
    state: Literal["READY"]
    createdAt: int
    created: int
    url: str
    secretsVersions: list[SecretsVersionUsedOut]


@with_config(CLOSED)
class DeploymentPaginationOut(TypedDict):
    count: int
    total: int
    next: None
    prev: None


@with_config(CLOSED)
class DeploymentsOut(TypedDict):
    deployments: list[DeploymentOut]
    pagination: DeploymentPaginationOut


@with_config(CLOSED)
class DeletedDeploymentOut(TypedDict):
    uid: str
    state: Literal["DELETED"]


VersionSourceName = Annotated[str, _one_of(VersionSource)]


@with_config(CLOSED)
class SecretsVersionOut(TypedDict):
    version: int
    createdAt: int
    source: VersionSourceName
    rotationId: str | None
    added: list[str]
    changed: list[str]
    removed: list[str]


@with_config(CLOSED)
class SecretsVersionsOut(TypedDict):
    """`GET .../secrets/versions` (5.1): names only, never a value."""

    currentVersion: int
    versions: list[SecretsVersionOut]


@with_config(CLOSED)
class SecretValueUsageOut(TypedDict):
    name: str
    fromVersion: int
    toVersion: int | None
    current: bool
    supersededAt: int | None
    expiresAt: int | None
    liveDeployments: int
    servingDeployments: int
    deploymentIds: list[str]
    safeToRevoke: bool


@with_config(CLOSED)
class SecretsUsageOut(TypedDict):
    """`GET .../secrets/usage` (5.2): who still runs which value of each secret."""

    currentVersion: int
    values: list[SecretValueUsageOut]


@with_config(CLOSED)
class RedeployedOut(TypedDict):
    deployments: list[DeploymentOut]


@with_config(CLOSED)
class RotationErrorOut(TypedDict):
    code: str
    message: str


@with_config(CLOSED)
class RotationOut(TypedDict):
    """A rotation request (R of CONTRACT.md 5.3); absent values are null."""

    id: str
    resourceId: str
    status: Literal["pending", "completed", "failed"]
    reason: str | None
    delayOldSecretsExpirationHours: float | None
    requestedAt: int
    requestedBy: str | None
    completedAt: int | None
    version: int | None
    error: RotationErrorOut | None


@with_config(CLOSED)
class RotationAnswerOut(TypedDict):
    rotation: RotationOut


@with_config(CLOSED)
class RotationsOut(TypedDict):
    rotations: list[RotationOut]


@with_config(CLOSED)
class JwkOut(TypedDict):
    kty: Literal["RSA"]
    kid: str
    alg: Literal["RS256"]
    use: Literal["sig"]
    n: str
    e: str


@with_config(CLOSED)
class JwksOut(TypedDict):
    keys: list[JwkOut]


@with_config(CLOSED)
class OpenIdConfigurationOut(TypedDict):
    issuer: str
    jwks_uri: str
