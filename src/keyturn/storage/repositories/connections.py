"""Connections of projects to resources, and the set-based check for keys a PUT would add.

A project's integration env vars are derived from these rows when read. `first_taken_key`
answers CONTRACT.md 2.1 step 5 in the database: one statement finds the user variables and the
other connections' derived keys that equal a new key, in a project connected to the resource
and a shared environment, so a resource connected to 10,000 projects costs no Python work per
project.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy import Connection as SQLConnection

from keyturn.domain.clock import Clock
from keyturn.domain.environment import ConnectedResource, Connection
from keyturn.domain.envkeys import (
    ENVIRONMENTS,
    NEXT_PUBLIC,
    in_standard_order,
    secret_names_deriving,
)
from keyturn.domain.ids import IdSource
from keyturn.storage.driver import DriverStatement
from keyturn.storage.repositories.batches import BATCH_SIZE, MAX_OR_TERMS, batches
from keyturn.storage.repositories.columns import (
    environment_columns,
    share_an_environment,
)
from keyturn.storage.tables import (
    connections,
    installations,
    resource_secrets,
    resources,
    user_env_vars,
)

# Each step seeks the next prefix in `ix_connections_resource_id_prefix`; NULL (no prefix)
# comes from its own seek. Plain SQL that SQLite and PostgreSQL both run.
DISTINCT_PREFIXES = text(
    """
    WITH RECURSIVE prefixes(prefix) AS (
        SELECT (SELECT env_var_prefix FROM connections
                WHERE resource_id = :resource AND env_var_prefix IS NOT NULL
                ORDER BY env_var_prefix LIMIT 1)
        UNION ALL
        SELECT (SELECT env_var_prefix FROM connections
                WHERE resource_id = :resource AND env_var_prefix > prefixes.prefix
                ORDER BY env_var_prefix LIMIT 1)
        FROM prefixes WHERE prefixes.prefix IS NOT NULL
    )
    SELECT prefix FROM prefixes WHERE prefix IS NOT NULL
    UNION ALL
    SELECT NULL WHERE EXISTS (SELECT 1 FROM connections
                              WHERE resource_id = :resource AND env_var_prefix IS NULL)
    """
)


# Connections of some projects to live resources, with what a derived record says of each,
# in `_link`'s order. Built once: env pull runs it on every call, and only the bound ids change.
LINK_COLUMNS = (
    *connections.c,
    resources.c.installation_id,
    installations.c.integration_id,
    resources.c.product_id,
    resources.c.secrets_version,
    resources.c.updated_at,
    resources.c.partner_id,
)
_LINKS = (
    select(*LINK_COLUMNS)
    .join(resources, resources.c.internal_id == connections.c.resource_id)
    .join(installations, installations.c.id == resources.c.installation_id)
    .where(resources.c.deleted_at.is_(None))
)
LINKS_OF_PROJECTS = _LINKS.where(connections.c.project_id.in_(bindparam("ids", expanding=True)))
# One project's (env pull, a deployment): on the driver's connection (storage/driver.py).
LINKS_OF_PROJECT = DriverStatement(_LINKS.where(connections.c.project_id == bindparam("project")))


class ConnectionRepository:
    def __init__(self, connection: SQLConnection, *, clock: Clock, ids: IdSource) -> None:
        self._connection = connection
        self._clock = clock
        self._ids = ids

    def add(
        self,
        resource_id: str,
        project_id: str,
        environments: Sequence[str],
        env_var_prefix: str | None,
        make_sensitive: bool,
    ) -> Connection:
        connection = Connection(
            id=self._ids.new("conn"),
            resource_id=resource_id,
            project_id=project_id,
            environments=in_standard_order(environments),
            env_var_prefix=env_var_prefix,
            make_sensitive=make_sensitive,
            created_at=self._clock.now_ms(),
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
        """The distinct `envVarPrefix` values of the resource's connections (None: no prefix).

        A loose index scan: one index seek per distinct prefix, however many connections
        share each, so a resource connected to 10,000 projects with one prefix costs two.
        """
        return list(
            self._connection.execute(DISTINCT_PREFIXES, {"resource": resource_id}).scalars()
        )

    def of_projects(self, project_ids: Iterable[str]) -> list[tuple[Connection, ConnectedResource]]:
        """Connections of these projects to live resources, with what a record says of each."""
        wanted = list(project_ids)
        rows: Sequence[Sequence[Any]]
        if len(wanted) == 1:
            rows = LINKS_OF_PROJECT.rows(self._connection, {"project": wanted[0]})
        else:
            rows = [
                row
                for batch in batches(wanted)
                for row in self._connection.execute(LINKS_OF_PROJECTS, {"ids": batch}).all()
            ]
        links = [_link(row) for row in rows]
        links.sort(key=lambda link: (link[0].created_at, link[0].id))
        return links

    def delete(self, connection: Connection) -> None:
        self._connection.execute(delete(connections).where(connections.c.id == connection.id))

    def first_taken_key(
        self, resource_id: str, candidates: Mapping[str | None, Iterable[str]]
    ) -> str | None:
        """The first key (sorted) that a connection of the resource would newly derive and
        that its project already holds in a shared environment: a user variable's, or one
        another live resource's connection derives. `candidates` are the new keys per
        connection prefix (None: connections without one)."""
        found: list[str] = []
        for chunk in _chunks(candidates):
            query = _taken_key_query(len(chunk))
            key = self._connection.execute(query, _taken_key_parameters(resource_id, chunk))
            found += [taken for taken in key.scalars() if taken is not None]
        return min(found) if found else None


def derived_key_sql(
    name: ColumnElement[Any], secret_prefix: ColumnElement[Any], connection_prefix: Any
) -> ColumnElement[str]:
    """`domain.envkeys.derive_env_key` in SQL, for derived keys compared in the database.

    Its constants are written into the SQL, not bound: PostgreSQL then plans it once for
    what it is. tests/storage/test_derived_key_sql.py holds it to the Python rule on both
    databases.
    """
    empty, underscore = _constant(""), _constant("_")
    public = len(NEXT_PUBLIC)
    prefix = func.coalesce(
        func.nullif(connection_prefix, empty), func.nullif(secret_prefix, empty), type_=String
    )

    def joined(rest: ColumnElement[Any]) -> ColumnElement[str]:
        return case(
            (prefix.is_(None), rest),
            (
                func.substr(prefix, func.length(prefix), literal_column("1")) == underscore,
                prefix.concat(rest),
            ),
            else_=prefix.concat(underscore).concat(rest),
        )

    return case(
        (
            func.substr(name, literal_column("1"), literal_column(str(public)), type_=String)
            == _constant(NEXT_PUBLIC),
            _constant(NEXT_PUBLIC).concat(
                joined(func.substr(name, literal_column(str(public + 1)), type_=String))
            ),
        ),
        else_=joined(name),
    )


def _constant(text_value: str) -> ColumnElement[str]:
    """A string constant of keyturn's own (never user input), written into the SQL."""
    if not text_value.replace("_", "").isalnum() and text_value not in ("", "_"):
        raise ValueError(f"not a plain constant: {text_value!r}")
    return literal_column(f"'{text_value}'", String)


def _chunks(
    candidates: Mapping[str | None, Iterable[str]],
) -> Iterator[list[tuple[str | None, list[str]]]]:
    """(prefix, keys) terms, a statement's worth at a time: at most `MAX_OR_TERMS` terms and
    about `BATCH_SIZE` bound parameters (each key is bound three times, with the secret names
    that could derive it)."""
    chunk: list[tuple[str | None, list[str]]] = []
    size = 0
    for prefix, keys in candidates.items():
        term: list[str] = []
        for key in sorted(set(keys)):
            cost = 3 + len(secret_names_deriving(key))
            if (chunk or term) and (len(chunk) == MAX_OR_TERMS or size + cost > BATCH_SIZE):
                if term:
                    chunk.append((prefix, term))
                yield chunk
                chunk, term, size = [], [], 0
            term.append(key)
            size += cost
        if term:
            chunk.append((prefix, term))
    if chunk:
        yield chunk


def _taken_key_parameters(
    resource_id: str, chunk: list[tuple[str | None, list[str]]]
) -> dict[str, Any]:
    keys = sorted({key for _, term in chunk for key in term})
    parameters: dict[str, Any] = {
        "resource": resource_id,
        "keys": keys,
        "names": sorted({name for key in keys for name in secret_names_deriving(key)}),
    }
    for index, (prefix, term) in enumerate(chunk):
        parameters[f"prefix_{index}"] = prefix
        parameters[f"keys_{index}"] = term
    return parameters


@functools.cache
def _taken_key_query(terms: int) -> Any:
    """The smallest key taken in a project connected to the resource, for `terms` (prefix,
    keys) terms; built once per number of terms, the lists bound when it runs.

    Each side starts from the few rows that could clash, found by index: user variables by
    key, other resources' current secrets by name (`secret_names_deriving`). Only for those
    does it look for a connection of the resource in the same project sharing an environment,
    so its cost follows the candidate clashes, not the number of connected projects.
    """
    mine = connections.alias("mine")
    other = connections.alias("other")
    resource = bindparam("resource", type_=String)

    def connected_wanting(key: ColumnElement[Any], project_id: Any, row: FromClause) -> Any:
        """A connection of the resource in that project, sharing an environment with `row`,
        to which `key` is new (for its prefix)."""
        wants = or_(
            *(
                and_(
                    mine.c.env_var_prefix.is_not_distinct_from(
                        bindparam(f"prefix_{index}", type_=String)
                    ),
                    key.in_(bindparam(f"keys_{index}", expanding=True)),
                )
                for index in range(terms)
            )
        )
        return exists().where(
            mine.c.resource_id == resource,
            mine.c.project_id == project_id,
            share_an_environment(mine, row),
            wants,
        )

    users = select(user_env_vars.c.key.label("key")).where(
        user_env_vars.c.key.in_(bindparam("keys", expanding=True)),
        connected_wanting(user_env_vars.c.key, user_env_vars.c.project_id, user_env_vars),
    )
    other_key = derived_key_sql(
        resource_secrets.c.name, resource_secrets.c.prefix, other.c.env_var_prefix
    )
    derived = (
        select(other_key.label("key"))
        .select_from(
            resource_secrets.join(
                other, other.c.resource_id == resource_secrets.c.resource_id
            ).join(resources, resources.c.internal_id == other.c.resource_id)
        )
        .where(
            resource_secrets.c.name.in_(bindparam("names", expanding=True)),
            resource_secrets.c.valid_to.is_(None),
            other.c.resource_id != resource,
            resources.c.deleted_at.is_(None),
            connected_wanting(other_key, other.c.project_id, other),
        )
    )
    taken = union_all(users, derived).subquery()
    return select(func.min(taken.c.key))


def _link(row: Sequence[Any]) -> tuple[Connection, ConnectedResource]:
    """A row of `LINK_COLUMNS`: the connection's columns, then its resource's."""
    connection = _connection(row)
    installation_id, integration_id, product_id, secrets_version, updated_at, partner_id = row[
        len(connections.c) :
    ]
    resource = ConnectedResource(
        connection.resource_id,
        installation_id,
        integration_id,
        product_id,
        secrets_version,
        updated_at,
        partner_id,
    )
    return connection, resource


def _connection(row: Sequence[Any]) -> Connection:
    """A row that starts with the `connections` columns in the table's order, by position."""
    (
        connection_id,
        resource_id,
        project_id,
        in_production,
        in_preview,
        in_development,
        prefix,
        make_sensitive,
        created_at,
    ) = row[: len(connections.c)]
    environments = tuple(
        environment
        for environment, included in zip(
            ENVIRONMENTS, (in_production, in_preview, in_development), strict=True
        )
        if included
    )
    return Connection(
        connection_id, resource_id, project_id, environments, prefix, make_sensitive, created_at
    )
