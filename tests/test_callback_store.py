"""The callback list in the database, on SQLite and PostgreSQL: order, atomic claims from two
processes, retries that keep the place, and unreachable after the last attempt."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session

from ivr import db
from ivr.store import callbacks, cases, direct
from ivr.store.tables import Callback, QueueWait

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
CALLBACKS = 40


def _add(session: Session, sid: str, severity: int, joined_minutes: int) -> int:
    """A pending callback of line cco."""
    row = Callback(line="cco", node="centro_soporte", call_sid=sid, number="+582125551234",
                   severity=severity, status="pending",
                   joined_at=NOW + timedelta(minutes=joined_minutes), requested_at=NOW,
                   attempts=0, updated_at=NOW)
    session.add(row)
    session.commit()
    return row.id


def _claim_all(url: str, analyst: str, out: multiprocessing.Queue[list[int]]) -> None:
    """In another process: claim callbacks until none is left; report the ids claimed."""
    engine = db.make_engine(url)
    claimed: list[int] = []
    with engine.connect() as connection:
        while (got := callbacks.claim_next(connection, line="cco", analyst=analyst,
                                           now=NOW)) is not None:
            claimed.append(got)
    engine.dispose()
    out.put(claimed)


def test_claims_from_two_processes_never_share_a_callback(store_url: str) -> None:
    """Two processes (two gunicorn machines) claim at once: each callback goes to exactly one."""
    engine = db.make_engine(store_url)
    with Session(engine) as session:
        ids = {_add(session, f"CA{i:032d}", 1 + i % 3, i) for i in range(CALLBACKS)}
    engine.dispose()
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[list[int]] = context.Queue()
    workers = [context.Process(target=_claim_all, args=(store_url, name, out))
               for name in ("ana", "beto")]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    first, second = results
    assert not set(first) & set(second)
    assert set(first) | set(second) == ids
    assert len(first) + len(second) == CALLBACKS


def test_claims_follow_severity_then_first_join(store_url: str) -> None:
    """The gravest first; within a severity, who joined the queue first."""
    engine = db.make_engine(store_url)
    with Session(engine) as session:
        late_two = _add(session, "CA" + "1" * 32, 2, 30)
        early_two = _add(session, "CA" + "2" * 32, 2, 0)
        one = _add(session, "CA" + "3" * 32, 1, 45)
    with engine.connect() as connection:
        order = [callbacks.claim_next(connection, line="cco", analyst="ana", now=NOW)
                 for _ in range(4)]
    engine.dispose()
    assert order == [one, early_two, late_two, None]


def test_unreached_callbacks_are_retried_in_place_then_closed(store_url: str) -> None:
    """No answer: back on the list with its place; after max_attempts, unreachable."""
    engine = db.make_engine(store_url)
    with Session(engine) as session:
        first = _add(session, "CA" + "1" * 32, 2, 0)
        _add(session, "CA" + "2" * 32, 2, 10)
        outcomes = []
        for outcome in ("no-answer", "busy", "voicemail"):
            with engine.connect() as connection:
                claimed = callbacks.claim_next(connection, line="cco", analyst="ana", now=NOW)
            assert claimed == first  # still ahead of the later caller of the same severity
            row = callbacks.record_outcome(session, first, outcome, max_attempts=3, now=NOW)
            outcomes.append((row.status, row.attempts, row.last_outcome))
    engine.dispose()
    assert outcomes == [("pending", 1, "no-answer"), ("pending", 2, "busy"),
                        ("unreachable", 3, "voicemail")]


def test_a_reached_callback_is_done(store_url: str) -> None:
    """Reached closes it; an unknown outcome is refused."""
    engine = db.make_engine(store_url)
    with Session(engine) as session:
        ident = _add(session, "CA" + "1" * 32, 1, 0)
        with pytest.raises(callbacks.CallbackError):
            callbacks.record_outcome(session, ident, "maybe", max_attempts=3, now=NOW)
        assert callbacks.record_outcome(session, ident, "reached", max_attempts=3,
                                        now=NOW).status == "done"
    engine.dispose()


def test_a_wait_keeps_its_queue_sid_and_the_claim_returns_it(store_url: str) -> None:
    """The first wait hit notes the QueueSid (or a later one fills it in while waiting); the
    claim gives it back with the call; a call that left is not changed any more."""
    engine = db.make_engine(store_url)
    queue = "QU" + "2" * 32
    with engine.connect() as connection:
        callbacks.joined_queue(connection, call_sid="CA1", line="cco", node="centro_soporte",
                               now=NOW)
        callbacks.joined_queue(connection, call_sid="CA1", line="cco", node="centro_soporte",
                               now=NOW + timedelta(minutes=1), queue_sid=queue)
        row = callbacks.claim_waiting(connection, line="cco", analyst="7")
        assert row is not None and (row.call_sid, row.joined_at, row.queue_sid) == (
            "CA1", NOW, queue)
        callbacks.left_queue(connection, "CA1", NOW)
        callbacks.joined_queue(connection, call_sid="CA1", line="cco", node="centro_soporte",
                               now=NOW, queue_sid="QU" + "3" * 32)
        assert connection.scalar(sa.select(QueueWait.queue_sid)) == queue
    engine.dispose()


def test_two_first_waits_of_one_call_at_once_keep_the_first(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same call's wait URL twice at once (both found no wait yet): the first insert
    stands, the second is refused quietly and leaves nothing open on the connection; each
    wait is committed at once (another connection sees it)."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection, engine.connect() as other:
        sent: list[str] = []
        if connection.dialect.name == "sqlite":
            connection.connection.driver_connection.set_trace_callback(sent.append)
        callbacks.joined_queue(connection, call_sid="CA1", line="cco", node="centro_soporte",
                               now=NOW)
        if sent:  # what sqlite3 itself sent: the read and the insert, no BEGIN, no COMMIT
            assert [sql.split()[0].upper() for sql in sent] == ["SELECT", "INSERT"]
        assert other.scalar(sa.select(sa.func.count()).select_from(QueueWait)) == 1
        other.rollback()
        never = direct.Statement(sa.select(QueueWait.id).where(sa.false()))
        monkeypatch.setattr(callbacks, "_WAIT_OF_CALL", never)  # the race: nothing seen yet
        callbacks.joined_queue(connection, call_sid="CA1", line="cco", node="centro_soporte",
                               now=NOW + timedelta(minutes=1))
        assert not connection.in_transaction()
        assert other.execute(sa.select(QueueWait.joined_at)).scalars().all() == [NOW]
    engine.dispose()


def test_migration_0007_goes_down_and_up(store_url: str) -> None:
    """Down to 0006 drops queue_waits.queue_sid (batch mode: SQLite too), up brings it back."""
    engine = db.make_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))

    def columns() -> set[str]:
        """queue_waits' columns now."""
        return {c["name"] for c in sa.inspect(engine).get_columns("queue_waits")}

    assert "queue_sid" in columns()
    for target in ("0006", "head"):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if target == "0006" else command.upgrade)(config, target)
        assert ("queue_sid" in columns()) == (target == "head")
    engine.dispose()


# A case looked up reads its pending callback in the same statement


def _callback(session: Session, sid: str, *, case: str, number: str | None,
              severity: int | None, status: str = "pending", line: str = "cco",
              joined_minutes: int = 0) -> int:
    """A callback of `case` to call back at `number`."""
    row = Callback(line=line, node="centro_soporte", call_sid=sid, number=number,
                   case_number=case, severity=severity, status=status,
                   joined_at=NOW + timedelta(minutes=joined_minutes), requested_at=NOW,
                   attempts=0, updated_at=NOW)
    session.add(row)
    session.commit()
    return row.id


def _read_with_case(connection: sa.Connection, number: str) -> tuple[Any, ...]:
    """(callback_id, callback_severity, callback_offered_to) as the look-up reads them, and
    the same from the separate queries (by case, then by that callback's number)."""
    row = cases.summary(connection, number, callbacks_of="cco")
    assert row is not None and row.number == number
    by_case = callbacks.pending_for(connection, line="cco", case_number=number)
    number_of_it = connection.scalar(sa.select(Callback.number).where(
        Callback.id == by_case.id)) if by_case is not None else None
    by_number = callbacks.pending_for(connection, line="cco", number=number_of_it)
    connection.rollback()
    separate = (None, None, None) if by_case is None else (
        by_case.id, by_case.severity,
        number_of_it if by_number is not None and by_number.id == by_case.id else None)
    return (row.callback_id, row.callback_severity, row.callback_offered_to), separate


def test_a_look_up_reads_the_first_open_callback_of_the_case(store_url: str) -> None:
    """The case's first open callback of the line (graver first, an unknown severity last,
    then who queued first; closed, still-asking and other lines' not), and whether it is also
    the first open one of its number: what the separate queries by case and number give."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        case = cases.issue_number(connection, call_sid="CA-case", line="cco", team="t",
                                  caller=None, node="n", now=NOW)
        other = cases.issue_number(connection, call_sid="CA-other", line="cco", team="t",
                                   caller=None, node="n", now=NOW)
    mine, theirs = "+584141112233", "+584121234567"
    with Session(engine) as session, engine.connect() as connection:
        assert _read_with_case(connection, case) == ((None, None, None),) * 2
        unknown = _callback(session, "CB1", case=case, number=mine, severity=None)
        assert _read_with_case(connection, case) == ((unknown, None, mine),) * 2
        three = _callback(session, "CB2", case=case, number=mine, severity=3, joined_minutes=5)
        for sid, status in (("CB3", "done"), ("CB4", "asking"), ("CB5", "cancelled")):
            _callback(session, sid, case=case, number=mine, severity=1, status=status)
        _callback(session, "CB6", case=case, number=mine, severity=1, line="certicamara")
        assert _read_with_case(connection, case) == ((three, 3, mine),) * 2
        claimed = _callback(session, "CB7", case=case, number=theirs, severity=2,
                            status="claimed", joined_minutes=9)
        assert _read_with_case(connection, case) == ((claimed, 2, theirs),) * 2
        # the same number's graver callback for another case comes first for that number
        _callback(session, "CB8", case=other, number=theirs, severity=1, joined_minutes=10)
        assert _read_with_case(connection, case) == ((claimed, 2, None),) * 2
        early = _callback(session, "CB9", case=case, number=None, severity=2)
        assert _read_with_case(connection, case) == ((early, 2, None),) * 2
        assert cases.summary(connection, "00000000", callbacks_of="cco") is None
        plain = cases.summary(connection, case)
        assert plain is not None and "callback_id" not in plain._fields
    engine.dispose()


def test_the_last_answer_puts_the_request_on_the_list_in_one_statement(store_url: str) -> None:
    """The severity and its due time kept, a request being asked put on the list, one the
    console holds already left as it is; none without a number to call, none for an unknown
    call; committed at once (another connection sees it), on SQLite by the one UPDATE alone."""
    engine = db.make_engine(store_url)
    due = NOW + timedelta(hours=2)
    with Session(engine) as session:
        _callback(session, "CA-asking", case="30300004", number="+582125551234",
                  severity=None, status="asking")
        _callback(session, "CA-claimed", case="30300012", number="+582125551234",
                  severity=3, status="claimed")
        _callback(session, "CA-no-number", case="30300020", number=None, severity=None,
                  status="asking")
    with engine.connect() as connection, engine.connect() as other:
        sqlite = connection.dialect.name == "sqlite"
        sent: list[str] = []
        if sqlite:
            connection.connection.driver_connection.set_trace_callback(sent.append)
        done = callbacks.complete(connection, "CA-asking", 2, due, NOW + timedelta(minutes=1))
        assert done == callbacks.Completed("30300004")
        if sqlite:
            assert [sql.split()[0].upper() for sql in sent] == ["UPDATE"]
        assert callbacks.complete(connection, "CA-claimed", 1, due, NOW) \
            == callbacks.Completed("30300012")
        assert callbacks.complete(connection, "CA-no-number", 1, due, NOW) is None
        assert callbacks.complete(connection, "CA-unknown", 1, due, NOW) is None
        rows = {r.call_sid: r for r in other.execute(sa.select(
            Callback.call_sid, Callback.status, Callback.severity, Callback.due_at,
            Callback.updated_at))}
        assert (rows["CA-asking"].status, rows["CA-asking"].severity) == ("pending", 2)
        assert rows["CA-asking"].due_at == due
        assert rows["CA-asking"].updated_at == NOW + timedelta(minutes=1)
        assert (rows["CA-claimed"].status, rows["CA-claimed"].severity) == ("claimed", 1)
        assert (rows["CA-no-number"].status, rows["CA-no-number"].severity) == ("asking", None)
    engine.dispose()


def test_inside_an_open_transaction_the_last_answer_and_a_wait_are_committed(
    store_url: str
) -> None:
    """On a connection already in a transaction, the same statements go through SQLAlchemy
    and are committed (another connection sees them)."""
    engine = db.make_engine(store_url)
    with Session(engine) as session:
        _callback(session, "CA-asking", case="30300004", number="+582125551234",
                  severity=None, status="asking")
    with engine.connect() as connection, engine.connect() as other:
        connection.execute(sa.select(1))
        assert connection.in_transaction()
        assert callbacks.complete(connection, "CA-asking", 2, NOW, NOW) \
            == callbacks.Completed("30300004")
        assert not connection.in_transaction()
        connection.execute(sa.select(1))
        callbacks.joined_queue(connection, call_sid="CA9", line="cco", node="centro_soporte",
                               now=NOW)
        assert not connection.in_transaction()
        assert other.scalar(sa.select(Callback.status)) == "pending"
        assert other.scalar(sa.select(QueueWait.call_sid)) == "CA9"
    engine.dispose()
