"""Bulk-inserted deployments, written as `DeploymentRepository.add` writes them: each names
the env snapshot with the same references, made once, and carries its own `serving` flag, and
the usage ledger's counts per version add them. The ledger's and dashboard's benchmarks seed
thousands of deployments this way, because that many deployment requests would take longer
than what they measure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert

from keyturn.domain.deployments import SecretsVersionUsed
from keyturn.storage.repositories.deployments import (
    ENTRY_COLUMNS,
    snapshot_digest,
    snapshot_entries,
)
from keyturn.storage.repositories.version_usage import add_counts
from keyturn.storage.tables import deployments, env_snapshot_versions, env_snapshots


def insert_deployments(
    connection: Connection,
    rows: Sequence[dict[str, Any]],
    references: Mapping[str, Sequence[SecretsVersionUsed]],
) -> None:
    """Insert `rows` (deployments without `env_snapshot_id`, `serving` included) and the
    snapshots of their `references` ({deployment id: what it used}), one per content."""
    addresses: dict[str, list[tuple[Any, ...]]] = {}
    address_of: dict[str, str] = {}
    counts: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        used = references.get(row["id"], ())
        for reference in used:
            key = (reference.resource_id, reference.secrets_version)
            counted = counts.setdefault(
                key,
                {
                    "resource_id": key[0],
                    "secrets_version": key[1],
                    "live": 0,
                    "serving": 0,
                    "newest_at": row["created_at"],
                    "oldest_at": row["created_at"],
                },
            )
            counted["live"] += 1
            counted["serving"] += int(row["serving"])
            counted["newest_at"] = max(counted["newest_at"], row["created_at"])
            counted["oldest_at"] = min(counted["oldest_at"], row["created_at"])
        if used:
            entries = snapshot_entries(used)
            address = snapshot_digest(entries)
            addresses.setdefault(address, entries)
            address_of[row["id"]] = address
    ordered = list(addresses)
    snapshot_ids: dict[str, int] = {}
    if ordered:
        made = connection.execute(
            insert(env_snapshots).returning(env_snapshots.c.id, sort_by_parameter_order=True),
            [{"digest": digest} for digest in ordered],
        ).scalars()
        snapshot_ids = dict(zip(ordered, made, strict=True))
        connection.execute(
            insert(env_snapshot_versions),
            [
                {
                    "snapshot_id": snapshot_ids[address],
                    **dict(zip(ENTRY_COLUMNS, entry, strict=True)),
                }
                for address, entries in addresses.items()
                for entry in entries
            ],
        )
    connection.execute(
        insert(deployments),
        [
            {**row, "env_snapshot_id": snapshot_ids.get(address_of.get(row["id"], ""))}
            for row in rows
        ],
    )
    add_counts(connection, counts.values())
