"""Every column that holds ciphertexts, and how to rebuild each row's associated data.

This is the one list the key check, `keyturn keys status` and `keyturn db reencrypt` read: a new
sealed column is added here, or its values are never re-encrypted and a retired key could still
be needed (tests/storage/test_sealed_columns.py fails when a binary column is missing). The
associated data comes from the repositories' own builders, so a re-sealed value opens exactly
where the repository looks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, FromClause, Row, Table

from keyturn.storage.repositories.deployments import copied_env_identity
from keyturn.storage.repositories.env_vars import user_var_identity
from keyturn.storage.repositories.idempotency import idempotency_identity
from keyturn.storage.repositories.integrations import client_secret_identity
from keyturn.storage.repositories.secrets import secret_identity
from keyturn.storage.repositories.signing_keys import signing_key_identity
from keyturn.storage.repositories.webhooks import webhook_secret_identity
from keyturn.storage.tables import (
    deployments,
    idempotency_keys,
    integrations,
    resource_secrets,
    resources,
    signing_keys,
    user_env_vars,
    webhooks,
)


@dataclass(frozen=True)
class SealedColumn:
    table: Table
    column_name: str
    # The associated data of one row, from the row's columns and `joined_columns`.
    identity: Callable[[Row[Any]], str]
    # Columns of other tables the identity needs, and the join that reaches them.
    joined_columns: tuple[ColumnElement[Any], ...] = ()
    join: Callable[[Table], FromClause] | None = None

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column_name}"

    @property
    def column(self) -> Column[Any]:
        return self.table.c[self.column_name]

    def source(self) -> FromClause:
        return self.table if self.join is None else self.join(self.table)


def _with_resource(table: Table) -> FromClause:
    # A secret's associated data names its installation, which lives on the resource.
    return table.join(resources, table.c.resource_id == resources.c.internal_id)


def _secret_field(field: str) -> Callable[[Row[Any]], str]:
    def identity(row: Row[Any]) -> str:
        return secret_identity(
            row.installation_id, row.resource_id, row.name, row.valid_from, field
        )

    return identity


SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn(
        resource_secrets,
        "value_ciphertext",
        _secret_field("value"),
        joined_columns=(resources.c.installation_id,),
        join=_with_resource,
    ),
    SealedColumn(
        resource_secrets,
        "overrides_ciphertext",
        _secret_field("overrides"),
        joined_columns=(resources.c.installation_id,),
        join=_with_resource,
    ),
    SealedColumn(
        user_env_vars,
        "value_ciphertext",
        lambda row: user_var_identity(row.project_id, row.id),
    ),
    SealedColumn(
        deployments,
        "copied_env_ciphertext",
        lambda row: copied_env_identity(row.id),
    ),
    SealedColumn(
        integrations,
        "client_secret_ciphertext",
        lambda row: client_secret_identity(row.id),
    ),
    SealedColumn(
        signing_keys,
        "private_key_ciphertext",
        lambda row: signing_key_identity(row.kid),
    ),
    SealedColumn(
        idempotency_keys,
        "record_ciphertext",
        lambda row: idempotency_identity(row.id),
    ),
    SealedColumn(webhooks, "secret_ciphertext", lambda row: webhook_secret_identity(row.id)),
)
