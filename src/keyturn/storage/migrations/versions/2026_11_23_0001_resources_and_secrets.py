"""Teams, integrations, installations, tokens, projects, resources and versioned secrets.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("slug", name="uq_teams_slug"),
    )
    op.create_table(
        "integrations",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integrations"),
        sa.UniqueConstraint("slug", name="uq_integrations_slug"),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("integration_id", sa.String(ID), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.ForeignKeyConstraint(
            ["integration_id"], ["integrations.id"], name="fk_products_integration_id_integrations"
        ),
        sa.UniqueConstraint("integration_id", "slug", name="uq_products_integration_id_slug"),
    )
    op.create_table(
        "installations",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("integration_id", sa.String(ID), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_installations"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_installations_team_id_teams"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_installations_integration_id_integrations",
        ),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("installation_id", sa.String(ID), nullable=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_tokens_token_hash"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_tokens_team_id_teams"),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name="fk_tokens_installation_id_installations",
        ),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_projects_team_id_teams"),
        sa.UniqueConstraint("team_id", "name", name="uq_projects_team_id_name"),
    )
    op.create_table(
        "resources",
        sa.Column("internal_id", sa.String(ID), nullable=False),
        sa.Column("installation_id", sa.String(ID), nullable=False),
        sa.Column("partner_id", sa.String(256), nullable=False),
        sa.Column("product_id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("ownership", sa.String(32), nullable=True),
        sa.Column("metadata", sa.JSON, nullable=True),
        sa.Column("billing_plan", sa.JSON, nullable=True),
        sa.Column("notification", sa.JSON, nullable=True),
        sa.Column("extras", sa.JSON, nullable=True),
        sa.Column("secrets_version", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("deleted_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("internal_id", name="pk_resources"),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name="fk_resources_installation_id_installations",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_resources_product_id_products"
        ),
    )
    op.create_index(
        "uq_resources_live_partner_id",
        "resources",
        ["installation_id", "partner_id"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "secrets_versions",
        sa.Column("resource_id", sa.String(ID), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "version", name="pk_secrets_versions"),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.internal_id"],
            name="fk_secrets_versions_resource_id_resources",
        ),
    )
    op.create_table(
        "resource_secrets",
        sa.Column("resource_id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("valid_from", sa.Integer, nullable=False),
        sa.Column("valid_to", sa.Integer, nullable=True),
        sa.Column("prefix", sa.String(256), nullable=True),
        sa.Column("value_ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("overrides_ciphertext", sa.LargeBinary, nullable=True),
        sa.PrimaryKeyConstraint("resource_id", "name", "valid_from", name="pk_resource_secrets"),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.internal_id"],
            name="fk_resource_secrets_resource_id_resources",
        ),
    )
    op.create_index("ix_resource_secrets_current", "resource_secrets", ["resource_id", "valid_to"])


def downgrade() -> None:
    op.drop_index("ix_resource_secrets_current", table_name="resource_secrets")
    op.drop_table("resource_secrets")
    op.drop_table("secrets_versions")
    op.drop_index("uq_resources_live_partner_id", table_name="resources")
    op.drop_table("resources")
    op.drop_table("projects")
    op.drop_table("tokens")
    op.drop_table("installations")
    op.drop_table("products")
    op.drop_table("integrations")
    op.drop_table("teams")
