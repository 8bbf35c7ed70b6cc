"""The usage ledger's indexes: deployment references carry their deployment's `created_at` and
whether it is still the newest of its project, target and git branch (`serving`).

`GET .../secrets/usage` counts, per secrets version of one resource, the live deployments that
use it and how many of them serve, and lists the newest ones. With the deployment's creation
time and its serving flag on the reference row, one index
(`resource_id, secrets_version, created_at, deployment_id, serving`) answers all of it without
reading a deployment row: the counts are an index-only aggregate and the newest ids of a
version are the first entries of its range. A deployment never changes, so `created_at` is a
plain copy; `serving` is kept by the deployment writes (`DeploymentRepository`), and set here
from the data for existing deployments. The history (`.../secrets/versions`) finds a version's
new rows by `(resource_id, valid_from)`.

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None

deployments = sa.table(
    "deployments",
    sa.column("id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("target", sa.String),
    sa.column("git_branch", sa.String),
    sa.column("created_at", sa.BigInteger),
)
references = sa.table(
    "deployment_secrets_versions",
    sa.column("deployment_id", sa.String),
    sa.column("created_at", sa.BigInteger),
    sa.column("serving", sa.Boolean),
)


def upgrade() -> None:
    with op.batch_alter_table("deployment_secrets_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("created_at", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("serving", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    connection = op.get_bind()
    owner = deployments.alias("owner")
    connection.execute(
        sa.update(references).values(
            created_at=sa.select(owner.c.created_at)
            .where(owner.c.id == references.c.deployment_id)
            .scalar_subquery()
        )
    )
    # Newest of its group: no deployment of the same project, target and branch is newer
    # (created later, or in the same millisecond with a greater id: the ledger's order).
    newer = deployments.alias("newer")
    connection.execute(
        sa.update(references)
        .where(
            sa.exists().where(
                owner.c.id == references.c.deployment_id,
                ~sa.exists().where(
                    newer.c.project_id == owner.c.project_id,
                    newer.c.target == owner.c.target,
                    newer.c.git_branch.is_not_distinct_from(owner.c.git_branch),
                    sa.tuple_(newer.c.created_at, newer.c.id)
                    > sa.tuple_(owner.c.created_at, owner.c.id),
                ),
            )
        )
        .values(serving=True)
    )
    with op.batch_alter_table("deployment_secrets_versions", schema=None) as batch_op:
        batch_op.alter_column("created_at", existing_type=sa.BigInteger(), server_default=None)
        batch_op.alter_column("serving", existing_type=sa.Boolean(), server_default=None)
        batch_op.drop_index("ix_deployment_secrets_versions_resource")
        batch_op.create_index(
            "ix_deployment_secrets_versions_usage",
            ["resource_id", "secrets_version", "created_at", "deployment_id", "serving"],
            unique=False,
        )
    with op.batch_alter_table("resource_secrets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resource_secrets_valid_from", ["resource_id", "valid_from"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("resource_secrets", schema=None) as batch_op:
        batch_op.drop_index("ix_resource_secrets_valid_from")
    with op.batch_alter_table("deployment_secrets_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_deployment_secrets_versions_usage")
        batch_op.create_index(
            "ix_deployment_secrets_versions_resource",
            ["resource_id", "secrets_version"],
            unique=False,
        )
        batch_op.drop_column("serving")
        batch_op.drop_column("created_at")
