"""Wire shapes of `POST /v1/admin/seed` (CONTRACT.md 7): the fixture in, the world out.

The fixture's items are the bodies of the routes they stand for (1, 2.2, 3.1, 3.2) plus the
ids that link them; the answer is the same lists with every id and token filled in.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from keyturn.domain.accounts import PartnerSettings
from keyturn.domain.envkeys import ENVIRONMENTS, in_standard_order
from keyturn.domain.resources import MAX_PARTNER_ID_LENGTH
from keyturn.domain.secrets import MAX_NAME_LENGTH
from keyturn.http.wire import (
    EnvironmentName,
    EventTypes,
    PartnerUrl,
    ResourceImportIn,
    WireModel,
)
from keyturn.http.wire_out import (
    EnvironmentName as EnvironmentOut,
)
from keyturn.http.wire_out import (
    OwnershipName,
    ProductOut,
    StatusName,
)
from keyturn.services.connections import ConnectionRequest
from keyturn.services.seed import (
    ConnectionSeed,
    Fixture,
    InstallationSeed,
    IntegrationSeed,
    ProductSeed,
    ProjectSeed,
    ResourceSeed,
    SeededWorld,
    TeamSeed,
    TokenSeed,
)

SLUG = r"^[a-z0-9][a-z0-9-]{0,99}$"
# A given client secret: what keyturn makes (CONTRACT.md 1), 32 or more of [A-Za-z0-9].
BASE62_32_OR_MORE = r"^[A-Za-z0-9]{32,256}$"
CLOSED = ConfigDict(extra="forbid")


class TokenSeedIn(WireModel):
    token: str | None = Field(default=None, repr=False)
    name: str | None = Field(default=None, min_length=1, max_length=256)


class TeamSeedIn(WireModel):
    id: str | None = None
    slug: str = Field(pattern=SLUG)
    name: str | None = Field(default=None, min_length=1, max_length=256)
    tokens: list[TokenSeedIn] | None = None

    def to_seed(self) -> TeamSeed:
        return TeamSeed(
            id=self.id,
            slug=self.slug,
            name=self.name,
            tokens=tuple(TokenSeed(token=t.token, name=t.name) for t in self.tokens or ()),
        )


class ProductSeedIn(WireModel):
    id: str | None = None
    slug: str = Field(pattern=SLUG)
    name: str | None = Field(default=None, min_length=1, max_length=256)


class IntegrationSeedIn(WireModel):
    id: str | None = None
    slug: str = Field(pattern=SLUG)
    name: str | None = Field(default=None, min_length=1, max_length=256)
    clientSecret: str | None = Field(default=None, pattern=BASE62_32_OR_MORE, repr=False)
    baseUrl: PartnerUrl | None = None
    webhookUrl: PartnerUrl | None = None
    events: EventTypes | None = None
    products: list[ProductSeedIn] = Field(min_length=1)

    def to_seed(self) -> IntegrationSeed:
        return IntegrationSeed(
            id=self.id,
            slug=self.slug,
            name=self.name,
            products=tuple(ProductSeed(id=p.id, slug=p.slug, name=p.name) for p in self.products),
            client_secret=self.clientSecret,
            settings=PartnerSettings(
                base_url=self.baseUrl,
                webhook_url=self.webhookUrl,
                events=tuple(self.events or ()),
            ),
        )


class InstallationSeedIn(WireModel):
    id: str | None = None
    teamId: str = Field(min_length=1)
    integration: str = Field(min_length=1)
    accessToken: str | None = Field(default=None, repr=False)

    def to_seed(self) -> InstallationSeed:
        return InstallationSeed(
            id=self.id,
            team_id=self.teamId,
            integration=self.integration,
            access_token=self.accessToken,
        )


class ResourceSeedIn(ResourceImportIn):
    """An import body (2.2) with the installation it belongs to and the partner's id."""

    installationId: str = Field(min_length=1)
    id: str = Field(min_length=1, max_length=MAX_PARTNER_ID_LENGTH)

    def to_seed(self) -> ResourceSeed:
        return ResourceSeed(
            installation_id=self.installationId,
            partner_id=self.id,
            fields=self.fields(),
            secrets=None if self.secrets is None else tuple(s.to_domain() for s in self.secrets),
        )


class ProjectSeedIn(WireModel):
    id: str | None = None
    teamId: str = Field(min_length=1)
    name: str

    def to_seed(self) -> ProjectSeed:
        return ProjectSeed(id=self.id, team_id=self.teamId, name=self.name)


class ConnectionSeedIn(WireModel):
    installationId: str = Field(min_length=1)
    resourceId: str = Field(min_length=1)
    projectId: str = Field(min_length=1)
    envVarEnvironments: list[EnvironmentName] | None = Field(default=None, min_length=1)
    envVarPrefix: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    makeEnvVarsSensitive: bool | None = None

    def to_seed(self) -> ConnectionSeed:
        return ConnectionSeed(
            installation_id=self.installationId,
            resource_id=self.resourceId,
            request=ConnectionRequest(
                project_ref=self.projectId,
                environments=in_standard_order(self.envVarEnvironments or ENVIRONMENTS),
                env_var_prefix=self.envVarPrefix,
                make_sensitive=bool(self.makeEnvVarsSensitive),
            ),
        )


class SeedIn(WireModel):
    """Body of `POST /v1/admin/seed`; every list may be left out."""

    teams: list[TeamSeedIn] | None = None
    integrations: list[IntegrationSeedIn] | None = None
    installations: list[InstallationSeedIn] | None = None
    resources: list[ResourceSeedIn] | None = None
    projects: list[ProjectSeedIn] | None = None
    connections: list[ConnectionSeedIn] | None = None

    def to_fixture(self) -> Fixture:
        return Fixture(
            teams=tuple(item.to_seed() for item in self.teams or ()),
            integrations=tuple(item.to_seed() for item in self.integrations or ()),
            installations=tuple(item.to_seed() for item in self.installations or ()),
            resources=tuple(item.to_seed() for item in self.resources or ()),
            projects=tuple(item.to_seed() for item in self.projects or ()),
            connections=tuple(item.to_seed() for item in self.connections or ()),
        )


@with_config(CLOSED)
class SeededTokenOut(TypedDict):
    id: str
    name: str
    token: str


@with_config(CLOSED)
class SeededTeamOut(TypedDict):
    id: str
    slug: str
    name: str
    tokens: list[SeededTokenOut]


@with_config(CLOSED)
class SeededIntegrationOut(TypedDict):
    id: str
    slug: str
    name: str
    products: list[ProductOut]
    clientId: str
    clientSecret: str
    baseUrl: str | None
    webhookUrl: str | None
    events: list[str]


@with_config(CLOSED)
class SeededInstallationOut(TypedDict):
    id: str
    teamId: str
    integrationId: str
    accessToken: str


@with_config(CLOSED)
class SeededResourceOut(TypedDict):
    installationId: str
    id: str
    internalId: str
    name: str
    status: StatusName
    productId: str
    ownership: OwnershipName | None
    metadata: dict[str, Any] | None
    secretsVersion: int
    secretNames: list[str]


@with_config(CLOSED)
class SeededProjectOut(TypedDict):
    id: str
    teamId: str
    name: str
    accountId: str
    createdAt: int
    updatedAt: int


@with_config(CLOSED)
class SeededConnectionOut(TypedDict):
    id: str
    installationId: str
    resourceId: str
    projectId: str
    envVarEnvironments: list[EnvironmentOut]
    envVarPrefix: str | None
    makeEnvVarsSensitive: bool
    createdAt: int


@with_config(CLOSED)
class SeedOut(TypedDict):
    teams: list[SeededTeamOut]
    integrations: list[SeededIntegrationOut]
    installations: list[SeededInstallationOut]
    resources: list[SeededResourceOut]
    projects: list[SeededProjectOut]
    connections: list[SeededConnectionOut]


def seed_answer(world: SeededWorld) -> SeedOut:
    return {
        "teams": [
            {
                "id": seeded.team.id,
                "slug": seeded.team.slug,
                "name": seeded.team.name,
                "tokens": [
                    {"id": token.id, "name": token.name, "token": token.token}
                    for token in seeded.tokens
                ],
            }
            for seeded in world.teams
        ],
        "integrations": [
            {
                "id": seeded.integration.id,
                "slug": seeded.integration.slug,
                "name": seeded.integration.name,
                "products": [
                    {"id": product.id, "slug": product.slug, "name": product.name}
                    for product in seeded.integration.products
                ],
                "clientId": seeded.integration.id,
                "clientSecret": seeded.client_secret,
                "baseUrl": seeded.integration.base_url,
                "webhookUrl": seeded.integration.webhook_url,
                "events": list(seeded.integration.events),
            }
            for seeded in world.integrations
        ],
        "installations": [
            {
                "id": seeded.installation.id,
                "teamId": seeded.installation.team_id,
                "integrationId": seeded.installation.integration_id,
                "accessToken": seeded.access_token,
            }
            for seeded in world.installations
        ],
        "resources": [
            {
                "installationId": seeded.installation_id,
                "id": seeded.view.resource.partner_id,
                "internalId": seeded.view.resource.internal_id,
                "name": seeded.view.resource.name,
                "status": seeded.view.resource.status,
                "productId": seeded.view.resource.product_id,
                "ownership": seeded.view.resource.ownership,
                "metadata": seeded.view.resource.metadata,
                "secretsVersion": seeded.view.resource.secrets_version,
                "secretNames": list(seeded.view.secret_names),
            }
            for seeded in world.resources
        ],
        "projects": [
            {
                "id": project.id,
                "teamId": project.team_id,
                "name": project.name,
                "accountId": project.team_id,
                "createdAt": project.created_at,
                "updatedAt": project.updated_at,
            }
            for project in world.projects
        ],
        "connections": [
            {
                "id": seeded.connection.id,
                "installationId": seeded.installation_id,
                "resourceId": seeded.resource_id,
                "projectId": seeded.connection.project_id,
                "envVarEnvironments": list(seeded.connection.environments),
                "envVarPrefix": seeded.connection.env_var_prefix,
                "makeEnvVarsSensitive": seeded.connection.make_sensitive,
                "createdAt": seeded.connection.created_at,
            }
            for seeded in world.connections
        ],
    }
