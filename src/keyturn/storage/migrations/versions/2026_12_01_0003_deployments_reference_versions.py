"""Deployments reference the secrets versions they use instead of copying the derived env;
three indexes for the name-adding conflict check (a resource's connections by prefix, user
variables by key, current secrets by name).

Each `deployment_secrets_versions` row gains the connection's shape at the deployment's moment
(prefix, environments, sensitivity); with the immutable secrets version it already names, that
derives the resource's part of the deployment's env on every read. `deployment_env` then keeps
only what cannot be derived: the users' own variables.

Existing deployments are converted where the data proves the conversion. A deployment made
under 0002 copied, per referenced resource, exactly what the connection derived from that
version in the deployment's target. The shape of that connection is known when the connection
still exists and is older than the deployment (connections are never edited, only removed),
and the conversion is checked: every key and type the shape derives from the version's names
must be among the deployment's copied rows. Those rows are then deleted and the reference
gets the shape. Otherwise (the connection was removed, or replaced after the deployment) the
database no longer says what the shape was, so the reference keeps no environments and its
copied rows stay: that deployment pulls exactly what it pulled before, either way. Values are
never read here (the migration has no key): secrets rows of a version never change, so the
derived values are the ones that were copied.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic import op

from keyturn.domain.envkeys import derive_env_key, env_var_type

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SHAPE_FLAGS = ("in_production", "in_preview", "in_development", "make_sensitive")
ENVIRONMENTS = ("production", "preview", "development")

# The tables as this revision knows them, so later schema changes cannot change what it does.
deployments = sa.table(
    "deployments",
    sa.column("id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("target", sa.String),
    sa.column("created_at", sa.BigInteger),
)
references = sa.table(
    "deployment_secrets_versions",
    sa.column("deployment_id", sa.String),
    sa.column("resource_id", sa.String),
    sa.column("secrets_version", sa.Integer),
    sa.column("env_var_prefix", sa.String),
    *(sa.column(flag, sa.Boolean) for flag in SHAPE_FLAGS),
)
connections = sa.table(
    "connections",
    sa.column("resource_id", sa.String),
    sa.column("project_id", sa.String),
    sa.column("created_at", sa.BigInteger),
    sa.column("env_var_prefix", sa.String),
    *(sa.column(flag, sa.Boolean) for flag in SHAPE_FLAGS),
)
resource_secrets = sa.table(
    "resource_secrets",
    sa.column("resource_id", sa.String),
    sa.column("name", sa.String),
    sa.column("prefix", sa.String),
    sa.column("valid_from", sa.Integer),
    sa.column("valid_to", sa.Integer),
)
deployment_env = sa.table(
    "deployment_env",
    sa.column("deployment_id", sa.String),
    sa.column("key", sa.String),
    sa.column("type", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("deployment_secrets_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("env_var_prefix", sa.String(length=256), nullable=True))
        for flag in SHAPE_FLAGS:
            # False until converted: a reference with no environments derives nothing.
            batch_op.add_column(
                sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false())
            )
    _convert_existing_deployments(op.get_bind())
    with op.batch_alter_table("deployment_secrets_versions", schema=None) as batch_op:
        for flag in SHAPE_FLAGS:
            batch_op.alter_column(flag, existing_type=sa.Boolean(), server_default=None)
    # For the name-adding conflict check: a resource's distinct connection prefixes, and the
    # candidates found by key and by name.
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_connections_resource_id_prefix", ["resource_id", "env_var_prefix"], unique=False
        )
    with op.batch_alter_table("user_env_vars", schema=None) as batch_op:
        batch_op.create_index("ix_user_env_vars_key", ["key"], unique=False)
    with op.batch_alter_table("resource_secrets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resource_secrets_current_name",
            ["name"],
            unique=False,
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )


def downgrade() -> None:
    connection = op.get_bind()
    derived = connection.execute(
        sa.select(sa.func.count())
        .select_from(references)
        .where(sa.or_(*(references.c[f"in_{e}"] for e in ENVIRONMENTS)))
    ).scalar_one()
    if derived:
        # Copying the derived env back needs the master key, which migrations never hold.
        raise RuntimeError(
            f"{derived} deployment references derive their env; revision 0002 would need "
            "their values copied, which a migration cannot do. Restore the backup taken "
            "before upgrading instead."
        )
    with op.batch_alter_table("resource_secrets", schema=None) as batch_op:
        batch_op.drop_index("ix_resource_secrets_current_name")
    with op.batch_alter_table("user_env_vars", schema=None) as batch_op:
        batch_op.drop_index("ix_user_env_vars_key")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index("ix_connections_resource_id_prefix")
    with op.batch_alter_table("deployment_secrets_versions", schema=None) as batch_op:
        for column in ("env_var_prefix", *SHAPE_FLAGS):
            batch_op.drop_column(column)


def _convert_existing_deployments(connection: sa.Connection) -> None:
    candidates = connection.execute(
        sa.select(
            references.c.deployment_id,
            references.c.resource_id,
            references.c.secrets_version,
            deployments.c.target,
            connections.c.env_var_prefix,
            *(connections.c[flag] for flag in SHAPE_FLAGS),
        )
        .join(deployments, deployments.c.id == references.c.deployment_id)
        .join(
            connections,
            sa.and_(
                connections.c.resource_id == references.c.resource_id,
                connections.c.project_id == deployments.c.project_id,
                connections.c.created_at <= deployments.c.created_at,
            ),
        )
        .order_by(references.c.deployment_id, references.c.resource_id)
    ).all()
    names: dict[tuple[str, int], list[tuple[str, str | None]]] = {}
    copied: dict[str, dict[str, str]] = {}
    for row in candidates:
        version = (row.resource_id, row.secrets_version)
        if version not in names:
            names[version] = _names_at(connection, *version)
        if row.deployment_id not in copied:
            rows = connection.execute(
                sa.select(deployment_env.c.key, deployment_env.c.type).where(
                    deployment_env.c.deployment_id == row.deployment_id
                )
            )
            copied[row.deployment_id] = {copy.key: copy.type for copy in rows}
        frozen = copied[row.deployment_id]
        derived = _derived_types(row, names[version])
        if derived is None or any(frozen.get(key) != kind for key, kind in derived.items()):
            continue  # not provably this connection's env: the copied rows stay
        connection.execute(
            references.update()
            .where(
                references.c.deployment_id == row.deployment_id,
                references.c.resource_id == row.resource_id,
            )
            .values(env_var_prefix=row.env_var_prefix, **{f: row._mapping[f] for f in SHAPE_FLAGS})
        )
        if derived:
            connection.execute(
                deployment_env.delete().where(
                    deployment_env.c.deployment_id == row.deployment_id,
                    deployment_env.c.key.in_(sorted(derived)),
                )
            )
        for key in derived:
            del frozen[key]


def _names_at(
    connection: sa.Connection, resource_id: str, version: int
) -> list[tuple[str, str | None]]:
    """(name, prefix) of the resource's secrets in `version`."""
    rows = connection.execute(
        sa.select(resource_secrets.c.name, resource_secrets.c.prefix).where(
            resource_secrets.c.resource_id == resource_id,
            resource_secrets.c.valid_from <= version,
            sa.or_(resource_secrets.c.valid_to.is_(None), resource_secrets.c.valid_to > version),
        )
    )
    return [(name, prefix) for name, prefix in rows]


def _derived_types(row: Any, names: Iterable[tuple[str, str | None]]) -> dict[str, str] | None:
    """{key: type} the connection derived in the deployment's target; None if it derived
    nothing there (then it was not the connection the deployment was built with)."""
    if not row._mapping[f"in_{row.target}"]:
        return None
    derived: dict[str, str] = {}
    for name, prefix in names:
        key = derive_env_key(name, prefix, row.env_var_prefix)
        if key in derived:
            return None  # two secrets on one key: leave such a deployment as it is
        derived[key] = env_var_type(key, row.target, make_sensitive=row.make_sensitive)
    return derived
