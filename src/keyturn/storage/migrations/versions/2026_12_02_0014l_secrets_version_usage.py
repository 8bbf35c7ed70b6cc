"""The usage ledger's counts per resource and secrets version, kept instead of joined.

Until now the ledger counted a version's live and serving deployments by joining each of the
resource's env snapshots to its deployments: one index probe per snapshot, which grew with
the number of snapshots a version's deployments name (10,000 deployments over 5,000
snapshots). `secrets_version_usage` keeps those counts, and bounds of the deployments'
creation times, per (resource, version), in the transaction of every change
(repositories/version_usage.py). The upgrade fills it from the deployments there are, exactly
as the join counted them; the downgrade drops it.

Revision ID: 0014l
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014l"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "secrets_version_usage",
        sa.Column("resource_id", sa.String(ID), nullable=False),
        sa.Column("secrets_version", sa.Integer(), nullable=False),
        sa.Column("live", sa.Integer(), nullable=False),
        sa.Column("serving", sa.Integer(), nullable=False),
        sa.Column("newest_at", sa.BigInteger(), nullable=False),
        sa.Column("oldest_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.internal_id"],
            name="fk_secrets_version_usage_resource_id_resources",
        ),
        sa.PrimaryKeyConstraint("resource_id", "secrets_version", name="pk_secrets_version_usage"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO secrets_version_usage"
        " (resource_id, secrets_version, live, serving, newest_at, oldest_at)"
        " SELECT e.resource_id, e.secrets_version, count(*),"
        " sum(CASE WHEN d.serving THEN 1 ELSE 0 END), max(d.created_at), min(d.created_at)"
        " FROM env_snapshot_versions AS e"
        " JOIN deployments AS d ON d.env_snapshot_id = e.snapshot_id"
        " GROUP BY e.resource_id, e.secrets_version"
    )


def downgrade() -> None:
    op.drop_table("secrets_version_usage")
