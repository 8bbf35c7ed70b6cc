"""The schema, as SQLAlchemy Core tables (the migrations create exactly this).

Integration env vars are not stored per project or per deployment: they are derived when read
from connections (or a deployment's record of them) and `resource_secrets`, whose rows carry
the version range in which they hold (`valid_from` inclusive, `valid_to` exclusive, NULL while
current). A partial update therefore writes one row per changed secret and history costs
nothing extra.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

# Named constraints, so that migrations (and SQLite batch mode) can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ID = 64  # Vercel-shaped ids: a short prefix and random base62 characters.

teams = Table(
    "teams",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("slug", String(100), nullable=False, unique=True),
    Column("name", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

integrations = Table(
    "integrations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("slug", String(100), nullable=False, unique=True),
    Column("name", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # The partner's API (rotation requests, CONTRACT.md 5.3) and webhook receiver (6.2).
    Column("base_url", String(2048), nullable=True),
    Column("webhook_url", String(2048), nullable=True),
    # keyturn event types the partner asked for besides Vercel's (6.1), a JSON list.
    Column("events", JSON, nullable=False, server_default=text("'[]'")),
    # Sealed, not hashed: keyturn signs webhooks with it. NULL for integrations made before
    # revision 0006 until an admin makes one.
    Column("client_secret_ciphertext", LargeBinary, nullable=True),
)

products = Table(
    "products",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("integration_id", String(ID), ForeignKey("integrations.id"), nullable=False),
    Column("slug", String(100), nullable=False),
    Column("name", String(256), nullable=False),
    UniqueConstraint("integration_id", "slug"),
)

installations = Table(
    "installations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("team_id", String(ID), ForeignKey("teams.id"), nullable=False),
    Column("integration_id", String(ID), ForeignKey("integrations.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Bearer tokens, stored as SHA-256 digests: a leaked database does not leak a usable token.
tokens = Table(
    "tokens",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(16), nullable=False),  # "user" or "integration"
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("team_id", String(ID), ForeignKey("teams.id"), nullable=False),
    Column("installation_id", String(ID), ForeignKey("installations.id"), nullable=True),
    Column("name", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    # Set only on tokens made by credentials/rotate (CONTRACT.md 8); NULL never expires.
    Column("expires_at", BigInteger, nullable=True),
)

projects = Table(
    "projects",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("team_id", String(ID), ForeignKey("teams.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("team_id", "name"),
)

resources = Table(
    "resources",
    metadata,
    Column("internal_id", String(ID), primary_key=True),
    Column("installation_id", String(ID), ForeignKey("installations.id"), nullable=False),
    Column("partner_id", String(256), nullable=False),  # the partner's own resourceId
    Column("product_id", String(ID), ForeignKey("products.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("status", String(32), nullable=False),
    Column("ownership", String(32), nullable=True),
    Column("metadata", JSON, nullable=True),
    Column("billing_plan", JSON, nullable=True),
    Column("notification", JSON, nullable=True),
    Column("extras", JSON, nullable=True),
    # The current secrets version; 0 until the first secrets are written.
    Column("secrets_version", Integer, nullable=False, server_default=text("0")),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # Deleted resources stay, so that deployments keep pointing at the versions they used.
    Column("deleted_at", BigInteger, nullable=True),
    # HMAC of the current version's whole secret set, written with `secrets_version` by the
    # same statement (ResourceRepository.record_secrets_version); NULL when not known.
    # Hex, not binary: every binary column is a sealed one (storage/sealed_columns.py).
    Column("secrets_digest", String(64), nullable=True),
    # One live resource per partner id and installation; a deleted one may be imported again.
    Index(
        "uq_resources_live_partner_id",
        "installation_id",
        "partner_id",
        unique=True,
        sqlite_where=text("deleted_at IS NULL"),
        postgresql_where=text("deleted_at IS NULL"),
    ),
)

secrets_versions = Table(
    "secrets_versions",
    metadata,
    Column("resource_id", String(ID), ForeignKey("resources.internal_id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # What made the version (CONTRACT.md 5.1): update, import, patch, rotation or rollback.
    Column("source", String(16), nullable=False, server_default=text("'update'")),
    # The rotation request (5.3) this version completed; null unless `source` is rotation.
    Column("rotation_id", String(ID), nullable=True),
    # Set when that rotation gave `delayOldSecretsExpirationHours`: the values this version
    # supersedes expire `created_at` + this many milliseconds later (5.2 `expiresAt`).
    Column("superseded_expire_after_ms", BigInteger, nullable=True),
    PrimaryKeyConstraint("resource_id", "version"),
)

resource_secrets = Table(
    "resource_secrets",
    metadata,
    Column("resource_id", String(ID), ForeignKey("resources.internal_id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("valid_from", Integer, nullable=False),
    Column("valid_to", Integer, nullable=True),
    Column("prefix", String(256), nullable=True),
    # AES-256-GCM ciphertexts (see encryption.py); overrides as one sealed JSON object.
    Column("value_ciphertext", LargeBinary, nullable=False),
    Column("overrides_ciphertext", LargeBinary, nullable=True),
    PrimaryKeyConstraint("resource_id", "name", "valid_from"),
    Index("ix_resource_secrets_current", "resource_id", "valid_to"),
    # A version's new rows, for the history (`.../secrets/versions`).
    Index("ix_resource_secrets_valid_from", "resource_id", "valid_from"),
    # Current secrets by name: a PUT adding a key looks up only the secrets that could clash.
    Index(
        "ix_resource_secrets_current_name",
        "name",
        sqlite_where=text("valid_to IS NULL"),
        postgresql_where=text("valid_to IS NULL"),
    ),
)

# The values announced safe to revoke (`resource.secrets.value-revocable`, CONTRACT.md 6.1):
# one row per value of `resource_secrets`, inserted with its event, so each is announced once.
# `announced_at` NULL: safe to revoke already when revision 0011 ran, and never announced.
revocable_values = Table(
    "revocable_values",
    metadata,
    Column("resource_id", String(ID), ForeignKey("resources.internal_id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("from_version", Integer, nullable=False),
    Column("to_version", Integer, nullable=False),
    Column("announced_at", BigInteger, nullable=True),
    PrimaryKeyConstraint("resource_id", "name", "from_version"),
)

# A project's link to a resource; the project's integration env vars are derived from it.
connections = Table(
    "connections",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("resource_id", String(ID), ForeignKey("resources.internal_id"), nullable=False),
    Column("project_id", String(ID), ForeignKey("projects.id"), nullable=False),
    Column("in_production", Boolean, nullable=False),
    Column("in_preview", Boolean, nullable=False),
    Column("in_development", Boolean, nullable=False),
    Column("env_var_prefix", String(256), nullable=True),
    Column("make_sensitive", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("resource_id", "project_id"),
    Index("ix_connections_project_id", "project_id"),
    # A resource's distinct prefixes in a seek each (ConnectionRepository.prefixes_of_resource).
    Index("ix_connections_resource_id_prefix", "resource_id", "env_var_prefix"),
)

# The variables a project's users set themselves (integration ones are derived, never stored).
user_env_vars = Table(
    "user_env_vars",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id"), nullable=False),
    Column("key", String(256), nullable=False),
    Column("type", String(16), nullable=False),
    Column("in_production", Boolean, nullable=False),
    Column("in_preview", Boolean, nullable=False),
    Column("in_development", Boolean, nullable=False),
    Column("git_branch", String(256), nullable=True),
    Column("value_ciphertext", LargeBinary, nullable=False),
    Column("comment", String(500), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_user_env_vars_project_id_key", "project_id", "key"),
    # By key alone: a PUT adding a key looks up only the variables that could clash.
    Index("ix_user_env_vars_key", "key"),
)

# What a deployment derives its env from (repositories/deployments.py): per connected resource,
# the secrets version and the connection's shape when it was made. Versions are immutable, so a
# snapshot is too, and the deployments that saw the same resources at the same versions through
# connections of the same shape share one, whatever their project (a snapshot names resources,
# never a project or a value): it is found by `digest`, the SHA-256 of its entries. A project
# that deploys without a change in between stores one snapshot for all its deployments; one
# that deploys after every rotation, one per deployment.
env_snapshots = Table(
    "env_snapshots",
    metadata,
    # An integer, not a random id: each of its entries and each deployment repeat it.
    Column("id", Integer, primary_key=True),
    # Hex, not bytes: every binary column of the schema is a sealed one.
    Column("digest", String(64), nullable=False, unique=True),
)

# A snapshot's entries. A deployment made before revision 0003 whose connection was gone by
# then has no environments here: its copied variables hold what that resource gave it.
env_snapshot_versions = Table(
    "env_snapshot_versions",
    metadata,
    Column("snapshot_id", Integer, ForeignKey("env_snapshots.id"), nullable=False),
    Column("resource_id", String(ID), ForeignKey("resources.internal_id"), nullable=False),
    Column("secrets_version", Integer, nullable=False),
    Column("env_var_prefix", String(256), nullable=True),
    Column("in_production", Boolean, nullable=False),
    Column("in_preview", Boolean, nullable=False),
    Column("in_development", Boolean, nullable=False),
    Column("make_sensitive", Boolean, nullable=False),
    PrimaryKeyConstraint("snapshot_id", "resource_id"),
    # The usage ledger's way in: a resource's snapshots by version.
    Index("ix_env_snapshot_versions_usage", "resource_id", "secrets_version", "snapshot_id"),
    # SQLite: the rows live in their primary key's b-tree, not in a second copy beside it.
    sqlite_with_rowid=False,
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("project_id", String(ID), ForeignKey("projects.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("target", String(16), nullable=False),
    Column("git_branch", String(256), nullable=True),
    Column("url", String(300), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # The variables copied when it was created, sealed once as one JSON list of
    # [key, type, value] (repositories/deployments.py): its users' own variables as they were
    # (they are edited in place, unlike secrets), and, for a deployment made before revision
    # 0003 whose connection was gone by then, what that resource gave it. NULL when there are
    # none. Nothing later changes it.
    Column("copied_env_ciphertext", LargeBinary, nullable=True),
    # What its derived env comes from; NULL when no resource was connected for its target.
    Column("env_snapshot_id", Integer, ForeignKey("env_snapshots.id"), nullable=True),
    # Whether it is still the newest deployment of its project, target and git branch (by
    # `created_at`, then id), for the usage ledger; kept by DeploymentRepository. The one
    # column that changes, and in no index, so that on PostgreSQL the change is a HOT update.
    Column("serving", Boolean, nullable=False),
    Index("ix_deployments_project_id_created_at", "project_id", "created_at"),
    # The usage ledger's way from a snapshot to its deployments, newest last.
    Index("ix_deployments_env_snapshot_id", "env_snapshot_id", "created_at", "id"),
)

# The usage ledger's counts per resource and secrets version (repositories/version_usage.py):
# how many live deployments use it, how many of those serve, and bounds of their creation
# times (`newest_at` no older than the newest, `oldest_at` no newer than the oldest; a delete
# leaves them). Kept in the transaction of every change to a deployment's life or `serving`, so
# that the ledger reads one row per version instead of joining each snapshot to its
# deployments. A version no live deployment uses has no row.
secrets_version_usage = Table(
    "secrets_version_usage",
    metadata,
    Column("resource_id", String(ID), ForeignKey("resources.internal_id"), nullable=False),
    Column("secrets_version", Integer, nullable=False),
    Column("live", Integer, nullable=False),
    Column("serving", Integer, nullable=False),
    Column("newest_at", BigInteger, nullable=False),
    Column("oldest_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("resource_id", "secrets_version"),
    sqlite_with_rowid=False,
)

# Rotation requests (CONTRACT.md 5.3): `resource_id` is the internal id. At most one pending
# per resource, by the partial unique index, so racing owners cannot both start one.
rotations = Table(
    "rotations",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("resource_id", String(ID), ForeignKey("resources.internal_id"), nullable=False),
    # 1, 2, 3 ... per resource, in the order of the requests: the listing's order.
    Column("number", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # pending, completed or failed
    Column("reason", Text, nullable=True),
    Column("delay_hours", Float, nullable=True),
    Column("requested_at", BigInteger, nullable=False),
    Column("requested_by", String(ID), nullable=True),
    # When a pending rotation stops waiting: requested_at + KEYTURN_ROTATION_TIMEOUT_H.
    Column("deadline_at", BigInteger, nullable=False),
    Column("completed_at", BigInteger, nullable=True),
    Column("version", Integer, nullable=True),
    Column("error_code", String(100), nullable=True),
    Column("error_message", Text, nullable=True),
    UniqueConstraint("resource_id", "number"),
    Index(
        "uq_rotations_one_pending",
        "resource_id",
        unique=True,
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

# The RSA key partner tokens are signed with (5.3), sealed with the master key. One row: the
# first process that needs a key makes it, under a lock, and every other reads that one.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_key_ciphertext", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Idempotency keys (CONTRACT.md 5.6): one row per key, scope, method and path, under the digest
# of the four (`domain.idempotency.record_id`), so the primary key is the uniqueness that makes
# two processes agree on who runs a key. `status` is NULL while the first request runs; then
# `expires_at` is its claim's lease, afterwards the end of the answer's retention. The request's
# fingerprint and the kept answer (which may hold secret values) are one sealed JSON object.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("claim", String(32), nullable=False),
    Column("status", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("record_ciphertext", LargeBinary, nullable=False),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)

# The outbox (CONTRACT.md 6.1): one row per event, written in the transaction of its change.
# `seq` orders events as they committed: the database numbers them as they are inserted, under
# a lock held until the commit (repositories/events.py), so the feed's cursor never skips one
# committed late. `id` is the opaque `evt_` id clients see.
events = Table(
    "events",
    metadata,
    # SQLite: INTEGER PRIMARY KEY, its rowid; PostgreSQL: BIGSERIAL, whose sequence ignores the
    # transaction's snapshot (a max(seq) + 1 would not: a REPEATABLE READ unit would miss the
    # events committed since its snapshot began).
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    # Unique, so an event's links and deliveries find its seq by it in their own inserts.
    Column("id", String(ID), nullable=False, unique=True),
    Column("type", String(100), nullable=False),
    Column("team_id", String(ID), nullable=False),
    Column("project_id", String(ID), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # The whole event as delivered ({id, type, createdAt, region, payload}): names, never values.
    Column("body", JSON, nullable=False),
    Index("ix_events_team_id_seq", "team_id", "seq"),
)

# Which installations an event involves: the feed of an integration token reads these.
event_installations = Table(
    "event_installations",
    metadata,
    Column("event_seq", BigInteger, ForeignKey("events.seq"), nullable=False),
    Column("installation_id", String(ID), nullable=False),
    PrimaryKeyConstraint("installation_id", "event_seq"),
)

# Team webhooks (6.3); the secret is sealed, not hashed: keyturn signs deliveries with it.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("team_id", String(ID), ForeignKey("teams.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("events", JSON, nullable=False),
    # NULL: every project of the team; else a JSON list of project ids.
    Column("project_ids", JSON, nullable=True),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_webhooks_team_id", "team_id"),
)

# One row per event and destination (6.4). A worker claims a due row by moving its
# `next_attempt_at` past the attempt's timeout (a lease), in the transaction that counts the
# attempt, so a crashed worker's attempt becomes due again and no two workers send one attempt.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("event_seq", BigInteger, ForeignKey("events.seq"), nullable=False),
    Column("destination_kind", String(16), nullable=False),  # "integration" or "webhook"
    Column("destination_id", String(ID), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("status", String(16), nullable=False),  # "pending", "delivered" or "failed"
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("delivered_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_deliveries_event_seq", "event_seq"),
    # A destination's newest deliveries (the dashboard's page of a webhook).
    Index("ix_deliveries_destination", "destination_kind", "destination_id", "event_seq"),
    # The worker's one query: pending rows by due time.
    Index(
        "ix_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)
