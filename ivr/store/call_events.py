"""Call events: one small row per webhook, written in batches, read back as figures.

Each row: call, line, node, outcome, time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ivr.store import direct
from ivr.store.console_tables import CallEvent
from ivr.store.tables import table

_EVENTS = table(CallEvent)
_INSERT = sa.insert(_EVENTS)
COLUMNS = ("at", "call_sid", "line", "node", "outcome")  # an event's values, in this order
_LENGTHS = tuple(getattr(_EVENTS.c[name].type, "length", None) for name in COLUMNS)
# PostgreSQL's bulk load: a tenth of the CPU of an INSERT of the same rows through SQLAlchemy
# (which builds every row's parameters in Python while holding the GIL the webhooks wait for)
_COPY = f"COPY {_EVENTS.name} ({', '.join(COLUMNS)}) FROM STDIN"


def event(at: datetime, call_sid: str | None, line: str | None, node: str | None,
          outcome: str) -> tuple[Any, ...]:
    """One event's values (`COLUMNS`), each cut to its column (`at` with its time zone).

    One odd value never costs the batch it is written with (what `tables.fit` does for a
    row given as a dict, done here on the tuple COPY sends, once per webhook); a naive `at`
    is refused, as `UtcDateTime` refuses it."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: give a time zone")
    return tuple(v[:n] if isinstance(v, str) and n is not None and len(v) > n else v
                 for v, n in zip((at, call_sid, line, node, outcome), _LENGTHS, strict=True))


def write(engine: Engine | Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert a batch of events (`event`) in one transaction."""
    if not rows:
        return
    if isinstance(engine, Connection):
        _insert(engine, rows)
        engine.commit()
        return
    with engine.begin() as connection:
        _insert(connection, rows)


def _insert(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """The rows in one statement: COPY on PostgreSQL, one INSERT elsewhere."""
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
        except connection.dialect.loaded_dbapi.Error as e:  # as SQLAlchemy's own, to the caller
            raise direct.as_sqlalchemy_error(connection, e, _COPY, None) from e
        return
    connection.execute(_INSERT, [dict(zip(COLUMNS, row, strict=True)) for row in rows])


def between(db: Connection | Any, start: datetime, end: datetime,
            line: str | None = None) -> list[sa.Row[Any]]:
    """Every event from `start` to `end` included (of one line), in time order.

    Each as (at, call_sid, line, node, outcome).
    """
    query = (sa.select(_EVENTS.c.at, _EVENTS.c.call_sid, _EVENTS.c.line, _EVENTS.c.node,
                       _EVENTS.c.outcome)
             .where(_EVENTS.c.at >= start, _EVENTS.c.at <= end)
             .order_by(_EVENTS.c.at, _EVENTS.c.id))
    if line:
        query = query.where(_EVENTS.c.line == line)
    return list(db.execute(query))
