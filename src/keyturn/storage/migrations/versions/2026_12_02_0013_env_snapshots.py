"""Deployments share their references: one immutable env snapshot per project and content.

Until now each deployment wrote one `deployment_secrets_versions` row per connected resource
(its secrets version and the connection's shape), each with two index entries and a copy of
the deployment's creation time and serving flag, and every new deployment set its
predecessor's rows' `serving` to false (on PostgreSQL 20 dead tuples and their index entries
per deployment). Now the references are a snapshot (`env_snapshots`, entries in
`env_snapshot_versions`) shared by every deployment that saw the same entries, found by the
SHA-256 of its entries (`digest`); a deployment names its snapshot
(`deployments.env_snapshot_id`) and carries `serving` itself, one column in no index.

Nothing is opened or sealed: each deployment's entries move into the snapshot with the same
digest, so what every deployment pulls is unchanged, and `serving` is set from
the data as revision 0005 set it (no newer deployment of the same project, target and branch).
The downgrade writes each deployment's entries back as rows of its own.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = 64
ENTRY_COLUMNS = (
    "resource_id",
    "secrets_version",
    "env_var_prefix",
    "in_production",
    "in_preview",
    "in_development",
    "make_sensitive",
)

# The tables as this revision knows them, so later schema changes cannot change what it does.
deployments = sa.table(
    "deployments",
    sa.column("id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("target", sa.String),
    sa.column("git_branch", sa.String),
    sa.column("created_at", sa.BigInteger),
    sa.column("env_snapshot_id", sa.Integer),
    sa.column("serving", sa.Boolean),
)
references = sa.table(
    "deployment_secrets_versions",
    sa.column("deployment_id", sa.String),
    *(sa.column(name) for name in ENTRY_COLUMNS),
    sa.column("created_at", sa.BigInteger),
    sa.column("serving", sa.Boolean),
)
snapshots = sa.table(
    "env_snapshots",
    sa.column("id", sa.Integer),
    sa.column("digest", sa.String),
)
entries = sa.table(
    "env_snapshot_versions", sa.column("snapshot_id", sa.Integer), *map(sa.column, ENTRY_COLUMNS)
)


def _digest(listed: list[tuple[Any, ...]]) -> str:
    """The snapshot's address as this revision computes it: SHA-256 of its entries, each as
    [resource_id, version, prefix, production, preview, development, sensitive], by resource."""
    canonical = [[*row[:3], *(bool(flag) for flag in row[3:])] for row in sorted(listed)]
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


def upgrade() -> None:
    connection = op.get_bind()
    op.create_table(
        "env_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_env_snapshots"),
        sa.UniqueConstraint("digest", name="uq_env_snapshots_digest"),
    )
    op.create_table(
        "env_snapshot_versions",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(ID), nullable=False),
        sa.Column("secrets_version", sa.Integer(), nullable=False),
        sa.Column("env_var_prefix", sa.String(256), nullable=True),
        sa.Column("in_production", sa.Boolean(), nullable=False),
        sa.Column("in_preview", sa.Boolean(), nullable=False),
        sa.Column("in_development", sa.Boolean(), nullable=False),
        sa.Column("make_sensitive", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["env_snapshots.id"],
            name="fk_env_snapshot_versions_snapshot_id_env_snapshots",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.internal_id"],
            name="fk_env_snapshot_versions_resource_id_resources",
        ),
        sa.PrimaryKeyConstraint("snapshot_id", "resource_id", name="pk_env_snapshot_versions"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_env_snapshot_versions_usage",
        "env_snapshot_versions",
        ["resource_id", "secrets_version", "snapshot_id"],
    )
    listed: dict[str, list[tuple[Any, ...]]] = {}
    for row in connection.execute(sa.select(references.c.deployment_id, *entry_columns())):
        listed.setdefault(row[0], []).append(tuple(row[1:]))
    owners = connection.execute(
        sa.select(
            deployments.c.id,
            deployments.c.project_id,
            deployments.c.target,
            deployments.c.git_branch,
            deployments.c.created_at,
        )
    ).all()
    # Nothing else references `deployments` once the old rows are gone, so SQLite's batch mode
    # may rebuild it (with the old table in place its foreign keys would refuse the drop).
    op.drop_table("deployment_secrets_versions")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("env_snapshot_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("serving", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_foreign_key(
            "fk_deployments_env_snapshot_id_env_snapshots",
            "env_snapshots",
            ["env_snapshot_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_deployments_env_snapshot_id", ["env_snapshot_id", "created_at", "id"]
        )
    newest: dict[tuple[str, str, str | None], tuple[int, str]] = {}
    for deployment_id, project_id, target, git_branch, created_at in owners:
        group = (project_id, target, git_branch)
        newest[group] = max(
            newest.get(group, (created_at, deployment_id)), (created_at, deployment_id)
        )
    serving = {deployment_id for _, deployment_id in newest.values()}
    snapshot_ids: dict[str, int] = {}
    changes = []
    for deployment_id, *_ in owners:
        snapshot_id = None
        if deployment_id in listed:
            address = _digest(listed[deployment_id])
            if address not in snapshot_ids:
                snapshot_ids[address] = connection.execute(
                    sa.insert(snapshots).values(digest=address).returning(snapshots.c.id)
                ).scalar_one()
                connection.execute(
                    sa.insert(entries),
                    [
                        {
                            "snapshot_id": snapshot_ids[address],
                            **dict(zip(ENTRY_COLUMNS, row, strict=True)),
                        }
                        for row in listed[deployment_id]
                    ],
                )
            snapshot_id = snapshot_ids[address]
        changes.append(
            {"the_id": deployment_id, "snapshot": snapshot_id, "now": deployment_id in serving}
        )
    if changes:
        connection.execute(
            sa.update(deployments)
            .where(deployments.c.id == sa.bindparam("the_id"))
            .values(env_snapshot_id=sa.bindparam("snapshot"), serving=sa.bindparam("now")),
            changes,
        )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.alter_column("serving", existing_type=sa.Boolean(), server_default=None)


def entry_columns() -> list[sa.ColumnClause[Any]]:
    return [references.c[name] for name in ENTRY_COLUMNS]


def downgrade() -> None:
    connection = op.get_bind()
    owned = connection.execute(
        sa.select(
            deployments.c.id,
            deployments.c.created_at,
            deployments.c.serving,
            deployments.c.env_snapshot_id,
        ).where(deployments.c.env_snapshot_id.is_not(None))
    ).all()
    by_snapshot: dict[int, list[tuple[Any, ...]]] = {}
    for row in connection.execute(
        sa.select(entries.c.snapshot_id, *(entries.c[name] for name in ENTRY_COLUMNS))
    ):
        by_snapshot.setdefault(row[0], []).append(tuple(row[1:]))
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index("ix_deployments_env_snapshot_id")
        batch_op.drop_constraint("fk_deployments_env_snapshot_id_env_snapshots", type_="foreignkey")
        batch_op.drop_column("serving")
        batch_op.drop_column("env_snapshot_id")
    op.create_table(
        "deployment_secrets_versions",
        sa.Column("deployment_id", sa.String(ID), nullable=False),
        sa.Column("resource_id", sa.String(ID), nullable=False),
        sa.Column("secrets_version", sa.Integer(), nullable=False),
        sa.Column("env_var_prefix", sa.String(256), nullable=True),
        sa.Column("in_production", sa.Boolean(), nullable=False),
        sa.Column("in_preview", sa.Boolean(), nullable=False),
        sa.Column("in_development", sa.Boolean(), nullable=False),
        sa.Column("make_sensitive", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("serving", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_deployment_secrets_versions_deployment_id_deployments",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.internal_id"],
            name="fk_deployment_secrets_versions_resource_id_resources",
        ),
        sa.PrimaryKeyConstraint(
            "deployment_id", "resource_id", name="pk_deployment_secrets_versions"
        ),
    )
    op.create_index(
        "ix_deployment_secrets_versions_usage",
        "deployment_secrets_versions",
        ["resource_id", "secrets_version", "created_at", "deployment_id", "serving"],
    )
    rows = [
        {
            "deployment_id": deployment_id,
            **dict(zip(ENTRY_COLUMNS, entry, strict=True)),
            "created_at": created_at,
            "serving": serving,
        }
        for deployment_id, created_at, serving, snapshot_id in owned
        for entry in by_snapshot.get(snapshot_id, [])
    ]
    if rows:
        connection.execute(sa.insert(references), rows)
    op.drop_table("env_snapshot_versions")
    op.drop_table("env_snapshots")
