"""Call events: one small row per webhook, written in batches, read back as figures.

Each row: call, line, node, outcome, time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ivr.store.console_tables import CallEvent
from ivr.store.tables import table

_EVENTS = table(CallEvent)
_INSERT = sa.insert(_EVENTS)


def write(engine: Engine | Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert a batch of events in one statement and one transaction."""
    if not rows:
        return
    if isinstance(engine, Connection):
        engine.execute(_INSERT, list(rows))
        engine.commit()
        return
    with engine.begin() as connection:
        connection.execute(_INSERT, list(rows))


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
