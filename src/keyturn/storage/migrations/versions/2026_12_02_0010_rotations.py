"""Rotation requests (CONTRACT.md 5.3) and the key keyturn signs partner tokens with.

`rotations` keeps every request of a resource with its outcome, numbered 1, 2, 3 ... per
resource (the order of the listing, whatever the clock says). At most one is pending per
resource: a partial unique index says so in the database itself, so two owners asking at once
on PostgreSQL cannot both get one, whatever the code above does. `signing_keys` holds the RSA
key sealed with the master key; the key is made on first use, not here (a migration holds no
master key).

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rotations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("delay_hours", sa.Float(), nullable=True),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=True),
        sa.Column("deadline_at", sa.BigInteger(), nullable=False),
        sa.Column("completed_at", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.internal_id"],
            name="fk_rotations_resource_id_resources",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rotations"),
        sa.UniqueConstraint("resource_id", "number", name="uq_rotations_resource_id_number"),
    )
    op.create_index(
        "uq_rotations_one_pending",
        "rotations",
        ["resource_id"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("private_key_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_index("uq_rotations_one_pending", table_name="rotations")
    op.drop_table("rotations")
