"""Resources gain `secrets_digest`: an HMAC of the current version's whole secret set.

A secrets PUT that sends the set the resource already holds (a partner's periodic sync) changes
nothing; with the digest it can tell so without reading and opening every stored value. The
digest is keyed with the master key, which this revision does not hold, so existing resources
start with NULL ("not known"): their next PUT compares the values in full and records it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not batch mode: a batch would rebuild `resources`, which many tables
    # reference (see 0006). SQLite adds (and, since 3.35, drops) columns in place.
    op.add_column("resources", sa.Column("secrets_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("resources", "secrets_digest")
