"""`keyturn serve --demo`: a team, an integration, a resource with a secret and a project
connected to it, seeded once and reused.

Running it again finds what is there and only issues fresh tokens (old ones stay valid):
tokens are stored as digests, so the first ones cannot be printed again. The resource's
secrets are written only when it is created, so a rotation tried earlier is not undone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keyturn.domain.accounts import Installation, PartnerSettings, Product, Project, Team
from keyturn.domain.resources import ResourceFields
from keyturn.domain.secrets import Secret
from keyturn.services import bootstrap, projects, resources
from keyturn.services.connections import ConnectionRequest, connect_resource
from keyturn.services.context import ServiceContext
from keyturn.services.secrets import SecretsUpdate

TEAM_SLUG = "demo"
INTEGRATION_SLUG = "acme-db"
PRODUCT_SLUG = "postgres"
PROJECT_NAME = "demo-app"
RESOURCE_ID = "demo-db"
# The secret the demo resource starts with; `make demo`'s commands then rotate it.
INITIAL_SECRET = Secret(name="DATABASE_URL", value="postgres://demo:one@db.example/demo")


@dataclass(frozen=True)
class DemoSeed:
    team: Team
    product: Product
    installation: Installation
    project: Project
    resource_id: str
    user_token: str = field(repr=False)
    integration_token: str = field(repr=False)


def seed_demo(ctx: ServiceContext) -> DemoSeed:
    with ctx.store.read() as uow:
        team = uow.accounts.team_by_slug(TEAM_SLUG)
        integration = uow.accounts.integration_by_id_or_slug(INTEGRATION_SLUG)
    if team is None:
        team = bootstrap.create_team(ctx, TEAM_SLUG, "Demo team")
    if integration is None:
        integration = bootstrap.create_integration(
            ctx,
            INTEGRATION_SLUG,
            "Acme DB",
            [(PRODUCT_SLUG, "Acme Postgres")],
            PartnerSettings(),
        ).integration
    with ctx.store.read() as uow:
        installation = uow.accounts.first_installation(team.id, integration.id)
        project = uow.projects.by_name(team.id, PROJECT_NAME)
    if installation is None:
        installation = bootstrap.create_installation(ctx, team.id, integration.id).installation
    if project is None:
        project = projects.create_project(ctx, team.id, PROJECT_NAME)
    product = integration.products[0]
    with ctx.store.read() as uow:
        resource = uow.resources.live(installation.id, RESOURCE_ID)
    resources.import_resource(
        ctx,
        installation.id,
        RESOURCE_ID,
        ResourceFields(product_id=product.id, name="Demo database", status="ready"),
        secrets=SecretsUpdate((INITIAL_SECRET,)) if resource is None else None,
    )
    with ctx.store.read() as uow:
        resource = uow.resources.live(installation.id, RESOURCE_ID)
        connected = resource is not None and (
            uow.connections.get(resource.internal_id, project.id) is not None
        )
    if not connected:
        # All three environments: the demo's commands pull production and deploy to it.
        connect_resource(
            ctx, team.id, installation.id, RESOURCE_ID, ConnectionRequest(project_ref=project.id)
        )
    return DemoSeed(
        team=team,
        product=product,
        installation=installation,
        project=project,
        resource_id=RESOURCE_ID,
        user_token=bootstrap.create_user_token(ctx, team.id, "demo").token,
        integration_token=bootstrap.issue_installation_token(ctx, installation.id).token,
    )
