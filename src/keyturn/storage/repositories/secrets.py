"""A resource's secrets, stored once per version range and sealed with the key ring.

A row holds from `valid_from` (inclusive) to `valid_to` (exclusive; NULL while current). Writing
version N closes the rows of changed and removed names at N and inserts rows for changed and
added names from N: O(changed secrets) rows, whatever else refers to the resource.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, insert, or_, select, update

from keyturn.domain.environment import SecretValues
from keyturn.domain.envkeys import ENVIRONMENTS
from keyturn.domain.resources import Resource
from keyturn.domain.secrets import Secret, SecretSetChange
from keyturn.storage.driver import DriverStatement
from keyturn.storage.encryption import KeyRing
from keyturn.storage.repositories.batches import batches
from keyturn.storage.tables import (
    connections,
    deployments,
    env_snapshot_versions,
    resource_secrets,
    resources,
)

# What derivation reads of a secret row, in `_open_into`'s order, with its installation id
# (part of every ciphertext's identity). Built once: only the bound values change.
VALUE_COLUMNS = (
    resource_secrets.c.resource_id,
    resource_secrets.c.name,
    resource_secrets.c.valid_from,
    resource_secrets.c.prefix,
    resource_secrets.c.value_ciphertext,
    resource_secrets.c.overrides_ciphertext,
    resources.c.installation_id,
)
NO_OVERRIDES: Mapping[str, str] = MappingProxyType({})
# The purpose of the key `secret_set_digest` is keyed with (KeyRing.derived_key).
DIGEST_KEY_PURPOSE = "secret set digest"


def _current_values_in_target(target: str) -> Select[Any]:
    """The current rows of the live resources a project's connections bring into `target`."""
    return (
        select(*VALUE_COLUMNS)
        .select_from(connections)
        .join(resources, resources.c.internal_id == connections.c.resource_id)
        .join(resource_secrets, resource_secrets.c.resource_id == connections.c.resource_id)
        .where(
            connections.c.project_id == bindparam("project"),
            connections.c[f"in_{target}"],
            resources.c.deleted_at.is_(None),
            resource_secrets.c.valid_to.is_(None),
        )
    )


# Env pull's read, one statement per target on the driver's connection (storage/driver.py).
CURRENT_VALUES_IN_TARGET: dict[str, DriverStatement] = {
    target: DriverStatement(_current_values_in_target(target)) for target in ENVIRONMENTS
}

# What `_unseal` reads of a row, in the order it unpacks them: read by attribute, a row's six
# fields cost more CPU than the AES-GCM open of its value (docs/performance.md, "Fourth pass").
SEALED_SECRET = (
    resource_secrets.c.resource_id,
    resource_secrets.c.name,
    resource_secrets.c.valid_from,
    resource_secrets.c.prefix,
    resource_secrets.c.value_ciphertext,
    resource_secrets.c.overrides_ciphertext,
)
SealedSecretRow = tuple[str, str, int, str | None, bytes, bytes | None]
# One resource's current rows (the secrets PUT's read), and what a PUT writes: built once, and
# the reads run on the driver's connection (storage/driver.py).
CURRENT_ROWS = DriverStatement(
    select(*SEALED_SECRET).where(
        resource_secrets.c.resource_id == bindparam("resource_id"),
        resource_secrets.c.valid_to.is_(None),
    )
)
# One resource's rows as of a version (a rollback's read).
ROWS_AT_VERSION = DriverStatement(
    select(*SEALED_SECRET).where(
        resource_secrets.c.resource_id == bindparam("resource_id"),
        resource_secrets.c.valid_from <= bindparam("version"),
        or_(
            resource_secrets.c.valid_to.is_(None),
            resource_secrets.c.valid_to > bindparam("version"),
        ),
    )
)
# What a PUT writes, run on the driver's connection (storage/driver.py), each in one call.
SECRET_ROW = (
    "resource_id",
    "name",
    "valid_from",
    "valid_to",
    "prefix",
    "value_ciphertext",
    "overrides_ciphertext",
)
INSERT_ROWS = DriverStatement(insert(resource_secrets), column_keys=SECRET_ROW)


@functools.lru_cache(maxsize=64)
def _close_rows(count: int) -> DriverStatement:
    """Close the current rows of `count` names (`name0`, `name1`, ...) of one resource.

    One statement per count, since the driver takes no expanding IN: one scan of the
    resource's current rows (`ix_resource_secrets_current`), where a statement per name would
    scan them once per name. Bound names differ from the columns': SQLAlchemy reserves those
    for its own SET parameters.
    """
    return DriverStatement(
        update(resource_secrets)
        .where(
            resource_secrets.c.resource_id == bindparam("resource"),
            resource_secrets.c.valid_to.is_(None),
            resource_secrets.c.name.in_([bindparam(f"name{n}") for n in range(count)]),
        )
        .values(valid_to=bindparam("closed_at"))
    )


def _referenced_values(target: str) -> Select[Any]:
    """Each referenced resource's rows valid at the version the deployment recorded."""
    used = env_snapshot_versions
    return (
        select(*VALUE_COLUMNS)
        .select_from(deployments)
        .join(used, used.c.snapshot_id == deployments.c.env_snapshot_id)
        .join(
            resource_secrets,
            and_(
                resource_secrets.c.resource_id == used.c.resource_id,
                resource_secrets.c.valid_from <= used.c.secrets_version,
                or_(
                    resource_secrets.c.valid_to.is_(None),
                    resource_secrets.c.valid_to > used.c.secrets_version,
                ),
            ),
        )
        .join(resources, resources.c.internal_id == used.c.resource_id)
        .where(deployments.c.id == bindparam("deployment"), used.c[f"in_{target}"])
    )


REFERENCED_VALUES: dict[str, Select[Any]] = {
    target: _referenced_values(target) for target in ENVIRONMENTS
}


class SecretRepository:
    def __init__(self, connection: Connection, keys: KeyRing) -> None:
        self._connection = connection
        self._keys = keys

    def current(self, resource: Resource) -> dict[str, Secret]:
        """The resource's secrets in its current version, decrypted."""
        rows = CURRENT_ROWS.rows(self._connection, {"resource_id": resource.internal_id})
        return self._unsealed(resource.installation_id, rows)

    def digest(self, secrets: Mapping[str, Secret]) -> str:
        """The digest of a whole secret set under this store's keys (`secret_set_digest`)."""
        return secret_set_digest(self._keys, secrets)

    def at_version(self, resource: Resource, version: int) -> dict[str, Secret]:
        """The resource's secrets as they were in `version`, decrypted."""
        rows = ROWS_AT_VERSION.rows(
            self._connection, {"resource_id": resource.internal_id, "version": version}
        )
        return self._unsealed(resource.installation_id, rows)

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
                select(*SEALED_SECRET).where(
                    resource_secrets.c.resource_id.in_(batch),
                    resource_secrets.c.valid_to.is_(None),
                )
            )
        ]
        found: dict[str, dict[str, Secret]] = {}
        for row in rows:
            resource_id = row.resource_id
            secret = self._unseal(installations_by_resource[resource_id], row)
            found.setdefault(resource_id, {})[secret.name] = secret
        return found

    def current_values_in_target(
        self, project_id: str, target: str
    ) -> dict[str, list[SecretValues]]:
        """The current secrets of the live resources the project's connections bring into
        `target`, as derivation reads them: {internal id: [(name, prefix, value, overrides)]},
        a tuple per secret (env pull builds nothing more per key), in one statement."""
        found: dict[str, list[SecretValues]] = {}
        rows = CURRENT_VALUES_IN_TARGET[target].rows(self._connection, {"project": project_id})
        self._open_into(found, rows)
        return found

    def referenced_by(self, deployment_id: str, target: str) -> dict[str, list[SecretValues]]:
        """The secrets of each resource the deployment references in `target`, each as of
        the version it recorded, as derivation reads them (see `current_values_in_target`).

        Versions never change, so neither does the answer; a deleted resource keeps its
        rows, so it still answers for the versions deployments recorded.
        """
        found: dict[str, list[SecretValues]] = {}
        rows = self._connection.execute(REFERENCED_VALUES[target], {"deployment": deployment_id})
        self._open_into(found, rows.all())
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
        superseded = sorted(change.changed | change.removed)
        if superseded:
            names = {f"name{n}": name for n, name in enumerate(superseded)}
            _close_rows(len(superseded)).run(
                self._connection, {"resource": resource.internal_id, "closed_at": version, **names}
            )
        INSERT_ROWS.run_many(
            self._connection,
            [self._sealed_row(resource, version, secrets[name]) for name in sorted(change.written)],
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
                associated_data=secret_identity(
                    resource.installation_id, resource.internal_id, secret.name, version, "value"
                ),
            ),
            "overrides_ciphertext": self._keys.seal(
                json.dumps(overrides, sort_keys=True),
                associated_data=secret_identity(
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

    def _open_into(self, found: dict[str, list[SecretValues]], rows: Iterable[Any]) -> None:
        """Open rows of `VALUE_COLUMNS` (and the installation id) into `found`, by resource."""
        open_sealed = self._keys.open
        for resource_id, name, version, prefix, sealed, sealed_overrides, installation in rows:
            value = open_sealed(
                sealed,
                associated_data=secret_identity(installation, resource_id, name, version, "value"),
            )
            overrides: Mapping[str, str] = NO_OVERRIDES
            if sealed_overrides is not None:
                overrides = json.loads(
                    open_sealed(
                        sealed_overrides,
                        associated_data=secret_identity(
                            installation, resource_id, name, version, "overrides"
                        ),
                    )
                )
            found.setdefault(resource_id, []).append((name, prefix, value, overrides))

    def _unsealed(self, installation_id: str, rows: Sequence[SealedSecretRow]) -> dict[str, Secret]:
        secrets = (self._unseal(installation_id, row) for row in rows)
        return {secret.name: secret for secret in secrets}

    def _unseal(self, installation_id: str, row: SealedSecretRow) -> Secret:
        """The secret of a row selected as `SEALED_SECRET`."""
        resource_id, name, version, prefix, sealed_value, sealed_overrides = row
        value = self._keys.open(
            sealed_value,
            associated_data=secret_identity(installation_id, resource_id, name, version, "value"),
        )
        overrides: dict[str, str] = {}
        if sealed_overrides is not None:
            overrides = json.loads(
                self._keys.open(
                    sealed_overrides,
                    associated_data=secret_identity(
                        installation_id, resource_id, name, version, "overrides"
                    ),
                )
            )
        return Secret(name=name, value=value, prefix=prefix, environment_overrides=overrides)


def secret_set_digest(keys: KeyRing, secrets: Mapping[str, Secret]) -> str:
    """A keyed digest of a whole secret set, by name: equal for two sets exactly when every
    name's value, prefix and overrides are equal (what `diff_secrets` compares), so a PUT can
    be found to change nothing without opening the stored values. An HMAC under a key derived
    from the master key: the database alone tells nothing about the values."""
    canonical = json.dumps(
        [
            (name, secret.value, secret.prefix, sorted(secret.environment_overrides.items()))
            for name, secret in sorted(secrets.items())
        ],
        separators=(",", ":"),
    )
    return keys.mac(DIGEST_KEY_PURPOSE, canonical.encode()).hex()


def secret_identity(
    installation_id: str, resource_id: str, name: str, version: int, field: str
) -> str:
    """Associated data binding a ciphertext to its row: moved elsewhere, it will not open."""
    return f"secret/{installation_id}/{resource_id}/{name}/{version}/{field}"
