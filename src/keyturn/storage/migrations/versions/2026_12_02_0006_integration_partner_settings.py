"""Integrations gain what keyturn needs to call and notify their partner (CONTRACT.md 1):
`base_url` (where rotation requests go, 5.3), `webhook_url` and `events` (6.2), and the client
secret that signs webhooks, sealed with the master key like every other secret because keyturn
must read it back to sign.

Integrations that exist before this revision have no client secret (the migration holds no
key to seal one with); `POST /v1/admin/integrations/{idOrSlug}/secret` makes one.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not batch mode: a batch would rebuild `integrations`, and dropping the
    # old table breaks the foreign keys of `products` and `installations` with SQLite's foreign
    # key checks on. SQLite adds (and, since 3.35, drops) columns in place.
    op.add_column("integrations", sa.Column("base_url", sa.String(2048), nullable=True))
    op.add_column("integrations", sa.Column("webhook_url", sa.String(2048), nullable=True))
    op.add_column(
        "integrations",
        sa.Column("events", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.add_column(
        "integrations", sa.Column("client_secret_ciphertext", sa.LargeBinary(), nullable=True)
    )


def downgrade() -> None:
    for column in ("client_secret_ciphertext", "events", "webhook_url", "base_url"):
        op.drop_column("integrations", column)
