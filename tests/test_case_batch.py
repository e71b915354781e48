"""New cases that come together are committed together (`ivr.store.case_batch`): each caller
still hears a number only once its case and first note are stored, and each call's error is
its own."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ivr import db
from ivr.core.check_digit import is_valid
from ivr.store import case_batch, cases
from ivr.store.case_batch import GroupCommit, LookUps, Together
from ivr.store.cases import NewCase
from tests.conftest import CCO, Caller
from tests.test_store_faults import _said_number

NOW = datetime(2026, 12, 1, 15, 0, 0, tzinfo=UTC)


def _case(sid: str | None, caller: str | None = "+582121234567") -> NewCase:
    """A new case of call `sid` on CCO's line."""
    return NewCase(call_sid=sid, line="cco", team="t", caller=caller, node="nuevo", now=NOW)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on a clean database, with a pool large enough for every thread here."""
    made = db.make_engine(store_url, pool_size=12)
    yield made
    made.dispose()


class Connections:
    """Hands out connections of `engine` (the leader's may wait for `gate`), then closes them."""

    def __init__(self, engine: Engine) -> None:
        """None handed out yet."""
        self.engine, self.opened = engine, []  # type: ignore[var-annotated]

    def connect(self, gate: threading.Event | None = None) -> Callable[[], Connection]:
        """A `connect` for one call: a new connection (after `gate`, if given)."""
        def connect() -> Connection:
            """Wait for the gate, then connect."""
            if gate is not None:
                assert gate.wait(10)
            connection = self.engine.connect()
            self.opened.append(connection)
            return connection
        return connect

    def close(self) -> None:
        """Close every connection handed out."""
        for connection in self.opened:
            connection.close()


def _stored(engine: Engine) -> dict[str, tuple[str, list[str]]]:
    """Each stored case by call: its number and the outcomes noted on it."""
    with engine.connect() as connection:
        found = connection.execute(sa.select(cases._CASES.c.call_sid, cases._CASES.c.number,
                                             cases._CASES.c.id)).all()
        notes = connection.execute(sa.select(cases._CALLS.c.case_id,
                                             cases._CALLS.c.outcome)).all()
    return {sid: (number, [o for c, o in notes if c == case_id])
            for sid, number, case_id in found}


def _together(
    engine: Engine, queue: Together[Any, Any], wanted: list[Any],
    check: Callable[[Any], Any] | None = None,
) -> tuple[list[Any], list[str]]:
    """Issue `wanted` at once: the first call's connection waits until all the others queue
    behind it. What each call got (its number or its error), and the statements sent."""
    connections = Connections(engine)
    sent: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """Keep the SQL of each statement sent."""
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", capture)
    gate = threading.Event()
    try:
        with ThreadPoolExecutor(len(wanted)) as threads:
            def issue(i: int) -> Any:
                """One call's answer, checked as soon as it is given (when `check`)."""
                answer = queue.run(connections.connect(gate if i == 0 else None), wanted[i])
                if check is not None:
                    check(answer)
                return answer

            futures: list[Future[Any]] = []
            for i in range(len(wanted)):
                futures.append(threads.submit(issue, i))
                with queue.changed:
                    assert queue.changed.wait_for(lambda n=i + 1: len(queue.queue) == n, 10)
            gate.set()
            results: list[Any] = []
            for future in futures:
                error = future.exception(10)
                results.append(error if error is not None else future.result())
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
        connections.close()
    assert not queue.queue and not queue.writing
    return results, sent


def _writes(sent: list[str]) -> list[str]:
    """The statements among `sent` but the tests' own reads."""
    return [s for s in sent if not s.lstrip().upper().startswith("SELECT")]


def _per_batch(engine: Engine) -> int:
    """Statements a batch sends: on PostgreSQL one, on SQLite the cases' and their notes'."""
    return 1 if engine.dialect.name == "postgresql" else 2


def test_cases_that_come_together_are_written_in_one_transaction(engine: Engine) -> None:
    """Five calls at once: one transaction for the five cases and their first notes; each caller
    gets a number of its own, stored with its note by the time the caller has it."""
    seen_by_another: list[bool] = []

    def check(number: str) -> None:
        """Another connection finds the case as soon as the number is given."""
        with engine.connect() as other:
            seen_by_another.append(other.execute(
                sa.select(cases._CASES.c.id).where(cases._CASES.c.number == number))
                .first() is not None)

    wanted = [_case(f"CA-together-{i}") for i in range(5)]
    results, sent = _together(engine, GroupCommit(), wanted, check)
    assert all(isinstance(r, str) and is_valid(r, 8) for r in results)
    assert len(set(results)) == 5
    assert len(_writes(sent)) == _per_batch(engine)
    assert seen_by_another == [True] * 5
    stored = _stored(engine)
    assert {sid: stored[sid][0] for sid in stored} == {
        w.call_sid: r for w, r in zip(wanted, results, strict=True)}
    assert all(outcomes == ["opened"] for _, outcomes in stored.values())


def test_a_batch_holds_max_batch_cases_and_the_next_call_writes_the_rest(
    engine: Engine,
) -> None:
    """Five calls at once with batches of two: three transactions, every case stored."""
    wanted = [_case(f"CA-turns-{i}") for i in range(5)]
    results, sent = _together(engine, GroupCommit(max_batch=2), wanted)
    assert len(set(results)) == 5
    # two batches of two, then the last case alone (as a batch: on PostgreSQL one statement,
    # on SQLite the case and its note)
    assert len(_writes(sent)) == 3 * _per_batch(engine)
    assert len(_stored(engine)) == 5


def test_a_call_with_a_case_gets_that_case_and_a_call_twice_gets_one(engine: Engine) -> None:
    """A replayed webhook in a batch hears its call's first number; the same call twice in one
    batch, one case; the others new ones (and no value at all of a kind, callers unknown,
    is no trouble)."""
    with engine.connect() as connection:
        earlier = cases.issue_number(connection, call_sid="CA-earlier", line="cco", team="t",
                                     caller=None, node="nuevo", now=NOW)
    wanted = [_case(sid, caller=None)
              for sid in ("CA-new-1", "CA-earlier", "CA-twice", "CA-twice", None)]
    results, _ = _together(engine, GroupCommit(), wanted)
    assert results[1] == earlier
    assert results[2] == results[3]
    assert len({results[0], results[1], results[2], results[4]}) == 4
    stored = _stored(engine)
    assert set(stored) == {"CA-earlier", "CA-new-1", "CA-twice", None}
    assert all(outcomes == ["opened"] for _, outcomes in stored.values())


def test_a_number_drawn_twice_in_a_batch_is_drawn_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two calls of a batch draw the same number: one keeps it, the other gets another."""
    draws = iter(["30300004", "30300004", "30300004"])
    real = cases.new_number
    monkeypatch.setattr(cases, "new_number", lambda digits: next(draws, None) or real(digits))
    results, _ = _together(engine, GroupCommit(), [_case("CA-a"), _case("CA-b")])
    assert results[0] == "30300004"
    assert isinstance(results[1], str) and results[1] != "30300004"
    assert len(_stored(engine)) == 2


class _Refused(Exception):
    """A driver's error, with PostgreSQL's SQLSTATE."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        """The error, and its SQLSTATE (None: the driver gave none)."""
        super().__init__(message)
        self.sqlstate = sqlstate


ONE_CALLS = {
    "a value refused": IntegrityError("INSERT", {}, _Refused("duplicate key", "23505")),
    "the connection lost": OperationalError("INSERT", {}, _Refused("server closed the "
                                            "connection"), connection_invalidated=True),
    "a deadlock": OperationalError("INSERT", {}, _Refused("deadlock detected", "40P01")),
    "the batch's own fault": TypeError("a bug in the batch"),
}


@pytest.mark.parametrize("error", ONE_CALLS.values(), ids=ONE_CALLS.keys())
def test_a_batch_failed_for_one_calls_sake_leaves_each_case_to_its_own_call(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    error: Exception,
) -> None:
    """The batch's transaction fails with what may be one call's fault, or passes: each call
    writes its case alone, and one call's error (a value refused) is that call's only."""
    def refused(connection: Connection, wanted: list[NewCase]) -> list[str | None]:
        """The batch is refused whole."""
        raise error

    real = cases.issue_number

    def alone(connection: Connection, **kwargs: Any) -> str:
        """One call's value is refused; the others are stored."""
        if kwargs["call_sid"] == "CA-bad":
            raise OperationalError("INSERT", {}, Exception("value too long"))
        return real(connection, **kwargs)

    monkeypatch.setattr(cases, "issue_batch", refused)
    monkeypatch.setattr(cases, "issue_number", alone)
    wanted = [_case("CA-1"), _case("CA-bad"), _case("CA-3")]
    results, _ = _together(engine, GroupCommit(), wanted)
    assert isinstance(results[1], OperationalError)
    assert isinstance(results[0], str) and isinstance(results[2], str)
    assert set(_stored(engine)) == {"CA-1", "CA-3"}
    assert f"a batch of 3 new cases failed ({type(error).__name__}): each is sent alone" \
        in caplog.text


AWAY = {
    "a statement timeout": OperationalError("INSERT", {}, _Refused(
        "canceling statement due to statement timeout", "57014")),
    "a database locked": OperationalError("INSERT", {}, _Refused("database is locked")),
    "a wait for the pool": PoolTimeout("QueuePool limit reached"),
}


@pytest.mark.parametrize("error", AWAY.values(), ids=AWAY.keys())
def test_a_batch_the_database_did_not_answer_is_not_sent_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, error: Exception,
) -> None:
    """The database hangs: the batch's statement times out. Each call of the batch fails with
    that error at once (its caller hears that no number can be given now; the worker stops
    asking when `db.unreachable` says so); none sends its case again, alone, to wait once more.
    (Found by review: each call sent its case a second time.)"""
    sent_alone: list[str | None] = []

    def hung_batch(connection: Connection, wanted: list[NewCase]) -> list[str | None]:
        """The batch's statement times out."""
        raise error

    def hung_alone(connection: Connection, **kwargs: Any) -> str:
        """A call sent alone: it must not be."""
        sent_alone.append(kwargs["call_sid"])
        raise error

    monkeypatch.setattr(cases, "issue_batch", hung_batch)
    monkeypatch.setattr(cases, "issue_number", hung_alone)
    results, _ = _together(engine, GroupCommit(), [_case(f"CA-hung-{i}") for i in range(3)])
    assert all(type(r) is type(error) and str(r) == str(error) for r in results)
    assert sent_alone == []
    assert _stored(engine) == {}


def test_a_call_taken_into_a_batch_waits_for_it_past_wait_seconds(
    engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call already in a batch being written when its `wait_seconds` run out waits for the
    batch and gets its number: a caller is never told there is no number while its case is
    being stored. (Found by review: it gave up, and its case was stored all the same.)"""
    queue = GroupCommit()
    expired = threading.Event()  # the follower's wait_seconds have passed
    observed = threading.Event()  # and it has seen that its turn had not come

    class Clocked(threading.Event):
        """A turn whose bounded wait lasts until the test says `wait_seconds` have passed."""

        def wait(self, timeout: float | None = None) -> bool:
            """Wait for the test's clock (bounded waits), or for the turn."""
            if timeout is None:
                return super().wait(10)
            assert expired.wait(10)
            came = self.is_set()
            observed.set()
            return came

    real = cases.issue_batch

    def slow_batch(connection: Connection, wanted: list[NewCase]) -> list[str | None]:
        """The batch (the follower in it) is written after the follower's wait ran out."""
        expired.set()
        assert observed.wait(10)
        return real(connection, wanted)

    monkeypatch.setattr(cases, "issue_batch", slow_batch)
    connections = Connections(engine)
    gate, event = threading.Event(), threading.Event
    try:
        with ThreadPoolExecutor(2) as threads:
            leader = threads.submit(queue.issue, connections.connect(gate), _case("CA-leader"))
            with queue.changed:
                assert queue.changed.wait_for(lambda: len(queue.queue) == 1, 10)
            monkeypatch.setattr(threading, "Event", Clocked)
            follower = threads.submit(queue.issue, connections.connect(), _case("CA-follower"))
            with queue.changed:
                assert queue.changed.wait_for(lambda: len(queue.queue) == 2, 10)
            monkeypatch.setattr(threading, "Event", event)
            gate.set()
            number = follower.result(10)
            leader.result(10)
    finally:
        connections.close()
    assert _stored(engine)["CA-follower"][0] == number
    assert not queue.queue and not queue.writing


def test_a_leader_that_cannot_connect_fails_its_own_call_and_passes_the_turn(
    engine: Engine,
) -> None:
    """The first call's connection fails: that caller gets the error; the calls behind it
    are written (one of them leads the next batch)."""
    queue = GroupCommit()
    connections = Connections(engine)
    gate = threading.Event()

    def broken() -> Connection:
        """The pool's wait timed out."""
        assert gate.wait(10)
        raise PoolTimeout("QueuePool limit reached")

    try:
        with ThreadPoolExecutor(3) as threads:
            first = threads.submit(queue.issue, broken, _case("CA-first"))
            with queue.changed:
                assert queue.changed.wait_for(lambda: len(queue.queue) == 1, 10)
            rest = [threads.submit(queue.issue, connections.connect(), _case(f"CA-{i}"))
                    for i in range(2)]
            with queue.changed:
                assert queue.changed.wait_for(lambda: len(queue.queue) == 3, 10)
            gate.set()
            assert isinstance(first.exception(10), PoolTimeout)
            numbers = [f.result(10) for f in rest]
    finally:
        connections.close()
    assert len(set(numbers)) == 2
    assert set(_stored(engine)) == {"CA-0", "CA-1"}
    assert not queue.queue and not queue.writing


def test_a_call_waiting_behind_a_stuck_batch_gives_up(engine: Engine) -> None:
    """The leader hangs (a database that does not answer): the call behind it waits
    `wait_seconds`, then fails as a wait for the pool does, and leaves the queue."""
    queue = GroupCommit(wait_seconds=0.01)
    gate = threading.Event()
    connections = Connections(engine)
    try:
        with ThreadPoolExecutor(1) as threads:
            stuck = threads.submit(queue.issue, connections.connect(gate), _case("CA-stuck"))
            with queue.changed:
                assert queue.changed.wait_for(lambda: len(queue.queue) == 1, 10)
            with pytest.raises(PoolTimeout):
                queue.issue(connections.connect(), _case("CA-behind"))
            assert len(queue.queue) == 1
            gate.set()
            assert is_valid(stuck.result(10), 8)
    finally:
        connections.close()
    assert set(_stored(engine)) == {"CA-stuck"}
    assert not queue.queue and not queue.writing


def test_a_call_alone_is_written_as_before(engine: Engine) -> None:
    """No other call at the time: its case goes by `issue_number` (on PostgreSQL one
    statement), and the queue is left empty."""
    queue = GroupCommit()
    connections = Connections(engine)
    sent: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    try:
        number = queue.issue(connections.connect(), _case("CA-alone"))
    finally:
        connections.close()
    assert is_valid(number, 8)
    assert len(_writes(sent)) == _per_batch(engine)
    assert not queue.queue and not queue.writing


def test_callers_at_once_each_hear_a_stored_number(
    make_app: Any, store_url: str
) -> None:
    """Eight callers ask for a case at once through the webhooks: each hears a number of its
    own, and each is stored with its call."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_DB_POOL_SIZE=2)
    start = threading.Barrier(8)

    def ask(worker: int) -> str | None:
        """One caller's new case: the number it heard."""
        caller = Caller(app.test_client())
        caller.sid = f"CA{worker:032d}"
        caller.call(CCO)
        start.wait()
        return _said_number(caller.press("1").text)

    with ThreadPoolExecutor(8) as threads:
        heard = list(threads.map(ask, range(8)))
    assert None not in heard and len(set(heard)) == 8
    stored = _stored(app.extensions["ivr.engine"])
    assert {stored[f"CA{w:032d}"][0] for w in range(8)} == set(heard)
    assert case_batch.MAX_BATCH >= 8



def test_a_call_stopped_while_it_waits_leaves_the_queue_and_passes_its_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A waiting call's thread is stopped (its wait raises, as a worker's abort would): it
    leaves the queue, and the turn it had just been handed goes to the next call waiting."""
    queue = GroupCommit()
    first, second = (case_batch._Waiting(_case(sid), threading.Event())
                     for sid in ("CA-stopped", "CA-next"))
    queue.queue.extend([first, second])
    queue.writing, first.lead = True, True

    class Stopped(threading.Event):
        """An event whose wait is interrupted."""

        def wait(self, timeout: float | None = None) -> bool:
            """Stopped mid-wait."""
            raise SystemExit(1)

    queue._leave(first)
    assert list(queue.queue) == [second] and second.lead and second.turn.is_set()
    assert queue.writing
    queue._leave(second)
    assert not queue.queue and not queue.writing

    stopping = GroupCommit()
    stopping.writing = True  # another call's batch is being written
    monkeypatch.setattr(threading, "Event", Stopped)
    with pytest.raises(SystemExit):
        stopping.issue(lambda: pytest.fail("a waiting call takes no connection"),
                       _case("CA-waits"))
    monkeypatch.undo()
    assert not stopping.queue


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_look_ups_that_come_together_are_one_read(engine: Engine) -> None:
    """Five look-ups at once on PostgreSQL: one statement; each call gets its own case's
    summary with its pending callback, None for a number no case has, the same row for a
    number asked twice."""
    with engine.connect() as connection:
        numbers = [cases.issue_number(connection, call_sid=f"CA-known-{i}", line="cco",
                                      team="t", caller=None, node="nuevo", now=NOW)
                   for i in range(3)]
    wanted = [numbers[0], "00000000", numbers[1], numbers[0], numbers[2]]
    results, sent = _together(engine, LookUps("cco"), wanted)
    assert len(sent) == 1 and "ANY" in sent[0]
    assert [r.number if r is not None else None for r in results] == [
        numbers[0], None, numbers[1], numbers[0], numbers[2]]
    with engine.connect() as connection:
        alone = [cases.summary(connection, n, callbacks_of="cco") for n in wanted]
    assert [tuple(r) if r is not None else None for r in results] == [
        tuple(r) if r is not None else None for r in alone]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_failed_read_of_look_ups_leaves_each_to_read_alone(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch's read fails (the connection lost under it): each call reads its case alone,
    and the log says so (with no case number)."""
    with engine.connect() as connection:
        number = cases.issue_number(connection, call_sid="CA-known", line="cco", team="t",
                                    caller=None, node="nuevo", now=NOW)

    def refused(*args: Any, **kwargs: Any) -> list[Any]:
        """The read is refused."""
        raise OperationalError("SELECT", {}, Exception("server closed the connection"),
                               connection_invalidated=True)

    monkeypatch.setattr(cases, "summaries", refused)
    results, _ = _together(engine, LookUps(None), [number, number, "00000000"])
    assert [r.number if r is not None else None for r in results] == [number, number, None]
    assert "a batch of 3 case look-ups failed (OperationalError)" in caplog.text
    assert number not in caplog.text


def test_look_ups_are_read_together_only_on_postgresql(store_url: str) -> None:
    """On SQLite a read is no round trip: `summaries` refuses it (each look-up reads alone)."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            assert cases.summaries(connection, ["00000000"]) == [None]
        else:
            with pytest.raises(ValueError):
                cases.summaries(connection, ["00000000"])
    engine.dispose()


def _leader_and_follower(
    queue: Together[Any, Any], run: Callable[[str, Callable[[], Any]], Any],
) -> tuple[Future[Any], Future[Any]]:
    """Call "leader" then "follower" at once, both in one batch (the leader's connection
    waits until the follower is queued behind it). Both futures, done."""
    gate = threading.Event()

    def gated() -> Any:
        """The leader's connection: given once the follower waits behind it."""
        assert gate.wait(10)
        return object()

    with ThreadPoolExecutor(2) as threads:
        leader = threads.submit(run, "leader", gated)
        with queue.changed:
            assert queue.changed.wait_for(lambda: len(queue.queue) == 1, 10)
        follower = threads.submit(run, "follower", object)
        with queue.changed:
            assert queue.changed.wait_for(lambda: len(queue.queue) == 2, 10)
        gate.set()
        for future in (leader, follower):
            future.exception(10)
    assert not queue.queue and not queue.writing
    return leader, follower


def test_a_follower_gets_no_more_tries_than_its_leader_after_a_lost_connection(
    make_app: Any,
) -> None:
    """The server drops every connection. A call alone sends twice (`attempt`: the first
    statement lost, once more on a new connection), and so do the batch's leader and its
    follower: the batch's statement counts as the follower's step's too, so its case sent
    alone is its second, not retried. (Found by review: the follower sent three times.)"""
    app = make_app()
    sends: dict[str, int] = {"leader": 0, "follower": 0}

    def lost() -> None:
        """A statement sent (counted as the engine's listener counts it), its connection
        lost."""
        db.count_statement()
        raise OperationalError("SELECT 1", {}, _Refused("server closed the connection"),
                               connection_invalidated=True)

    def alone(connection: Any, item: str) -> Any:
        """The call sent alone: lost."""
        sends[item] += 1
        lost()

    def together(connection: Any, items: Sequence[str]) -> dict[int, Any]:
        """The batch: lost."""
        for item in items:
            sends[item] += 1
        lost()
        return {}

    queue: Together[str, Any] = Together(alone, together, sent=db.count_statement)

    def run(item: str, connect: Callable[[], Any]) -> Any:
        """One webhook's step, as `db_steps._find` runs it."""
        with app.app_context():
            return db.attempt(lambda: queue.run(connect, item), f"no look-up for {item}")

    leader, follower = _leader_and_follower(queue, run)
    assert leader.result() is None and follower.result() is None
    assert sends == {"leader": 2, "follower": 2}
    with app.app_context():
        assert app.extensions["ivr.new_cases"].sent is db.count_statement


def test_a_followers_error_is_its_own() -> None:
    """A batch the database did not answer: the follower raises an error of its own (the same
    class and values), not the object the leader raised, whose traceback would show the
    leader's frames. (Found by review.)"""
    timeout = OperationalError("SELECT 1", {}, _Refused(
        "canceling statement due to statement timeout", "57014"))

    def hung_batch(connection: Any, items: Sequence[str]) -> dict[int, Any]:
        """The batch's statement times out."""
        raise timeout

    queue: Together[str, Any] = Together(lambda connection, item: None, hung_batch)
    leader, follower = _leader_and_follower(queue, lambda item, connect: queue.run(connect, item))
    error = follower.exception()
    assert isinstance(error, OperationalError) and db.unreachable(error)
    assert error is not leader.exception() and str(error) == str(timeout)
    frames = [frame.name for frame in traceback.extract_tb(error.__traceback__)]
    assert "hung_batch" not in frames and "_lead" not in frames, " > ".join(frames)


def test_the_module_says_what_a_failed_batch_does() -> None:
    """The module's account of a failed batch is the one the code follows (found by review:
    it still said every call of a failed batch is sent again alone)."""
    doc = " ".join((case_batch.__doc__ or "").split())
    assert "and every call of a batch that failed" not in doc
    assert "gives each of its calls that error at once" in doc
