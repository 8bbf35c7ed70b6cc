"""A resource's secrets, stored once per version range and sealed with the key ring.

A row holds from `valid_from` (inclusive) to `valid_to` (exclusive; NULL while current). Writing
version N closes the rows of changed and removed names at N and inserts rows for changed and
added names from N: O(changed secrets) rows, whatever else refers to the resource.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, or_, select, update

from keyturn.domain.environment import SecretValues
from keyturn.domain.resources import Resource
from keyturn.domain.secrets import Secret, SecretSetChange
from keyturn.storage.encryption import KeyRing
from keyturn.storage.repositories.batches import BATCH_SIZE, batches
from keyturn.storage.tables import resource_secrets, resources

# What derivation reads of a secret row, in `_values`'s order.
VALUE_COLUMNS = (
    resource_secrets.c.resource_id,
    resource_secrets.c.name,
    resource_secrets.c.valid_from,
    resource_secrets.c.prefix,
    resource_secrets.c.value_ciphertext,
    resource_secrets.c.overrides_ciphertext,
)
NO_OVERRIDES: Mapping[str, str] = MappingProxyType({})

# SQLite refuses expressions nested deeper than 1,000: an `OR` of this many terms stays clear.
MAX_OR_TERMS = 200


class SecretRepository:
    def __init__(self, connection: Connection, keys: KeyRing) -> None:
        self._connection = connection
        self._keys = keys

    def current(self, resource: Resource) -> dict[str, Secret]:
        """The resource's secrets in its current version, decrypted."""
        found = self.current_of({resource.internal_id: resource.installation_id})
        return found.get(resource.internal_id, {})

    def current_of(
        self, installations_by_resource: Mapping[str, str]
    ) -> dict[str, dict[str, Secret]]:
        """Current secrets of several resources in one query: {internal id: {name: secret}}.

        Takes each resource's installation id too: it is part of every ciphertext's identity.
        """
        rows = [
            row
            for batch in batches(installations_by_resource)
            for row in self._connection.execute(
                select(resource_secrets).where(
                    resource_secrets.c.resource_id.in_(batch),
                    resource_secrets.c.valid_to.is_(None),
                )
            )
        ]
        found: dict[str, dict[str, Secret]] = {}
        for row in rows:
            installation_id = installations_by_resource[row.resource_id]
            found.setdefault(row.resource_id, {})[row.name] = self._unseal(installation_id, row)
        return found

    def current_values_of(
        self, installations_by_resource: Mapping[str, str]
    ) -> dict[str, list[SecretValues]]:
        """`current_of` as derivation reads it: {internal id: [(name, prefix, value,
        overrides)]}, a tuple per secret (env pull builds nothing more per key)."""
        found: dict[str, list[SecretValues]] = {}
        for batch in batches(installations_by_resource):
            rows = self._connection.execute(
                select(*VALUE_COLUMNS).where(
                    resource_secrets.c.resource_id.in_(batch),
                    resource_secrets.c.valid_to.is_(None),
                )
            ).all()
            for resource_id, name, version, prefix, sealed, sealed_overrides in rows:
                found.setdefault(resource_id, []).append(
                    self._values(
                        installations_by_resource[resource_id],
                        resource_id,
                        name,
                        version,
                        prefix,
                        sealed,
                        sealed_overrides,
                    )
                )
        return found

    def at_versions(self, versions: Mapping[str, int]) -> dict[str, list[SecretValues]]:
        """Secrets of several resources, each as of a given version, as derivation reads them
        (see `current_values_of`). Versions never change, so neither does the answer; a
        deleted resource keeps its rows, so it still answers for its old versions."""
        found: dict[str, list[SecretValues]] = {}
        for groups in _version_groups(versions):
            query = (
                select(*VALUE_COLUMNS, resources.c.installation_id)
                .join(resources, resources.c.internal_id == resource_secrets.c.resource_id)
                .where(
                    or_(
                        *(
                            and_(
                                resource_secrets.c.resource_id.in_(resource_ids),
                                resource_secrets.c.valid_from <= version,
                                or_(
                                    resource_secrets.c.valid_to.is_(None),
                                    resource_secrets.c.valid_to > version,
                                ),
                            )
                            for version, resource_ids in groups
                        )
                    )
                )
            )
            for (
                resource_id,
                name,
                version,
                prefix,
                sealed,
                sealed_overrides,
                installation_id,
            ) in self._connection.execute(query):
                found.setdefault(resource_id, []).append(
                    self._values(
                        installation_id,
                        resource_id,
                        name,
                        version,
                        prefix,
                        sealed,
                        sealed_overrides,
                    )
                )
        return found

    def current_names_and_prefixes(
        self, resource_ids: Iterable[str]
    ) -> dict[str, list[tuple[str, str | None]]]:
        """Name and prefix of each current secret, per resource, without decrypting anything."""
        columns = (
            resource_secrets.c.resource_id,
            resource_secrets.c.name,
            resource_secrets.c.prefix,
        )
        rows = [
            row
            for batch in batches(resource_ids)
            for row in self._connection.execute(
                select(*columns).where(
                    resource_secrets.c.resource_id.in_(batch),
                    resource_secrets.c.valid_to.is_(None),
                )
            )
        ]
        found: dict[str, list[tuple[str, str | None]]] = {}
        for row in rows:
            found.setdefault(row.resource_id, []).append((row.name, row.prefix))
        return found

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
                secret.value,
                associated_data=_row_identity(
                    resource.installation_id, resource.internal_id, secret.name, version, "value"
                ),
            ),
            "overrides_ciphertext": self._keys.seal(
                json.dumps(overrides, sort_keys=True),
                associated_data=_row_identity(
                    resource.installation_id,
                    resource.internal_id,
                    secret.name,
                    version,
                    "overrides",
                ),
            )
            if overrides
            else None,
        }

    def _values(
        self,
        installation_id: str,
        resource_id: str,
        name: str,
        version: int,
        prefix: str | None,
        sealed: bytes,
        sealed_overrides: bytes | None,
    ) -> SecretValues:
        value = self._keys.open(
            sealed,
            associated_data=_row_identity(installation_id, resource_id, name, version, "value"),
        )
        overrides: Mapping[str, str] = NO_OVERRIDES
        if sealed_overrides is not None:
            overrides = json.loads(
                self._keys.open(
                    sealed_overrides,
                    associated_data=_row_identity(
                        installation_id, resource_id, name, version, "overrides"
                    ),
                )
            )
        return (name, prefix, value, overrides)

    def _unseal(self, installation_id: str, row: Row[Any]) -> Secret:
        def identity(field: str) -> str:
            return _row_identity(installation_id, row.resource_id, row.name, row.valid_from, field)

        value = self._keys.open(row.value_ciphertext, associated_data=identity("value"))
        overrides: dict[str, str] = {}
        if row.overrides_ciphertext is not None:
            overrides = json.loads(
                self._keys.open(row.overrides_ciphertext, associated_data=identity("overrides"))
            )
        return Secret(
            name=row.name, value=value, prefix=row.prefix, environment_overrides=overrides
        )


def _row_identity(
    installation_id: str, resource_id: str, name: str, version: int, field: str
) -> str:
    """Associated data binding a ciphertext to its row: moved elsewhere, it will not open."""
    return f"secret/{installation_id}/{resource_id}/{name}/{version}/{field}"


def _version_groups(versions: Mapping[str, int]) -> Iterator[list[tuple[int, list[str]]]]:
    """(version, resource ids) terms, a statement's worth at a time: at most `MAX_OR_TERMS`
    terms and `BATCH_SIZE` ids."""
    by_version: dict[int, list[str]] = {}
    for resource_id, version in versions.items():
        by_version.setdefault(version, []).append(resource_id)
    statement: list[tuple[int, list[str]]] = []
    size = 0
    for version, resource_ids in sorted(by_version.items()):
        for batch in batches(resource_ids):
            if statement and (len(statement) == MAX_OR_TERMS or size + len(batch) > BATCH_SIZE):
                yield statement
                statement, size = [], 0
            statement.append((version, batch))
            size += len(batch)
    if statement:
        yield statement
