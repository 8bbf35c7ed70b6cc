"""Tokens may expire (CONTRACT.md 8): an installation access token made by
`credentials/rotate` lives `KEYTURN_ACCESS_TOKEN_TTL_S`; tokens made before this revision, and
every token the admin API makes, have no expiry (NULL).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("expires_at")
