"""Secrets versions record what made them (CONTRACT.md 5.1 `source`, `rotationId`) and, for a
version completing a rotation request with a delay, how long the values it supersedes stay
valid (5.2 `expiresAt`).

Versions written before this revision came from a 2.1 update, an import or a patch; the
database does not say which, so they read as `update`, the seed endpoint's source.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("secrets_versions") as batch:
        batch.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default=sa.text("'update'"))
        )
        batch.add_column(sa.Column("rotation_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("superseded_expire_after_ms", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("secrets_versions") as batch:
        batch.drop_column("superseded_expire_after_ms")
        batch.drop_column("rotation_id")
        batch.drop_column("source")
