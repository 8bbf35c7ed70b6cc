"""Connections of projects to resources, and the set-based check for keys a PUT would add.

A project's integration env vars are derived from these rows when read. `first_taken_key`
answers CONTRACT.md 2.1 step 5 in the database: one statement joins the resource's
connections with the user variables and the other connections' derived keys of the connected
projects, so a resource connected to 10,000 projects costs no Python work per project.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy import Connection as SQLConnection

from keyturn.domain.environment import ConnectedResource, Connection
from keyturn.domain.envkeys import NEXT_PUBLIC, in_standard_order
from keyturn.domain.ids import new_id, now_ms
from keyturn.storage.repositories.batches import BATCH_SIZE, batches
from keyturn.storage.repositories.columns import (
    environment_columns,
    environments_of,
    share_an_environment,
)
from keyturn.storage.repositories.secrets import MAX_OR_TERMS
from keyturn.storage.tables import (
    connections,
    installations,
    resource_secrets,
    resources,
    user_env_vars,
)


class ConnectionRepository:
    def __init__(self, connection: SQLConnection) -> None:
        self._connection = connection

    def add(
        self,
        resource_id: str,
        project_id: str,
        environments: Sequence[str],
        env_var_prefix: str | None,
        make_sensitive: bool,
    ) -> Connection:
        connection = Connection(
            id=new_id("conn"),
            resource_id=resource_id,
            project_id=project_id,
            environments=in_standard_order(environments),
            env_var_prefix=env_var_prefix,
            make_sensitive=make_sensitive,
            created_at=now_ms(),
        )
        self._connection.execute(
            insert(connections).values(
                id=connection.id,
                resource_id=resource_id,
                project_id=project_id,
                env_var_prefix=env_var_prefix,
                make_sensitive=make_sensitive,
                created_at=connection.created_at,
                **environment_columns(connection.environments),
            )
        )
        return connection

    def get(self, resource_id: str, project_id: str) -> Connection | None:
        row = self._connection.execute(
            select(connections).where(
                connections.c.resource_id == resource_id, connections.c.project_id == project_id
            )
        ).first()
        return _connection(row) if row else None

    def of_resource(self, resource_id: str) -> list[Connection]:
        rows = self._connection.execute(
            select(connections)
            .where(connections.c.resource_id == resource_id)
            .order_by(connections.c.created_at, connections.c.id)
        ).all()
        return [_connection(row) for row in rows]

    def prefixes_of_resource(self, resource_id: str) -> list[str | None]:
        """The distinct `envVarPrefix` values of the resource's connections (None: no prefix)."""
        return list(
            self._connection.execute(
                select(connections.c.env_var_prefix)
                .where(connections.c.resource_id == resource_id)
                .distinct()
            ).scalars()
        )

    def of_projects(self, project_ids: Iterable[str]) -> list[tuple[Connection, ConnectedResource]]:
        """Connections of these projects to live resources, with what a record says of each."""
        rows = [
            row
            for batch in batches(project_ids)
            for row in self._connection.execute(
                select(
                    connections,
                    resources.c.installation_id,
                    resources.c.product_id,
                    resources.c.secrets_version,
                    resources.c.updated_at.label("resource_updated_at"),
                    installations.c.integration_id,
                )
                .join(resources, resources.c.internal_id == connections.c.resource_id)
                .join(installations, installations.c.id == resources.c.installation_id)
                .where(connections.c.project_id.in_(batch), resources.c.deleted_at.is_(None))
            )
        ]
        rows.sort(key=lambda row: (row.created_at, row.id))
        return [
            (
                _connection(row),
                ConnectedResource(
                    internal_id=row.resource_id,
                    installation_id=row.installation_id,
                    integration_id=row.integration_id,
                    product_id=row.product_id,
                    secrets_version=row.secrets_version,
                    updated_at=row.resource_updated_at,
                ),
            )
            for row in rows
        ]

    def delete(self, connection: Connection) -> None:
        self._connection.execute(delete(connections).where(connections.c.id == connection.id))

    def first_taken_key(
        self, resource_id: str, candidates: Mapping[str | None, Iterable[str]]
    ) -> str | None:
        """The first key (sorted) that a connection of the resource would newly derive and
        that its project already holds in a shared environment: a user variable's, or one
        another live resource's connection derives. `candidates` are the new keys per
        connection prefix (None: connections without one)."""
        found = [
            key
            for chunk in _chunks(candidates)
            if (key := self._connection.execute(_taken_key_query(resource_id, chunk)).scalar())
            is not None
        ]
        return min(found) if found else None


def derived_key_sql(
    name: ColumnElement[Any], secret_prefix: ColumnElement[Any], connection_prefix: Any
) -> ColumnElement[str]:
    """`domain.envkeys.derive_env_key` in SQL, for derived keys compared in the database.

    tests/storage/test_derived_key_sql.py holds it to the Python rule on both databases.
    """
    prefix = func.coalesce(
        func.nullif(connection_prefix, ""), func.nullif(secret_prefix, ""), type_=String
    )

    def joined(rest: ColumnElement[Any]) -> ColumnElement[str]:
        return case(
            (prefix.is_(None), rest),
            (func.substr(prefix, func.length(prefix), 1) == "_", prefix.concat(rest)),
            else_=prefix.concat("_").concat(rest),
        )

    public = len(NEXT_PUBLIC)
    return case(
        (
            func.substr(name, 1, public, type_=String) == NEXT_PUBLIC,
            literal(NEXT_PUBLIC, String).concat(
                joined(func.substr(name, public + 1, type_=String))
            ),
        ),
        else_=joined(name),
    )


def _chunks(
    candidates: Mapping[str | None, Iterable[str]],
) -> Iterator[list[tuple[str | None, list[str]]]]:
    """(prefix, keys) terms, a statement's worth at a time: at most `MAX_OR_TERMS` terms and
    BATCH_SIZE keys in all (each is bound twice)."""
    chunk: list[tuple[str | None, list[str]]] = []
    size = 0
    for prefix, keys in candidates.items():
        for batch in batches(keys):
            if chunk and (len(chunk) == MAX_OR_TERMS or size + len(batch) > BATCH_SIZE):
                yield chunk
                chunk, size = [], 0
            chunk.append((prefix, batch))
            size += len(batch)
    if chunk:
        yield chunk


def _taken_key_query(resource_id: str, chunk: list[tuple[str | None, list[str]]]) -> Any:
    mine = connections.alias("mine")
    other = connections.alias("other")

    def wanted(key: ColumnElement[Any]) -> ColumnElement[bool]:
        return or_(
            *(
                and_(
                    mine.c.env_var_prefix.is_(None)
                    if prefix is None
                    else mine.c.env_var_prefix == prefix,
                    key.in_(keys),
                )
                for prefix, keys in chunk
            )
        )

    users = (
        select(user_env_vars.c.key.label("key"))
        .select_from(mine.join(user_env_vars, user_env_vars.c.project_id == mine.c.project_id))
        .where(
            mine.c.resource_id == resource_id,
            share_an_environment(mine, user_env_vars),
            wanted(user_env_vars.c.key),
        )
    )
    other_key = derived_key_sql(
        resource_secrets.c.name, resource_secrets.c.prefix, other.c.env_var_prefix
    )
    derived = (
        select(other_key.label("key"))
        .select_from(
            mine.join(
                other,
                and_(other.c.project_id == mine.c.project_id, other.c.resource_id != resource_id),
            )
            .join(resources, resources.c.internal_id == other.c.resource_id)
            .join(
                resource_secrets,
                and_(
                    resource_secrets.c.resource_id == other.c.resource_id,
                    resource_secrets.c.valid_to.is_(None),
                ),
            )
        )
        .where(
            mine.c.resource_id == resource_id,
            resources.c.deleted_at.is_(None),
            share_an_environment(mine, other),
            wanted(other_key),
        )
    )
    taken = union_all(users, derived).subquery()
    return select(func.min(taken.c.key))


def _connection(row: Row[Any]) -> Connection:
    return Connection(
        id=row.id,
        resource_id=row.resource_id,
        project_id=row.project_id,
        environments=environments_of(row),
        env_var_prefix=row.env_var_prefix,
        make_sensitive=row.make_sensitive,
        created_at=row.created_at,
    )
