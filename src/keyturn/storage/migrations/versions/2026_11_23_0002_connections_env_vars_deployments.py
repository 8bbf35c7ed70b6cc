"""Connections, user env vars, deployments with their frozen env and secrets versions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("git_branch", sa.String(length=256), nullable=True),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_deployments_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deployments_project_id_created_at", ["project_id", "created_at"], unique=False
        )

    op.create_table(
        "user_env_vars",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("in_production", sa.Boolean(), nullable=False),
        sa.Column("in_preview", sa.Boolean(), nullable=False),
        sa.Column("in_development", sa.Boolean(), nullable=False),
        sa.Column("git_branch", sa.String(length=256), nullable=True),
        sa.Column("value_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_user_env_vars_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_env_vars")),
    )
    with op.batch_alter_table("user_env_vars", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_env_vars_project_id_key", ["project_id", "key"], unique=False
        )

    op.create_table(
        "connections",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("in_production", sa.Boolean(), nullable=False),
        sa.Column("in_preview", sa.Boolean(), nullable=False),
        sa.Column("in_development", sa.Boolean(), nullable=False),
        sa.Column("env_var_prefix", sa.String(length=256), nullable=True),
        sa.Column("make_sensitive", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_connections_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.internal_id"],
            name=op.f("fk_connections_resource_id_resources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint(
            "resource_id", "project_id", name=op.f("uq_connections_resource_id_project_id")
        ),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index("ix_connections_project_id", ["project_id"], unique=False)

    op.create_table(
        "deployment_env",
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("value_ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_env_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("deployment_id", "key", name=op.f("pk_deployment_env")),
    )
    op.create_table(
        "deployment_secrets_versions",
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("secrets_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_secrets_versions_deployment_id_deployments"),
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.internal_id"],
            name=op.f("fk_deployment_secrets_versions_resource_id_resources"),
        ),
        sa.PrimaryKeyConstraint(
            "deployment_id", "resource_id", name=op.f("pk_deployment_secrets_versions")
        ),
    )
    with op.batch_alter_table("deployment_secrets_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deployment_secrets_versions_resource",
            ["resource_id", "secrets_version"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("deployment_secrets_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_deployment_secrets_versions_resource")

    op.drop_table("deployment_secrets_versions")
    op.drop_table("deployment_env")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index("ix_connections_project_id")

    op.drop_table("connections")
    with op.batch_alter_table("user_env_vars", schema=None) as batch_op:
        batch_op.drop_index("ix_user_env_vars_project_id_key")

    op.drop_table("user_env_vars")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index("ix_deployments_project_id_created_at")

    op.drop_table("deployments")
