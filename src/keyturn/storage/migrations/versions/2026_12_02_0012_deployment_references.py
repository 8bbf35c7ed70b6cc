"""A deployment's copied variables sealed once, in its own row, instead of one sealed row each.

Since revision 0003 a deployment references the secrets versions it was built with and copies
only what cannot be derived: its users' own variables (and, for a deployment made before 0003
whose connection was gone, what that resource gave it). Those copies lived in `deployment_env`,
one row and one AES-GCM seal per key, each with its primary-key entry. Now they are one sealed
JSON list of [key, type, value] in `deployments.copied_env_ciphertext` (NULL when there are
none), so a deployment's storage is its row and one reference per connected resource.

Moving the values means opening and sealing them, which needs the master key: the caller
hands the key ring to the run (`keyturn.storage.migrate.upgrade(engine, keys)`; `keyturn db
upgrade` and `keyturn serve` pass the configured keys). A database with copied rows and no
key is refused before anything changes. Each value is opened with the associated data it was
sealed with and sealed again for the deployment, so what every deployment pulls is unchanged.
The downgrade splits them back into rows the same way.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from itertools import groupby

import sqlalchemy as sa
from alembic import context, op

from keyturn.storage.encryption import KeyRing

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None

# The tables as this revision knows them, so later schema changes cannot change what it does.
deployments = sa.table(
    "deployments",
    sa.column("id", sa.String),
    sa.column("copied_env_ciphertext", sa.LargeBinary),
)
deployment_env = sa.table(
    "deployment_env",
    sa.column("deployment_id", sa.String),
    sa.column("key", sa.String),
    sa.column("type", sa.String),
    sa.column("value_ciphertext", sa.LargeBinary),
)


# The associated data of both forms, as this revision knows them.
def _row_identity(deployment_id: str, key: str) -> str:
    return f"deployment-env/{deployment_id}/{key}"


def _copied_identity(deployment_id: str) -> str:
    return f"deployment-copied-env/{deployment_id}"


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(deployment_env).order_by(deployment_env.c.deployment_id, deployment_env.c.key)
    ).all()
    keys = _keys(len(rows), "copied variable rows to seal into their deployments") if rows else None
    # Plain ALTER TABLE, not batch mode: a batch would rebuild `deployments`, and dropping the
    # old table breaks the foreign keys of its references with SQLite's foreign key checks on.
    # SQLite adds (and, since 3.35, drops) columns in place.
    op.add_column(
        "deployments", sa.Column("copied_env_ciphertext", sa.LargeBinary(), nullable=True)
    )
    if keys is not None:
        for deployment_id, copied in groupby(rows, key=lambda row: row.deployment_id):
            listed = [
                [
                    row.key,
                    row.type,
                    keys.open(
                        row.value_ciphertext, associated_data=_row_identity(deployment_id, row.key)
                    ),
                ]
                for row in copied
            ]
            connection.execute(
                deployments.update()
                .where(deployments.c.id == deployment_id)
                .values(
                    copied_env_ciphertext=keys.seal(
                        json.dumps(listed, separators=(",", ":"), ensure_ascii=False),
                        associated_data=_copied_identity(deployment_id),
                    )
                )
            )
    op.drop_table("deployment_env")


def downgrade() -> None:
    connection = op.get_bind()
    sealed = connection.execute(
        sa.select(deployments.c.id, deployments.c.copied_env_ciphertext)
        .where(deployments.c.copied_env_ciphertext.is_not(None))
        .order_by(deployments.c.id)
    ).all()
    keys = _keys(len(sealed), "deployments whose copied variables to split") if sealed else None
    op.create_table(
        "deployment_env",
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("value_ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_env_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("deployment_id", "key", name=op.f("pk_deployment_env")),
    )
    if keys is not None:
        for deployment_id, blob in sealed:
            listed = json.loads(keys.open(blob, associated_data=_copied_identity(deployment_id)))
            connection.execute(
                deployment_env.insert(),
                [
                    {
                        "deployment_id": deployment_id,
                        "key": key,
                        "type": kind,
                        "value_ciphertext": keys.seal(
                            value, associated_data=_row_identity(deployment_id, key)
                        ),
                    }
                    for key, kind, value in listed
                ],
            )
    op.drop_column("deployments", "copied_env_ciphertext")


def _keys(count: int, what: str) -> KeyRing:
    """The key ring the run was handed; refused, before any change, when it was handed none."""
    keys = context.config.attributes.get("keys")
    if not isinstance(keys, KeyRing):
        raise RuntimeError(
            f"revision 0012 has {count} {what}, which needs the master key; run "
            "`keyturn db upgrade` (or `keyturn serve`) with the master key configured"
        )
    return keys
