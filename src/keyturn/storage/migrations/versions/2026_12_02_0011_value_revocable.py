"""Values announced safe to revoke (CONTRACT.md 6.1 `resource.secrets.value-revocable`), and
an index for a destination's newest deliveries (the dashboard's page of a webhook).

`revocable_values` holds one row per value (resource, name, `fromVersion`) once it has become
safe to revoke (5.2): the event is emitted in the transaction that inserts the row, and the
primary key makes a second announcement of the same value impossible, whatever the code above
does. Values already safe to revoke when this revision runs are recorded with `announced_at`
NULL: they became so before keyturn announced anything, and announcing them now, long after the
fact, would tell receivers something that is not news.

Revision ID: 0011
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = 64

# The values as the ledger reads them (rows of `resource_secrets`, `valid_to` exclusive) and
# the references of live deployments; written out so the revision never changes with the code.
resource_secrets = sa.table(
    "resource_secrets",
    sa.column("resource_id"),
    sa.column("name"),
    sa.column("valid_from"),
    sa.column("valid_to"),
)
used = sa.table(
    "deployment_secrets_versions", sa.column("resource_id"), sa.column("secrets_version")
)


def upgrade() -> None:
    revocable = op.create_table(
        "revocable_values",
        sa.Column("resource_id", sa.String(ID), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("announced_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.internal_id"],
            name="fk_revocable_values_resource_id_resources",
        ),
        sa.PrimaryKeyConstraint("resource_id", "name", "from_version", name="pk_revocable_values"),
    )
    in_use = (
        sa.select(sa.literal(1))
        .where(
            used.c.resource_id == resource_secrets.c.resource_id,
            used.c.secrets_version >= resource_secrets.c.valid_from,
            used.c.secrets_version < resource_secrets.c.valid_to,
        )
        .exists()
    )
    op.execute(
        sa.insert(revocable).from_select(
            ["resource_id", "name", "from_version", "to_version"],
            sa.select(
                resource_secrets.c.resource_id,
                resource_secrets.c.name,
                resource_secrets.c.valid_from,
                resource_secrets.c.valid_to - 1,
            ).where(resource_secrets.c.valid_to.is_not(None), ~in_use),
        )
    )

    op.create_index(
        "ix_deliveries_destination",
        "deliveries",
        ["destination_kind", "destination_id", "event_seq"],
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_destination", table_name="deliveries")
    op.drop_table("revocable_values")
