"""The hot path's statements, run on the database driver's own connection.

Running a statement through SQLAlchemy's `Connection.execute` costs 40 to 70 µs of CPU even when
its compiled form is cached (the cache key, the execution context, parameter and result
processing, the events), against 5 to 15 µs for the driver to run it on SQLite. The hot
paths run a handful of the same statements each time (the token look-up, the secrets PUT and a
rotation's writes with their outbox, env pull, deployment create, the usage ledger's newest
ids), so those are `DriverStatement`s: the SQL is still written with SQLAlchemy Core and
compiled by it, once per dialect; only the execution skips the machinery.

What the machinery did that matters is kept:
* each column's bind and result processors (JSON, SQLite's booleans) are applied, so a row reads
  as `Connection.execute` would give it, as a plain tuple in the statement's column order;
* a driver error goes through the connection's own error handling (`_handle_dbapi_exception`):
  it is wrapped as the same `sqlalchemy.exc` error, without parameters, and a connection found
  dead invalidates the pool, so a 503 and the recovery after it are unchanged;
* while a cursor-execute listener is attached to the engine (the tests inject failures that
  way; the served app attaches none), the statement runs through `Connection.execute`, so the
  listener sees every statement.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable, ReturnsRows

Row = tuple[Any, ...]
_Processor = Callable[[Any], Any]


@dataclass(slots=True)
class _Compiled:
    sql: str
    # Values bound in the statement itself (`column == 5`), used unless the caller gives one.
    defaults: Mapping[str, Any]
    binders: Mapping[str, _Processor]
    dialect: Dialect
    # The result columns' types as the dialect implements them.
    column_types: tuple[Any, ...]
    # One per result column, None where the driver's value is already the answer. Asked of
    # each type with the driver's type code of its column (PostgreSQL's numeric types choose
    # by it), so they are known after the first execution.
    readers: tuple[_Processor | None, ...] | None = None
    # For a positional driver (SQLite's `?`): the bound values in order, taken in C (a rotation
    # binds about 90 rows, and a Python loop per value was a tenth of its CPU), and the
    # positions that have a binder. None for a named one (psycopg's `%(name)s`), which takes
    # the parameters as a mapping.
    pick: Callable[[Mapping[str, Any]], Any] | None = None
    bound_at: tuple[tuple[int, _Processor], ...] = ()

    def arguments(self, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        if self.defaults:
            params = {**self.defaults, **params}
        if self.pick is None:
            values = dict(params)
            for name, bind in self.binders.items():
                if name in values:
                    values[name] = bind(values[name])
            return values
        if not self.bound_at:
            return self.pick(params)  # type: ignore[no-any-return]  # itemgetter of 2 or more: a tuple
        ordered = list(self.pick(params))
        for index, bind in self.bound_at:
            ordered[index] = bind(ordered[index])
        return ordered

    def read(self, rows: Sequence[Row], description: Sequence[Sequence[Any]] | None) -> list[Row]:
        readers = self.readers
        if readers is None:
            codes = [column[1] for column in description or ()]
            if len(codes) == len(self.column_types):
                readers = tuple(
                    kind.result_processor(self.dialect, code)
                    for kind, code in zip(self.column_types, codes, strict=True)
                )
            else:
                # Columns of textual SQL have no type: the driver's values are the answer.
                readers = (None,) * len(codes)
            self.readers = readers
        if not any(readers):
            return list(rows)
        return [
            tuple(
                value if reader is None else reader(value)
                for reader, value in zip(readers, row, strict=True)
            )
            for row in rows
        ]


class DriverStatement:
    """A Core statement compiled once per dialect and run on the driver's cursor.

    `column_keys` names the columns an INSERT or UPDATE without explicit `values()` sets, as
    `Connection.execute` infers them from its parameters.
    """

    __slots__ = ("_column_keys", "_compiled", "_statement")

    def __init__(self, statement: Executable, *, column_keys: Sequence[str] = ()) -> None:
        self._statement = statement
        self._column_keys = list(column_keys) or None
        self._compiled: dict[tuple[str, object], _Compiled] = {}

    @property
    def statement(self) -> Executable:
        return self._statement

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[Row]:
        """Every row the statement returns, as tuples in its column order."""
        if _listened(connection):
            return [tuple(row) for row in connection.execute(self._statement, dict(params))]
        compiled = self._compiled_for(connection.dialect)
        arguments = compiled.arguments(params)
        cursor = _cursor(connection)
        try:
            cursor.execute(compiled.sql, arguments)
            rows = cursor.fetchall()
            # Read for the type codes only until the readers are known: psycopg builds an
            # object per column on every read of it.
            description = cursor.description if compiled.readers is None else None
        except BaseException as error:
            _failed(connection, error, compiled.sql, arguments, cursor)
        _done(connection, cursor)
        return compiled.read(rows, description)

    def first(self, connection: Connection, params: Mapping[str, Any]) -> Row | None:
        """The first row, or None (for statements that return at most one)."""
        rows = self.rows(connection, params)
        return rows[0] if rows else None

    def run(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; the number of rows it changed."""
        if _listened(connection):
            return int(connection.execute(self._statement, dict(params)).rowcount)
        compiled = self._compiled_for(connection.dialect)
        arguments = compiled.arguments(params)
        cursor = _cursor(connection)
        try:
            cursor.execute(compiled.sql, arguments)
            changed = int(cursor.rowcount)
        except BaseException as error:
            _failed(connection, error, compiled.sql, arguments, cursor)
        _done(connection, cursor)
        return changed

    def run_many(self, connection: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """Run a statement that returns no rows once per parameter set, in one driver call."""
        if not params:
            return
        if len(params) == 1:
            # One set needs no batch: psycopg runs `executemany` in pipeline mode, whose set-up
            # costs more CPU than the statement (a deployment's event and its one link).
            self.run(connection, params[0])
            return
        if _listened(connection):
            connection.execute(self._statement, [dict(p) for p in params])
            return
        compiled = self._compiled_for(connection.dialect)
        arguments: Any = [compiled.arguments(p) for p in params]
        cursor = _cursor(connection)
        try:
            cursor.executemany(compiled.sql, arguments)
        except BaseException as error:
            _failed(connection, error, compiled.sql, arguments, cursor)
        _done(connection, cursor)

    def _compiled_for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.server_version_info)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _compile(self._statement, dialect, self._column_keys)
        return compiled


# Where a PostgreSQL DBAPI connection keeps the one cursor its driver statements run on.
_CURSOR = "keyturn.driver.cursor"


def _cursor(connection: Connection) -> Any:
    """A cursor of the connection's DBAPI connection, closed by `_done` after its statement.

    On PostgreSQL it is made once per DBAPI connection and kept in the pool's `info` for it,
    which the pool clears when it closes or invalidates that connection: a new psycopg cursor
    costs about 9 µs of CPU, a third of a short statement. SQLite's cost next to nothing, and
    one left open can keep a statement in progress, which its COMMIT refuses.
    """
    pooled = connection.connection
    if connection.dialect.name != "postgresql":
        return pooled.dbapi_connection.cursor()  # type: ignore[union-attr]  # a live unit's connection is never detached
    cursor = pooled.info.get(_CURSOR)
    if cursor is None:
        cursor = pooled.info[_CURSOR] = pooled.dbapi_connection.cursor()  # type: ignore[union-attr]  # as above
    return cursor


def _done(connection: Connection, cursor: Any) -> None:
    if connection.dialect.name != "postgresql":
        cursor.close()


def _failed(
    connection: Connection, error: BaseException, sql: str, arguments: Any, cursor: Any
) -> NoReturn:
    """Raise `error` as `Connection.execute` would, which also closes the cursor: the next
    statement makes a new one."""
    connection.connection.info.pop(_CURSOR, None)
    connection._handle_dbapi_exception(error, sql, arguments, cursor, None)


def _listened(connection: Connection) -> bool:
    dispatch = connection.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _compile(statement: Executable, dialect: Dialect, column_keys: list[str] | None) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)  # type: ignore[attr-defined]  # every Core statement compiles; Executable does not say so
    binds = compiled.binds
    if any(bind.expanding for bind in binds.values()):
        raise ValueError("an expanding IN is rendered per execution; run it through SQLAlchemy")
    positions = compiled.positiontup
    binders: dict[str, _Processor] = {}
    for name, bind in binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            binders[name] = processor
    # A SELECT's columns, or an INSERT's or UPDATE's RETURNING ones (none without it).
    columns = list(statement.exported_columns) if isinstance(statement, ReturnsRows) else []
    return _Compiled(
        sql=compiled.string,
        defaults={name: bind.effective_value for name, bind in binds.items() if not bind.required},
        binders=binders,
        dialect=dialect,
        column_types=tuple(column.type.dialect_impl(dialect) for column in columns),
        pick=None if positions is None else _picker(tuple(positions)),
        bound_at=()
        if positions is None
        else tuple(
            (index, binders[name]) for index, name in enumerate(positions) if name in binders
        ),
    )


def _picker(positions: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The values of `positions` from a parameter mapping, as a tuple in that order."""
    if len(positions) >= 2:
        return operator.itemgetter(*positions)
    # `itemgetter` of one name gives the value itself, and of none is not defined.
    return lambda params: tuple(params[name] for name in positions)
