"""A resource's secrets, stored once per version range and sealed with the key ring.

A row holds from `valid_from` (inclusive) to `valid_to` (exclusive; NULL while current). Writing
version N closes the rows of changed and removed names at N and inserts rows for changed and
added names from N: O(changed secrets) rows, whatever else refers to the resource.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from keyturn.domain.resources import Resource
from keyturn.domain.secrets import Secret, SecretSetChange
from keyturn.storage.encryption import KeyRing
from keyturn.storage.tables import resource_secrets


class SecretRepository:
    def __init__(self, connection: Connection, keys: KeyRing) -> None:
        self._connection = connection
        self._keys = keys

    def current(self, resource: Resource) -> dict[str, Secret]:
        """The resource's secrets in its current version, decrypted."""
        rows = self._connection.execute(
            select(resource_secrets).where(
                resource_secrets.c.resource_id == resource.internal_id,
                resource_secrets.c.valid_to.is_(None),
            )
        ).all()
        return {row.name: self._unseal(resource, row) for row in rows}

    def current_names(self, resource: Resource) -> list[str]:
        """The names of the current secrets, without decrypting anything."""
        return list(
            self._connection.execute(
                select(resource_secrets.c.name)
                .where(
                    resource_secrets.c.resource_id == resource.internal_id,
                    resource_secrets.c.valid_to.is_(None),
                )
                .order_by(resource_secrets.c.name)
            ).scalars()
        )

    def write_version(
        self,
        resource: Resource,
        version: int,
        change: SecretSetChange,
        secrets: Mapping[str, Secret],
    ) -> None:
        """Store `version`: close superseded rows and add one row per written secret."""
        superseded = change.changed | change.removed
        if superseded:
            self._connection.execute(
                update(resource_secrets)
                .where(
                    resource_secrets.c.resource_id == resource.internal_id,
                    resource_secrets.c.valid_to.is_(None),
                    resource_secrets.c.name.in_(sorted(superseded)),
                )
                .values(valid_to=version)
            )
        if change.written:
            self._connection.execute(
                insert(resource_secrets),
                [
                    self._sealed_row(resource, version, secrets[name])
                    for name in sorted(change.written)
                ],
            )

    def _sealed_row(self, resource: Resource, version: int, secret: Secret) -> dict[str, Any]:
        overrides = dict(secret.environment_overrides)
        return {
            "resource_id": resource.internal_id,
            "name": secret.name,
            "valid_from": version,
            "valid_to": None,
            "prefix": secret.prefix,
            "value_ciphertext": self._keys.seal(
                secret.value, associated_data=_row_identity(resource, secret.name, version, "value")
            ),
            "overrides_ciphertext": self._keys.seal(
                json.dumps(overrides, sort_keys=True),
                associated_data=_row_identity(resource, secret.name, version, "overrides"),
            )
            if overrides
            else None,
        }

    def _unseal(self, resource: Resource, row: Row[Any]) -> Secret:
        value = self._keys.open(
            row.value_ciphertext,
            associated_data=_row_identity(resource, row.name, row.valid_from, "value"),
        )
        overrides: dict[str, str] = {}
        if row.overrides_ciphertext is not None:
            overrides = json.loads(
                self._keys.open(
                    row.overrides_ciphertext,
                    associated_data=_row_identity(resource, row.name, row.valid_from, "overrides"),
                )
            )
        return Secret(
            name=row.name, value=value, prefix=row.prefix, environment_overrides=overrides
        )


def _row_identity(resource: Resource, name: str, version: int, field: str) -> str:
    """Associated data binding a ciphertext to its row: moved elsewhere, it will not open."""
    return f"secret/{resource.installation_id}/{resource.internal_id}/{name}/{version}/{field}"
