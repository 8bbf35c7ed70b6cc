"""Events and webhooks (CONTRACT.md 6): the outbox `events` with the installations each
involves, team `webhooks` (secrets sealed), and one `deliveries` row per event and destination.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("project_id", sa.String(ID), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("id", name="uq_events_id"),
    )
    op.create_index("ix_events_team_id_seq", "events", ["team_id", "seq"])
    op.create_table(
        "event_installations",
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("installation_id", sa.String(ID), nullable=False),
        sa.PrimaryKeyConstraint("installation_id", "event_seq", name="pk_event_installations"),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["events.seq"], name="fk_event_installations_event_seq_events"
        ),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("project_ids", sa.JSON, nullable=True),
        sa.Column("secret_ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_webhooks_team_id_teams"),
    )
    op.create_index("ix_webhooks_team_id", "webhooks", ["team_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("destination_kind", sa.String(16), nullable=False),
        sa.Column("destination_id", sa.String(ID), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["event_seq"], ["events.seq"], name="fk_deliveries_event_seq_events"
        ),
    )
    op.create_index("ix_deliveries_event_seq", "deliveries", ["event_seq"])
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.drop_index("ix_deliveries_event_seq", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_webhooks_team_id", table_name="webhooks")
    op.drop_table("webhooks")
    op.drop_table("event_installations")
    op.drop_index("ix_events_team_id_seq", table_name="events")
    op.drop_table("events")
