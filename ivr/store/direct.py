"""A webhook's few hot statements, sent straight to the driver of a pooled connection.

SQLAlchemy still builds each statement (Core, on the tables), compiles it once per dialect,
converts each value with its column's own type and hands out the pooled connection; only
the sending skips its execution layer (an execution context, the compiled cache's look-up,
result objects), which costs a case look-up more CPU than SQLite takes to run it
(docs/performance.md). What stays as it is for every statement:

- engine listeners are told of each statement (`before_cursor_execute`), so the database
  layer counts a step's statements and a test can intercept them as any other;
- an error of the driver comes out as SQLAlchemy's would: wrapped in its `DBAPIError`
  class (`OperationalError`, `IntegrityError`, ...), values hidden, the connection
  invalidated when it was lost (`connection_invalidated`), so `ivr.db.attempt` tells a
  lost database from a refused value exactly as before.

Only for statements outside a SQLAlchemy transaction (the driver's own transaction is
committed or rolled back before control returns), and only for steps that are safe to run
twice (a case issued once per CallSid, a note once per call).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class Compiled:
    """A statement as one dialect's driver takes it."""

    sql: str
    order: tuple[str, ...] | None  # the parameters' names in order (None: by name)
    defaults: Mapping[str, Any]  # values fixed in the statement itself (a LIMIT, say)
    processors: Mapping[str, Callable[[Any], Any]]  # each column type's conversion


class Statement:
    """A Core statement, compiled once per dialect for the driver."""

    def __init__(self, statement: sa.ClauseElement) -> None:
        """Keep `statement`; it is compiled for a dialect when first sent there."""
        self.statement = statement
        self._by_dialect: dict[str, Compiled] = {}
        self._rows: dict[str, Any] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        """The statement for `dialect`, compiled on first use."""
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = compile_for(self.statement, dialect)
        return found

    def row_type(self, dialect: Dialect, cursor: Any) -> Any:
        """Its rows' type, named by its columns (None: it returns no rows), made once.

        From the driver's description of its first result (psycopg builds that anew at each
        look)."""
        if dialect.name not in self._rows:
            names = tuple(column[0] for column in cursor.description or ())
            self._rows[dialect.name] = namedtuple("Row", names) if names else None
        return self._rows[dialect.name]


def typed(table: sa.Table, column: str, name: str | None = None) -> sa.BindParameter[Any]:
    """A parameter converted as `table`'s column is (named after it unless `name`)."""
    return sa.bindparam(name or column, type_=table.c[column].type)


def with_values(insert: Any, table: sa.Table, names: Iterable[str]) -> Any:
    """`insert` with a typed parameter of each named column (none of the others, nor the id)."""
    return insert.values({name: typed(table, name) for name in names})


def compile_for(statement: sa.ClauseElement, dialect: Dialect) -> Compiled:
    """Compile `statement` for `dialect`: its SQL, parameter order, fixed values, conversions."""
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    if "POSTCOMPILE" in compiled.string:
        raise ValueError("a statement whose SQL depends on its values cannot be sent as is")
    defaults, processors = {}, {}
    for bind, name in compiled.bind_names.items():
        if not bind.required:
            defaults[name] = bind.effective_value
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    return Compiled(compiled.string, order, defaults, processors)


def parameters(compiled: Compiled, values: Mapping[str, Any]) -> Any:
    """The values as the driver takes them: converted, in order or by name."""
    merged = {**compiled.defaults, **values}
    for name, processor in compiled.processors.items():
        if name in merged:
            merged[name] = processor(merged[name])
    if compiled.order is None:
        return merged
    return tuple(merged[name] for name in compiled.order)


class Cursor:
    """Sends `Statement`s on one pooled connection's driver cursor."""

    def __init__(self, connection: Connection, cursor: Any) -> None:
        """Send on `cursor`, a driver cursor of `connection`'s pooled connection."""
        self.connection, self.cursor = connection, cursor

    def first(self, statement: Statement, values: Mapping[str, Any]) -> Any | None:
        """Send the statement; its first row (named by its columns), or None."""
        rows = self._send(statement, values, everything=False)
        return rows[0] if rows else None

    def all(self, statement: Statement, values: Mapping[str, Any]) -> list[Any]:
        """Send the statement; all its rows (named by its columns)."""
        return self._send(statement, values, everything=True)

    def _send(self, statement: Statement, values: Mapping[str, Any],
              everything: bool) -> list[Any]:
        """Send the statement; its first row or all its rows (none if it returns none)."""
        dialect = self.connection.dialect
        compiled = statement.compiled(dialect)
        try:
            sent = parameters(compiled, values)
        except (TypeError, ValueError) as e:  # a value its column's type refuses (as SQLAlchemy)
            raise StatementError(f"({type(e).__name__}) {e}", compiled.sql, None, e,
                                 hide_parameters=True) from e
        self.connection.dispatch.before_cursor_execute(
            self.connection, self.cursor, compiled.sql, sent, None, False)
        try:
            self.cursor.execute(compiled.sql, sent)
            made = statement.row_type(dialect, self.cursor)
            if made is None:
                return []
            rows = self.cursor.fetchall() if everything else [self.cursor.fetchone()]
        except dialect.loaded_dbapi.Error as e:
            raise as_sqlalchemy_error(self.connection, e, compiled.sql, sent) from e
        return [made(*row) for row in rows if row is not None]


@contextmanager
def transaction(connection: Connection, autocommit: bool = False) -> Iterator[Cursor]:
    """One transaction on `connection`'s driver: committed if the block ends well.

    `autocommit`: each statement commits on its own, with no BEGIN or COMMIT sent (a
    statement that does all of a step's work is then one round trip on PostgreSQL, one call
    into SQLite instead of three). The connection must have no SQLAlchemy transaction open
    (it would not know of this one).
    """
    if connection.in_transaction():
        raise ValueError("a SQLAlchemy transaction is open on this connection")
    dbapi: Any = connection.connection.driver_connection
    dialect = connection.dialect
    # the driver's own switch: psycopg's `autocommit`; sqlite3's `isolation_level` None
    # (otherwise it sends BEGIN before a write and leaves the COMMIT to us)
    switch, on = ("isolation_level", None) if dialect.name == "sqlite" else ("autocommit", True)
    was: list[Any] = []  # the switch as it was, once turned: put back whatever happens
    try:
        try:
            if dialect.name == "sqlite" and dbapi.in_transaction:
                # sqlite3 would commit it when switched to autocommit, and at our COMMIT
                raise ValueError("the driver has a transaction open on this connection")
            if autocommit:
                was.append(getattr(dbapi, switch))
                setattr(dbapi, switch, on)
            cursor = dbapi.cursor()
        except dialect.loaded_dbapi.Error as e:  # a connection closed under the pool, say
            raise as_sqlalchemy_error(connection, e, None, None) from e
        try:
            yield Cursor(connection, cursor)
            if not autocommit:
                try:
                    dbapi.commit()
                except dialect.loaded_dbapi.Error as e:
                    raise as_sqlalchemy_error(connection, e, None, None) from e
        except BaseException:
            _quietly(dbapi.rollback, dialect)
            raise
        finally:
            _quietly(cursor.close, dialect)
    finally:
        if was:
            _quietly(lambda: setattr(dbapi, switch, was[0]), dialect)


def as_sqlalchemy_error(connection: Connection, error: Any, statement: str | None,
                       sent: Any) -> BaseException:
    """`error` as SQLAlchemy would raise it; a lost connection is invalidated first.

    As SQLAlchemy does on a disconnect, every pooled connection older than this one is
    replaced at its next checkout too (the server that dropped this one dropped them all).
    `statement` None: the COMMIT failed (as in SQLAlchemy's own errors), so the step may
    have happened and is not to be run again."""
    dialect = connection.dialect
    pooled = connection.connection
    lost = bool(dialect.is_disconnect(error, pooled.dbapi_connection, None))
    if lost:
        # SQLAlchemy's own step (`Connection._handle_dbapi_exception`); no public name
        connection.engine.pool._invalidate(pooled, error)
        connection.invalidate(error)
    wrapped: BaseException = DBAPIError.instance(
        statement, sent, error, dialect.loaded_dbapi.Error, hide_parameters=True,
        connection_invalidated=lost, dialect=dialect)
    return wrapped


def _quietly(action: Callable[[], object], dialect: Dialect) -> None:
    """Run a clean-up whose failure (a connection already lost) changes nothing."""
    try:
        action()
    except dialect.loaded_dbapi.Error:
        pass
