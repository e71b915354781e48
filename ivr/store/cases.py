"""Support cases in the database: issued once per call, unique by constraint, never lost."""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, TypeGuard, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ivr.core.check_digit import new_number
from ivr.store import direct
from ivr.store.callbacks import with_pending
from ivr.store.tables import CASE_STATUSES, Case, CaseCall, fit, table

NUMBER_TRIES = 20  # a random clash is rare; twenty in a row means the number space is full

# The statements of a call's hot path, built once (Core, on the tables: no ORM unit of work).
_CASES, _CALLS = table(Case), table(CaseCall)
_INSERT_CASE = sa.insert(_CASES).returning(_CASES.c.id)
# A new case unless its number or its call is taken (then no row: draw again, or the call's).
_NEW_CASE = {
    "postgresql": postgresql.insert(_CASES).on_conflict_do_nothing().returning(_CASES.c.id),
    "sqlite": sqlite.insert(_CASES).on_conflict_do_nothing().returning(_CASES.c.id),
}
_INSERT_CALL = sa.insert(_CALLS)
# A note of a call that is already there (a replayed or retried webhook) is not added again:
# the partial unique index uq_case_calls_once decides, on either engine.
_ONCE_COLUMNS = ["case_id", "call_sid", "outcome"]
_ONCE_WHERE = _CALLS.c.call_sid.isnot(None)
_NOTE_ONCE = {
    "postgresql": postgresql.insert(_CALLS).on_conflict_do_nothing(
        index_elements=_ONCE_COLUMNS, index_where=_ONCE_WHERE),
    "sqlite": sqlite.insert(_CALLS).on_conflict_do_nothing(
        index_elements=_ONCE_COLUMNS, index_where=_ONCE_WHERE),
}
_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit TO OFF")
_NUMBER_OF_CALL = sa.select(_CASES.c.number).where(_CASES.c.call_sid == sa.bindparam("sid"))
_SUMMARY = sa.select(_CASES.c.id, _CASES.c.number, _CASES.c.status, _CASES.c.team,
                     _CASES.c.level).where(_CASES.c.number == sa.bindparam("number"))
# The same, with the case's first open callback of a line (`:line`) in the same statement.
_SUMMARY_PENDING = with_pending(_SUMMARY, _CASES.c.number)
# PostgreSQL: the same of several cases at once (`:numbers`, an array), one row per case found.
_SUMMARIES = sa.select(_CASES.c.id, _CASES.c.number, _CASES.c.status, _CASES.c.team,
                       _CASES.c.level).where(_CASES.c.number == sa.any_(sa.bindparam(
                           "numbers", type_=postgresql.ARRAY(sa.String))))


_CASE_VALUES = ("number", "line", "team", "level", "status", "call_sid", "caller", "created_at",
                "updated_at")


def _issue_in_one() -> sa.CompoundSelect[Any]:
    """PostgreSQL, one statement: this call's case number, or a new case and its first note.

    The number the call already has (a replayed webhook) wins; otherwise the case is inserted
    (nothing when the number or the call clashes: the caller draws again) and, from what was
    inserted, the note that the call opened it. Committed on its own, waiting for the disk as
    any case does: a number told to a caller is stored.
    """
    def value(name: str, table: sa.Table = _CASES) -> sa.BindParameter[Any]:
        """A typed parameter for one column (of cases, unless `table`)."""
        return direct.typed(table, name)

    existing = sa.select(_CASES.c.number).where(_CASES.c.call_sid == value("call_sid")).cte(
        "existing")
    new = postgresql.insert(_CASES).from_select(
        list(_CASE_VALUES),
        sa.select(*(value(name) for name in _CASE_VALUES)).where(~sa.exists(existing.select())),
    ).on_conflict_do_nothing().returning(_CASES.c.id, _CASES.c.number).cte("new")
    opened = sa.insert(_CALLS).from_select(
        ["case_id", "call_sid", "caller", "at", "node", "outcome"],
        sa.select(new.c.id, value("call_sid"), value("caller"), value("created_at"),
                  value("node", _CALLS), sa.literal("opened", _CALLS.c.outcome.type)),
    ).cte("opened")
    return sa.union_all(sa.select(existing.c.number), sa.select(new.c.number)).add_cte(opened)


_ISSUE_IN_ONE = _issue_in_one()


_NOTE_COLUMNS = ("case_id", "call_sid", "caller", "at", "node", "outcome")
# The call's hot path sent straight to the driver (`direct`): a look-up's read, a new case
# with its first note (PostgreSQL: one statement; SQLite: the insert, then the note, in one
# transaction).
_DIRECT = {
    "summary": direct.Statement(_SUMMARY),
    "summary_pending": direct.Statement(_SUMMARY_PENDING),
    "note_once": direct.Statement(direct.with_values(
        sqlite.insert(_CALLS), _CALLS, _NOTE_COLUMNS).on_conflict_do_nothing(
            index_elements=_ONCE_COLUMNS, index_where=_ONCE_WHERE)),
    "issue_in_one": direct.Statement(_ISSUE_IN_ONE),
    "new_case": direct.Statement(direct.with_values(
        sqlite.insert(_CASES), _CASES, _CASE_VALUES).on_conflict_do_nothing().returning(
            _CASES.c.id)),
    "opened": direct.Statement(direct.with_values(sa.insert(_CALLS), _CALLS, _NOTE_COLUMNS)),
    "number_of_call": direct.Statement(_NUMBER_OF_CALL),
    "summaries": direct.Statement(_SUMMARIES),
    "summaries_pending": direct.Statement(with_pending(_SUMMARIES, _CASES.c.number)),
}
_DIRECT_DIALECTS = ("postgresql", "sqlite")
# A batch of notes (`write_notes`): each row from its values, if its case is still there.
_NOTE_ROW = sa.select(*(direct.typed(_CALLS, name) for name in _NOTE_COLUMNS)).where(
    sa.exists().where(_CASES.c.id == direct.typed(_CALLS, "case_id")))
_WRITE_NOTES = {
    "postgresql": postgresql.insert(_CALLS).from_select(list(_NOTE_COLUMNS), _NOTE_ROW)
    .on_conflict_do_nothing(index_elements=_ONCE_COLUMNS, index_where=_ONCE_WHERE),
    "sqlite": sqlite.insert(_CALLS).from_select(list(_NOTE_COLUMNS), _NOTE_ROW)
    .on_conflict_do_nothing(index_elements=_ONCE_COLUMNS, index_where=_ONCE_WHERE),
    "default": sa.insert(_CALLS).from_select(list(_NOTE_COLUMNS), _NOTE_ROW),
}


@functools.cache
def _batch_cases(rows: int) -> direct.Statement:
    """SQLite: the multi-row INSERT of `rows` new cases (none on a clash), their ids back."""
    return direct.Statement(sqlite.insert(_CASES).values([
        {name: direct.typed(_CASES, name, f"{name}_{i}") for name in _CASE_VALUES}
        for i in range(rows)]).on_conflict_do_nothing().returning(_CASES.c.id, _CASES.c.number))


@functools.cache
def _batch_notes(rows: int) -> direct.Statement:
    """SQLite: the multi-row INSERT of `rows` new cases' first notes."""
    return direct.Statement(sa.insert(_CALLS).values([
        {name: direct.typed(_CALLS, name, f"{name}_{i}") for name in _NOTE_COLUMNS}
        for i in range(rows)]))


# PostgreSQL, a batch in one statement: the cases from arrays of their values (one array per
# column, the same SQL for any batch), each inserted unless its number or call clashes, and
# from what was inserted its first note.
_BATCH_ARRAYS = {"number": "VARCHAR[]", "line": "VARCHAR[]", "team": "VARCHAR[]",
                 "call_sid": "VARCHAR[]", "caller": "VARCHAR[]", "at": "TIMESTAMPTZ[]",
                 "node": "VARCHAR[]"}
_ISSUE_BATCH_PG = direct.Statement(sa.text(f"""
WITH wanted AS (
    SELECT * FROM unnest({", ".join(f"CAST(:{k} AS {t})" for k, t in _BATCH_ARRAYS.items())})
        AS wanted({", ".join(_BATCH_ARRAYS)})
), new AS (
    INSERT INTO {_CASES.name} (number, line, team, level, status, call_sid, caller,
                               created_at, updated_at)
    SELECT number, line, team, 1, 'open', call_sid, caller, at, at FROM wanted
    ON CONFLICT DO NOTHING
    RETURNING id, number
), opened AS (
    INSERT INTO {_CALLS.name} (case_id, call_sid, caller, at, node, outcome)
    SELECT new.id, wanted.call_sid, wanted.caller, wanted.at, wanted.node, 'opened'
    FROM new JOIN wanted USING (number)
)
SELECT id, number FROM new"""))


@dataclass(frozen=True)
class NewCase:
    """A call that asks for a case: what `issue_number` opens it with."""

    call_sid: str | None
    line: str
    team: str
    caller: str | None
    node: str
    now: datetime
    digits: int = 8


def issue_batch(connection: Connection, wanted: Sequence[NewCase]) -> list[str | None]:
    """New cases of several calls, each with its first note, in one transaction.

    Each call's new number, committed when this returns, or None for a call this batch did
    not place (its number taken, drawn twice in the batch, or its call with a case already
    or twice in the batch): `issue_number` settles that one alone. On the driver (`direct`),
    outside any SQLAlchemy transaction, one commit for the whole batch: on PostgreSQL one
    statement (`_ISSUE_BATCH_PG`), on SQLite two (the cases, then their notes).
    """
    rows: list[dict[str, Any] | None] = []  # each call's case, None if not in the batch
    placed: list[tuple[dict[str, Any], str]] = []  # the cases in the batch, with their nodes
    numbers, calls = set(), set()
    for want in wanted:
        row = _case_row(new_number(want.digits), line=want.line, team=want.team,
                        call_sid=want.call_sid, caller=want.caller, now=want.now)
        if row["number"] in numbers or (row["call_sid"] is not None and row["call_sid"] in calls):
            rows.append(None)
            continue
        numbers.add(row["number"])
        calls.add(row["call_sid"])
        rows.append(row)
        placed.append((row, fit(_CALLS, {"node": want.node})["node"]))
    # in the order of their calls: two workers' batches that hold the same calls (replayed
    # webhooks) take the calls' unique keys in the same order, so they cannot deadlock
    placed.sort(key=lambda pair: (pair[0]["call_sid"] is None, pair[0]["call_sid"] or ""))
    if connection.dialect.name == "postgresql":
        at = _CASES.c.created_at.type.bind_processor(connection.dialect)
        assert at is not None
        arrays = {name: [row[name] for row, _ in placed]
                  for name in ("number", "line", "team", "call_sid", "caller")}
        with direct.transaction(connection, autocommit=True) as cursor:  # one round trip
            inserted = cursor.all(_ISSUE_BATCH_PG, {
                **arrays, "at": [at(row["created_at"]) for row, _ in placed],
                "node": [node for _, node in placed]})
        ids = {row.number: row.id for row in inserted}
    else:
        with direct.transaction(connection) as cursor:
            inserted = cursor.all(_batch_cases(len(placed)),
                                  _numbered([row for row, _ in placed]))
            ids = {row.number: row.id for row in inserted}
            notes = [{"case_id": ids[row["number"]], "call_sid": row["call_sid"],
                      "caller": row["caller"], "at": row["created_at"], "node": node,
                      "outcome": "opened"} for row, node in placed if row["number"] in ids]
            if notes:
                cursor.all(_batch_notes(len(notes)), _numbered(notes))
    return [str(row["number"]) if row is not None and row["number"] in ids else None
            for row in rows]


def _case_row(number: str, *, line: str, team: str, call_sid: str | None,
              caller: str | None, now: datetime) -> dict[str, Any]:
    """A new case's values as its columns take them (each cut to its column): open, level 1."""
    return fit(_CASES, {"number": number, "line": line, "team": team, "level": 1,
                        "status": "open", "call_sid": call_sid, "caller": caller,
                        "created_at": now, "updated_at": now})


def _numbered(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The rows' values as one multi-row statement names them (`number_0`, `line_0`, ...)."""
    return {f"{name}_{i}": value for i, row in enumerate(rows) for name, value in row.items()}


class CaseError(ValueError):
    """An admin asked for something about cases that cannot be done (unknown number, status)."""


def issue_number(
    db: Session | Connection, *, call_sid: str | None, line: str, team: str, caller: str | None,
    node: str, now: datetime, digits: int = 8,
) -> str:
    """The case number of this call: the one it already has, or a new one, stored.

    Plain INSERTs in one transaction (the case, then the call that opened it): the unique
    constraints decide, so a clash draws another number and a replayed webhook, or a race of
    the same call, returns the case stored first (looked for only after a clash: a new call,
    the common case, costs no read). On PostgreSQL, one statement per try (`_ISSUE_IN_ONE`).
    """
    if _direct_ok(db):
        return _issue_direct(db, call_sid=call_sid, line=line, team=team, caller=caller,
                             node=node, now=now, digits=digits)
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    insert = _NEW_CASE.get(dialect.name, _INSERT_CASE)
    for _ in range(NUMBER_TRIES):
        number = new_number(digits)
        try:
            case_id = db.execute(insert, _case_row(
                number, line=line, team=team, call_sid=call_sid, caller=caller, now=now,
            )).scalar()
            if case_id is not None:
                db.execute(_INSERT_CALL, fit(_CALLS, {"case_id": case_id, "call_sid": call_sid,
                                                      "caller": caller, "at": now, "node": node,
                                                      "outcome": "opened"}))
                db.commit()
                return number
        except IntegrityError:
            pass
        db.rollback()
        # Either the number was taken (try another) or this call has its case already.
        if call_sid:
            existing = _number_of_call(db, call_sid)
            if existing is not None:
                return existing
    raise RuntimeError(f"no free case number of {digits} digits after {NUMBER_TRIES} tries")


def _issue_direct(
    db: Connection, *, call_sid: str | None, line: str, team: str, caller: str | None,
    node: str, now: datetime, digits: int,
) -> str:
    """`issue_number` on the driver (`direct`), outside any SQLAlchemy transaction.

    PostgreSQL: each try one autocommitted statement (`_ISSUE_IN_ONE`: one round trip).
    SQLite: each try inserts the case (nothing on a clash) and its first note, committed
    together; after a clash, the call's own case if it has one, else another number.
    """
    postgresql = db.dialect.name == "postgresql"
    for _ in range(NUMBER_TRIES):
        case = _case_row(new_number(digits), line=line, team=team, call_sid=call_sid,
                         caller=caller, now=now)
        note_node = fit(_CALLS, {"node": node})["node"]
        with direct.transaction(db, autocommit=postgresql) as cursor:
            if postgresql:
                row = cursor.first(_DIRECT["issue_in_one"], {**case, "node": note_node})
                if row is not None:
                    return str(row[0])
                continue
            row = cursor.first(_DIRECT["new_case"], case)
            if row is not None:
                cursor.first(_DIRECT["opened"], {
                    "case_id": row[0], "call_sid": case["call_sid"], "caller": case["caller"],
                    "at": now, "node": note_node, "outcome": "opened"})
                return str(case["number"])
            existing = cursor.first(_DIRECT["number_of_call"], {"sid": case["call_sid"]}) \
                if call_sid else None
        if existing is not None:
            return str(existing[0])
    raise RuntimeError(f"no free case number of {digits} digits after {NUMBER_TRIES} tries")


def open_case(
    db: Session, *, call_sid: str | None, line: str, team: str, caller: str | None,
    node: str, now: datetime, digits: int = 8,
) -> Case:
    """Like `issue_number`, returning the stored case."""
    number = issue_number(db, call_sid=call_sid, line=line, team=team, caller=caller,
                          node=node, now=now, digits=digits)
    case = find_case(db, number)
    assert case is not None
    return case


def find_case(db: Session, number: str) -> Case | None:
    """The case with this number, or None."""
    return db.scalars(sa.select(Case).where(Case.number == number)).one_or_none()


def summary(
    db: Session | Connection, number: str, *, callbacks_of: str | None = None
) -> sa.Row[int, str, str, str, int] | None:
    """What a call needs of a case (id, number, status, team, level), without loading it.

    With `callbacks_of` (a line), in the same statement, the case's first open callback on
    that line: the columns `callbacks.with_pending` adds.
    """
    if _direct_ok(db):
        line = {} if callbacks_of is None else {"line": callbacks_of}
        with direct.transaction(db, autocommit=db.dialect.name == "postgresql") as cursor:
            row: Any = cursor.first(_DIRECT["summary" if callbacks_of is None
                                            else "summary_pending"], {"number": number, **line})
        return cast(sa.Row[int, str, str, str, int] | None, row)
    if callbacks_of is None:
        return db.execute(_SUMMARY, {"number": number}).one_or_none()
    return db.execute(_SUMMARY_PENDING, {"number": number, "line": callbacks_of}).one_or_none()


def summaries(connection: Connection, numbers: Sequence[str], *,
              callbacks_of: str | None = None) -> list[Any]:
    """`summary` of each of `numbers` (None where no case has it), in one read: PostgreSQL's.

    On the driver (`direct`), outside any SQLAlchemy transaction: one autocommitted
    statement, the cases matched by number (a number asked twice gets the same row)."""
    if not _direct_ok(connection) or connection.dialect.name != "postgresql":
        raise ValueError("summaries: a plain PostgreSQL connection, outside any transaction")
    line = {} if callbacks_of is None else {"line": callbacks_of}
    with direct.transaction(connection, autocommit=True) as cursor:
        rows = cursor.all(_DIRECT["summaries" if callbacks_of is None
                                  else "summaries_pending"], {"numbers": list(numbers), **line})
    found = {row.number: row for row in rows}
    return [found.get(number) for number in numbers]


def _direct_ok(db: Session | Connection) -> TypeGuard[Connection]:
    """Whether `db` is a plain connection, outside any transaction, the driver path takes."""
    return isinstance(db, Connection) and db.dialect.name in _DIRECT_DIALECTS \
        and not db.in_transaction()


def record_call(
    db: Session | Connection, case: Case | int, *, call_sid: str | None, caller: str | None,
    node: str, outcome: str, now: datetime,
) -> None:
    """Note that a call touched the case (which node, what came of it), once per event."""
    case_id = case if isinstance(case, int) else case.id
    if _direct_ok(db) and db.dialect.name == "sqlite":
        with direct.transaction(db, autocommit=True) as cursor:  # one statement
            cursor.first(_DIRECT["note_once"], fit(_CALLS, {
                "case_id": case_id, "call_sid": call_sid, "caller": caller, "at": now,
                "node": node, "outcome": outcome}))
        return
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    if dialect.name == "postgresql":
        # A note of a call, not a case: PostgreSQL may flush it with the next commits rather
        # than wait for the disk (a server crash could lose the last fraction of a second).
        db.execute(_ASYNC_COMMIT)
    db.execute(_NOTE_ONCE.get(dialect.name, _INSERT_CALL), fit(_CALLS, {
        "case_id": case_id, "call_sid": call_sid, "caller": caller, "at": now, "node": node,
        "outcome": outcome}))
    db.commit()


def note_values(case_id: int, *, call_sid: str | None, caller: str | None, node: str,
                outcome: str, now: datetime) -> dict[str, Any]:
    """A note of a call on a case, as `write_notes` takes it (each value cut to its column)."""
    return fit(_CALLS, {"case_id": case_id, "call_sid": call_sid, "caller": caller, "at": now,
                        "node": node, "outcome": outcome})


def write_notes(engine: Engine, notes: Sequence[Mapping[str, Any]]) -> None:
    """Write a batch of notes (`note_values`) in one transaction.

    Each once per (case, call, outcome), as `record_call` writes it; a note of a case no longer
    there (nothing in the service deletes one: removed by hand) is not written, nor does it
    cost the others theirs (a delete that races the batch: `NoteBuffer.write`).
    """
    if not notes:
        return
    with engine.begin() as connection:
        connection.execute(_WRITE_NOTES.get(connection.dialect.name, _WRITE_NOTES["default"]),
                           list(notes))


def attach_recording(
    db: Session, number: str, *, url: str | None, seconds: int | None, now: datetime
) -> Case | None:
    """Keep the recording of the caller's description with the case."""
    case = find_case(db, number)
    if case is not None and url:
        case.recording_url = fit(_CASES, {"recording_url": url})["recording_url"]
        case.recording_seconds, case.updated_at = seconds, now
        db.commit()
    return case


def attach_transcription(db: Session, number: str, text: str, now: datetime) -> Case | None:
    """Keep the transcription of the caller's description with the case."""
    case = find_case(db, number)
    if case is not None:
        case.transcription, case.updated_at = text, now
        db.commit()
    return case


def append_transcription(db: Session | Connection, number: str, text: str, now: datetime) -> bool:
    """Add one transcribed sentence to the case's description; False when there is no case.

    One UPDATE: sentences of one recording may arrive at once on two workers.
    """
    update = sa.update(_CASES).where(_CASES.c.number == number).values(
        transcription=appended(_CASES.c.transcription, text), updated_at=now)
    done = cast(sa.CursorResult[Any], db.execute(update))
    db.commit()
    return bool(done.rowcount)


def appended(column: sa.ColumnElement[str | None], text: str) -> sa.ColumnElement[str]:
    """SQL for `column` with one more sentence after a space (or the sentence alone)."""
    return sa.case((sa.or_(column.is_(None), column == ""), sa.literal(text)),
                   else_=column + sa.literal(" " + text))


def set_status(
    db: Session, number: str, status: str, now: datetime, level: int | None = None
) -> Case:
    """Change a case's status (and escalation level); raise CaseError if it cannot be done."""
    if status not in CASE_STATUSES:
        raise CaseError(f"unknown status {status!r}; use one of {', '.join(CASE_STATUSES)}")
    case = find_case(db, number)
    if case is None:
        raise CaseError(f"no case {number!r}")
    case.status, case.updated_at = status, now
    if level is not None:
        if not 1 <= level <= 9:
            raise CaseError(f"escalation level {level!r}: use 1 to 9")
        case.level = level
    db.commit()
    return case


def list_cases(
    db: Session, *, line: str | None = None, status: str | None = None, limit: int = 100
) -> Sequence[Case]:
    """The newest cases first, optionally of one line or status."""
    query = sa.select(Case).order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
    if line:
        query = query.where(Case.line == line)
    if status:
        query = query.where(Case.status == status)
    return db.scalars(query).all()


def case_with_calls(db: Session, number: str) -> Case | None:
    """A case with its calls loaded, for showing."""
    query = (sa.select(Case).where(Case.number == number).options(selectinload(Case.calls))
             .execution_options(populate_existing=True))
    return db.scalars(query).one_or_none()


EXPORT_COLUMNS = ("number", "line", "team", "level", "status", "caller", "call_sid",
                  "created_at", "updated_at", "recording_url", "transcription")


def export_csv(cases: Iterable[Case], out: IO[str]) -> int:
    """Write cases as CSV with a header row; return how many were written."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for case in cases:
        row = [getattr(case, column) for column in EXPORT_COLUMNS]
        writer.writerow([_cell(v) for v in row])
        count += 1
    return count


# '=', '@', a tab or CR, or '+'/'-' not followed by a plain number (a phone number stays as is)
_FORMULA = re.compile(r"[=@\t\r]|[+-](?![0-9]+$)")


def _cell(value: object) -> object:
    """A CSV cell; text a spreadsheet would run as a formula is kept as text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def all_cases(db: Session, batch: int = 1000) -> Iterable[Case]:
    """Every case, oldest first, read in batches (for exports of any size)."""
    last_id = 0
    while True:
        query = sa.select(Case).where(Case.id > last_id).order_by(Case.id).limit(batch)
        rows = db.scalars(query).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def _number_of_call(db: Session | Connection, call_sid: str) -> str | None:
    """The number of the case a call opened, if any."""
    sid = fit(_CASES, {"call_sid": call_sid})["call_sid"]
    number: str | None = db.execute(_NUMBER_OF_CALL, {"sid": sid}).scalar()
    return number
