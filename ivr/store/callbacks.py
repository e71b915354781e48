"""Callbacks in the database: places in the queues, requests, and atomic claims.

The place each caller joined the queue at, their requests, and claims such that two analysts
never get the same callback, on any number of machines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.store import direct
from ivr.store.tables import CALLBACK_OPEN, Callback, Case, CaseCall, QueueWait, table

OUTCOMES = ("reached", "no-answer", "busy", "voicemail", "failed")
_WAITS, _CALLBACKS = table(QueueWait), table(Callback)


class CallbackError(ValueError):
    """An admin asked for something about callbacks that cannot be done."""


def joined_queue(db: Connection, *, call_sid: str, line: str, node: str, now: datetime,
                 queue_sid: str | None = None) -> None:
    """Note when this call first joined a queue (later waits of the same call keep it).

    And the SID of Twilio's queue it waits in (kept up to date while it waits).
    """
    found = _first(db, _WAIT_OF_CALL, {"sid": call_sid})
    if found is not None:
        if queue_sid and found.queue_sid != queue_sid and found.left_at is None:
            db.execute(sa.update(_WAITS).where(_WAITS.c.id == found.id)
                       .values(queue_sid=queue_sid))
            db.commit()
        return
    try:
        _first(db, _JOINED, {"call_sid": call_sid, "line": line, "node": node,
                             "joined_at": now, "queue_sid": queue_sid})
    except IntegrityError:  # the same call's wait URL, twice at once: the first one stands
        if db.in_transaction():
            db.rollback()


# A wait webhook's statements, each committed on its own (see `_first`)
_WAIT_OF_CALL = direct.Statement(
    sa.select(_WAITS.c.id, _WAITS.c.queue_sid, _WAITS.c.left_at)
    .where(_WAITS.c.call_sid == direct.typed(_WAITS, "call_sid", "sid")))
_JOINED = direct.Statement(direct.with_values(
    sa.insert(_WAITS), _WAITS, ("call_sid", "line", "node", "joined_at", "queue_sid")))


def _first(db: Connection, statement: direct.Statement, values: dict[str, Any]) -> Any | None:
    """Send one statement, committed on its own; its first row, or None.

    Straight to the driver in autocommit (`direct`: no BEGIN, no COMMIT; on SQLite the
    file's lock held only inside the one call), or, inside a transaction already open,
    through SQLAlchemy and committed."""
    if not db.in_transaction():
        with direct.transaction(db, autocommit=True) as cursor:
            return cursor.first(statement, values)
    result = db.execute(cast(sa.Executable, statement.statement), values)
    row = result.first() if result.returns_rows else None
    db.commit()
    return row


def start_request(
    db: Session, *, call_sid: str, line: str, node: str, now: datetime
) -> Callback:
    """This call's callback request, made on its first question.

    Its place is when the call first joined the queue, and its case the one this call opened or
    looked up.
    """
    row = by_call(db, call_sid)
    if row is not None:
        return row
    joined = db.scalar(sa.select(QueueWait.joined_at).where(QueueWait.call_sid == call_sid))
    row = Callback(line=line, node=node, call_sid=call_sid, case_number=case_of_call(db, call_sid),
                   status="asking", joined_at=joined or now, requested_at=now, attempts=0,
                   updated_at=now)
    db.add(row)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        existing = by_call(db, call_sid)
        if existing is None:
            raise
        return existing
    return row


def case_of_call(db: Session, call_sid: str) -> str | None:
    """The case this call opened, else the last one it looked up."""
    opened = db.scalar(sa.select(Case.number).where(Case.call_sid == call_sid))
    if opened:
        return opened
    return db.scalar(sa.select(Case.number).join(CaseCall, CaseCall.case_id == Case.id)
                     .where(CaseCall.call_sid == call_sid)
                     .order_by(CaseCall.at.desc(), CaseCall.id.desc()).limit(1))


def set_number(db: Session, call_sid: str, number: str, now: datetime) -> bool:
    """Keep the number to call; False when the call has no request."""
    row = by_call(db, call_sid)
    if row is None:
        return False
    row.number, row.updated_at = number, now
    db.commit()
    return True


@dataclass(frozen=True)
class Completed:
    """A request put on the list by its last answer: the case it is about, if any."""

    case_number: str | None


# One statement: the severity, its due time, and the list (a request still being asked goes
# on it; one the console has taken already keeps its status).
_COMPLETE = direct.Statement(
    sa.update(_CALLBACKS)
    .where(_CALLBACKS.c.call_sid == direct.typed(_CALLBACKS, "call_sid", "sid"),
           _CALLBACKS.c.number.is_not(None))
    .values(severity=direct.typed(_CALLBACKS, "severity", "to_severity"),
            due_at=direct.typed(_CALLBACKS, "due_at", "to_due_at"),
            updated_at=direct.typed(_CALLBACKS, "updated_at", "to_updated_at"),
            status=sa.case((_CALLBACKS.c.status == "asking", "pending"),
                           else_=_CALLBACKS.c.status))
    .returning(_CALLBACKS.c.case_number))


def complete(
    db: Connection, call_sid: str, severity: int, due_at: datetime, now: datetime
) -> Completed | None:
    """The last answer: the request goes on the list (None: no request with a number).

    One UPDATE, committed on its own (autocommit): on PostgreSQL one round trip that waits
    for the disk, as the caller is told next that the request is kept; on SQLite one call,
    the file's write lock held only inside it. A connection lost on it may have committed it
    already: `ivr.db.attempt` then runs it once more, which gives the same row."""
    row = _first(db, _COMPLETE, {"sid": call_sid, "to_severity": severity, "to_due_at": due_at,
                                 "to_updated_at": now})
    return None if row is None else Completed(row.case_number)


def by_call(db: Session, call_sid: str) -> Callback | None:
    """The callback asked in this call, if any."""
    return db.scalars(sa.select(Callback).where(Callback.call_sid == call_sid)).one_or_none()


def get(db: Session, callback_id: int) -> Callback | None:
    """One callback by id, as the database has it now (claims change rows outside the ORM)."""
    return db.get(Callback, callback_id, populate_existing=True)


def listing(
    db: Session, *, line: str | None = None, statuses: Sequence[str] = CALLBACK_OPEN,
    limit: int = 100,
) -> Sequence[Callback]:
    """Callbacks in the order analysts take them: gravest first, then who queued first."""
    query = sa.select(Callback).where(Callback.status.in_(statuses)).order_by(
        *_ORDER).limit(limit)
    if line:
        query = query.where(Callback.line == line)
    return db.scalars(query).all()


# NULL severities (a request still being asked) sort last on both engines
_ORDER = (sa.func.coalesce(Callback.severity, 99), Callback.joined_at, Callback.id)


def claim_next(db: Connection, *, line: str, analyst: str, now: datetime) -> int | None:
    """Take the first pending callback of the line for `analyst`, atomically; its id or None.

    One UPDATE whose subquery picks the row: SQLite runs writers one at a time; PostgreSQL
    locks the row picked and lets a concurrent claim skip it (SKIP LOCKED) for the next one.
    The `status = 'pending'` in the outer WHERE makes a lost race claim nothing.
    """
    first = (sa.select(_CALLBACKS.c.id)
             .where(_CALLBACKS.c.line == line, _CALLBACKS.c.status == "pending")
             .order_by(sa.func.coalesce(_CALLBACKS.c.severity, 99), _CALLBACKS.c.joined_at,
                       _CALLBACKS.c.id)
             .limit(1).with_for_update(skip_locked=True).scalar_subquery())
    claimed = db.execute(
        sa.update(_CALLBACKS)
        .where(_CALLBACKS.c.id == first, _CALLBACKS.c.status == "pending")
        .values(status="claimed", claimed_by=analyst, claimed_at=now, updated_at=now,
                attempts=_CALLBACKS.c.attempts + 1)
        .returning(_CALLBACKS.c.id)).scalar()
    db.commit()
    return claimed


def record_outcome(
    db: Session, callback_id: int, outcome: str, *, max_attempts: int, now: datetime,
    claimed_by: str | None = None,
) -> Callback:
    """How a call back went: reached closes it; otherwise back on the list in its place.

    After `max_attempts` calls it closes as unreachable. With `claimed_by`, only a callback
    that this claimant holds now (a late report about a callback closed since changes nothing).
    """
    if outcome not in OUTCOMES:
        raise CallbackError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
    row = get(db, callback_id)
    if row is None:
        raise CallbackError(f"no callback {callback_id}")
    if claimed_by is not None and (row.status, row.claimed_by) != ("claimed", claimed_by):
        raise CallbackError(f"callback {callback_id} is not claimed by {claimed_by}")
    row.last_outcome, row.updated_at = outcome, now
    row.claimed_by = row.claimed_at = None
    if outcome == "reached":
        row.status = "done"
    elif row.attempts >= max_attempts:
        row.status = "unreachable"
    else:
        row.status = "pending"  # joined_at is unchanged: the place is kept
    db.commit()
    return row


def close(db: Session, callback_id: int, status: str, now: datetime) -> Callback:
    """Mark a callback done or cancelled by hand."""
    if status not in ("done", "cancelled"):
        raise CallbackError(f"status {status!r}: use done or cancelled")
    row = get(db, callback_id)
    if row is None:
        raise CallbackError(f"no callback {callback_id}")
    row.status, row.updated_at = status, now
    row.claimed_by = row.claimed_at = None
    db.commit()
    return row


def left_queue(db: Connection, call_sid: str, now: datetime) -> None:
    """The call left its queue (taken, hung up, or off to a callback)."""
    db.execute(sa.update(_WAITS).where(_WAITS.c.call_sid == call_sid, _WAITS.c.left_at.is_(None))
               .values(left_at=now))
    db.commit()


def claim_waiting(
    db: Connection, *, line: str, analyst: str
) -> sa.Row[tuple[str, str, datetime, str | None]] | None:
    """Take the caller who joined the line's queues first and still waits, atomically.

    As `claim_next` does; gives (node, call_sid, joined_at, queue_sid), or None when nobody
    waits.
    """
    first = (sa.select(_WAITS.c.id)
             .where(_WAITS.c.line == line, _WAITS.c.left_at.is_(None),
                    _WAITS.c.claimed_by.is_(None))
             .order_by(_WAITS.c.joined_at, _WAITS.c.id)
             .limit(1).with_for_update(skip_locked=True).scalar_subquery())
    row = db.execute(sa.update(_WAITS).where(_WAITS.c.id == first, _WAITS.c.claimed_by.is_(None))
                     .values(claimed_by=analyst)
                     .returning(_WAITS.c.node, _WAITS.c.call_sid, _WAITS.c.joined_at,
                                _WAITS.c.queue_sid)).first()
    db.commit()
    return row


def _open_ids() -> list[sa.ColumnElement[str]]:
    """The open statuses written into the statement (constants: no parameters to bind)."""
    return [sa.literal_column(f"'{status}'", _CALLBACKS.c.status.type)
            for status in CALLBACK_OPEN]


def _first_open(rows: sa.FromClause, *where: sa.ColumnElement[bool],
                columns: Sequence[str] = ("id",)) -> sa.Select[Any]:
    """The first open callback among `rows` that `where` picks, in the list's order.

    Its constants are written into the SQL: a look-up binds only its own values.
    """
    return (sa.select(*(rows.c[name] for name in columns))
            .where(rows.c.status.in_(_open_ids()), *where)
            .order_by(sa.func.coalesce(rows.c.severity, sa.literal_column("99")),
                      rows.c.joined_at, rows.c.id)
            .limit(sa.literal_column("1")))


# A repeat caller, recognised by number (at the incoming call) or by case (at a look-up):
# Core statements built once, reading only what the call needs.
_PENDING_OF_NUMBER = _first_open(
    _CALLBACKS, _CALLBACKS.c.line == sa.bindparam("line"),
    _CALLBACKS.c.number == sa.bindparam("value"), columns=("id", "severity"))
_PENDING_OF_CASE = _first_open(
    _CALLBACKS, _CALLBACKS.c.line == sa.bindparam("line"),
    _CALLBACKS.c.case_number == sa.bindparam("value"), columns=("id", "severity"))


def pending_for(db: Session | Connection, *, line: str, number: str | None = None,
                case_number: str | None = None) -> sa.Row[int, int | None] | None:
    """(id, severity) of the open callback of this number (or case) on the line, if any.

    The first in the list's order when there are several.
    """
    if number:
        statement, value = _PENDING_OF_NUMBER, number
    elif case_number:
        statement, value = _PENDING_OF_CASE, case_number
    else:
        return None
    row: sa.Row[int, int | None] | None = db.execute(
        statement, {"line": line, "value": value}).first()
    return row


def with_pending(summary: sa.Select[Any], case_number: sa.Column[str]) -> sa.Select[Any]:
    """`summary`, a select of one case, with that case's first open callback on line `:line`.

    Columns added: `callback_id` and `callback_severity` (None: nothing open), and
    `callback_offered_to`: its number when it is also the first open callback of that number
    on the line, the one a caller from that number was offered when the call came in (what
    `pending_for` by number gives), else None.
    """
    pending = _CALLBACKS.alias("pending")
    of_case, of_number = _CALLBACKS.alias("of_case"), _CALLBACKS.alias("of_number")
    first_of_case = _first_open(
        of_case, of_case.c.line == sa.bindparam("line"), of_case.c.case_number == case_number,
    ).scalar_subquery()
    first_of_number = _first_open(
        of_number, of_number.c.line == pending.c.line, of_number.c.number == pending.c.number,
    ).correlate(pending).scalar_subquery()
    return summary.join_from(case_number.table, pending, pending.c.id == first_of_case,
                             isouter=True).add_columns(
        pending.c.id.label("callback_id"), pending.c.severity.label("callback_severity"),
        sa.case((pending.c.id == first_of_number, pending.c.number)).label(
            "callback_offered_to"))


def change_severity(db: Session, callback_id: int, severity: int, due_at: datetime,
                    now: datetime) -> Callback | None:
    """A graver severity (and the earlier of the two due times); the place is kept."""
    row = get(db, callback_id)
    if row is None:
        return None
    row.severity, row.updated_at = severity, now
    row.due_at = min(row.due_at, due_at) if row.due_at else due_at
    db.commit()
    return row


def release(db: Session, callback_id: int, *, claimed_by: str, now: datetime) -> bool:
    """Give back a claimed callback untried: pending again in its place, the attempt uncounted.

    Only the claimant's own claim; False when it holds none (one UPDATE, so a release never
    undoes someone else's claim or outcome).
    """
    result = db.execute(
        sa.update(_CALLBACKS)
        .where(_CALLBACKS.c.id == callback_id, _CALLBACKS.c.status == "claimed",
               _CALLBACKS.c.claimed_by == claimed_by)
        .values(status="pending", claimed_by=None, claimed_at=None, updated_at=now,
                attempts=sa.case((_CALLBACKS.c.attempts > 0, _CALLBACKS.c.attempts - 1),
                                 else_=0)))
    db.commit()
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class Waiting:
    """A caller in a queue now: since when, being taken by whom, and their case."""

    line: str
    node: str
    call_sid: str
    joined_at: datetime
    claimed_by: str | None
    case_number: str | None
    caller: str | None


def waiting(db: Session, *, lines: Sequence[str], since: datetime,
            limit: int = 200) -> list[Waiting]:
    """Who waits in the lines' queues now (joined since `since`, not left), longest first.

    With the case the call opened or looked up, and that case's caller.
    """
    rows = db.execute(
        sa.select(_WAITS).where(_WAITS.c.line.in_(lines), _WAITS.c.left_at.is_(None),
                                _WAITS.c.joined_at >= since)
        .order_by(_WAITS.c.joined_at, _WAITS.c.id).limit(limit)).all()
    found = []
    for row in rows:
        number = case_of_call(db, row.call_sid)
        caller = (db.scalar(sa.select(Case.caller).where(Case.number == number))
                  if number else None)
        found.append(Waiting(row.line, row.node, row.call_sid, row.joined_at, row.claimed_by,
                             number, caller))
    return found


def requested_between(db: Session, *, lines: Sequence[str], start: datetime,
                      end: datetime) -> Sequence[Callback]:
    """Callbacks of the lines asked in [start, end) and put on the list (not still asking)."""
    return db.scalars(sa.select(Callback).where(
        Callback.line.in_(lines), Callback.requested_at >= start, Callback.requested_at < end,
        Callback.status != "asking").order_by(Callback.requested_at)).all()
