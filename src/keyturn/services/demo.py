"""`keyturn serve --demo`: the data of CONTRACT.md section 1, seeded once and reused.

Running it again finds what is there and only issues fresh tokens (old ones stay valid):
tokens are stored as digests, so the first ones cannot be printed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keyturn.domain.accounts import Installation, Product, Project, Team
from keyturn.domain.resources import ResourceFields
from keyturn.services import bootstrap, projects, resources
from keyturn.storage.unit_of_work import Store

TEAM_SLUG = "demo"
INTEGRATION_SLUG = "acme-db"
PRODUCT_SLUG = "postgres"
PROJECT_NAME = "demo-app"
RESOURCE_ID = "demo-db"


@dataclass(frozen=True)
class DemoSeed:
    team: Team
    product: Product
    installation: Installation
    project: Project
    resource_id: str
    user_token: str = field(repr=False)
    integration_token: str = field(repr=False)


def seed_demo(store: Store) -> DemoSeed:
    with store.read() as uow:
        team = uow.accounts.team_by_slug(TEAM_SLUG)
        integration = uow.accounts.integration_by_id_or_slug(INTEGRATION_SLUG)
    if team is None:
        team = bootstrap.create_team(store, TEAM_SLUG, "Demo team")
    if integration is None:
        integration = bootstrap.create_integration(
            store, INTEGRATION_SLUG, "Acme DB", [(PRODUCT_SLUG, "Acme Postgres")]
        )
    with store.read() as uow:
        installation = uow.accounts.first_installation(team.id, integration.id)
        project = uow.projects.by_name(team.id, PROJECT_NAME)
    if installation is None:
        installation = bootstrap.create_installation(store, team.id, integration.id).installation
    if project is None:
        project = projects.create_project(store, team.id, PROJECT_NAME)
    product = integration.products[0]
    resources.import_resource(
        store,
        installation.id,
        RESOURCE_ID,
        ResourceFields(product_id=product.id, name="Demo database", status="ready"),
        secrets=None,
    )
    return DemoSeed(
        team=team,
        product=product,
        installation=installation,
        project=project,
        resource_id=RESOURCE_ID,
        user_token=bootstrap.create_user_token(store, team.id, "demo").token,
        integration_token=bootstrap.issue_installation_token(store, installation.id).token,
    )
