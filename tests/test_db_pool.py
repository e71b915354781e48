"""The database pool under failures and load: a few connections per worker, one per request
at a time, released between steps; a step runs again only when nothing of it happened; a
busy pool is not a database outage. (Each of these failed on a first version of the small
pool, found by a review.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from ivr import db
from ivr.store.tables import Callback, MissedCall
from tests.conftest import CCO, Caller, Clock
from tests.fake_twilio import ACCOUNT, FakeTwilio
from tests.test_analysts import add_analyst, analyst_call, log_in
from tests.test_callbacks import CARACAS, ask_callback, queued, wait


def _pending_callbacks(client: Any, clock: Clock, count: int) -> None:
    """`count` callers each leave the queue for a callback (severity 1)."""
    for i in range(count):
        customer = Caller(client)
        customer.sid = f"CA{i + 1:032d}"
        queued(customer, clock, f"2026-11-30 10:0{i}", number=f"+58414111220{i}")
        wait(customer, 1, 0, 0)
        ask_callback(customer)
        customer.press("1")
        customer.press("1")


def _claimed(app: Flask) -> list[Callback]:
    """The callbacks claimed by an analyst now."""
    with app.app_context():
        return list(db.session().scalars(
            sa.select(Callback).where(Callback.status == "claimed")).all())


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_claim_whose_commit_reply_was_lost_is_not_claimed_twice(
        make_app: Any, store_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server commits the claim, then the connection drops before COMMIT's answer
    arrives (a restart or a network cut at that moment). A failed COMMIT is never retried
    (the claim may have happened): no second callback is claimed behind the analyst's back,
    and the analyst hears that the list cannot be read now."""
    import psycopg

    app: Flask = make_app(DATABASE_URL=store_url, IVR_EVENT_FLUSH_SECONDS=60)
    client = app.test_client()
    add_analyst(app.test_cli_runner())
    _pending_callbacks(client, clock, 2)
    clock.set("2026-11-30 10:30", CARACAS)
    analyst = analyst_call(client)
    log_in(analyst)

    engine = app.extensions["ivr.engine"]
    armed = {"claim": False, "fired": False}

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """Arm the drop at the claim's UPDATE."""
        if statement.lstrip().upper().startswith("UPDATE CALLBACKS") and not armed["fired"]:
            armed["claim"] = armed["fired"] = True

    real_commit = engine.dialect.do_commit

    def commit_then_drop(dbapi_connection: Any) -> None:
        """Commit, then lose the connection before the answer is read."""
        real_commit(dbapi_connection)
        if armed["claim"]:
            armed["claim"] = False
            dbapi_connection.dbapi_connection.close()  # the reply never arrives
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    sa.event.listen(engine, "before_cursor_execute", before)
    monkeypatch.setattr(engine.dialect, "do_commit", commit_then_drop)
    told = analyst.press("2")  # the next callback
    claimed = _claimed(app)
    assert len(claimed) == 1, [(c.id, c.claimed_by) for c in claimed]  # the one that happened
    assert "no podemos consultar la lista" in told.text  # what is true: it is not known


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_step_is_not_repeated_after_it_committed(
        make_app: Any, store_url: str, clock: Clock) -> None:
    """`missed_calls.append_transcription` commits its UPDATE, then reads the row again on a
    new checkout. The server drops the connection in between (pg_terminate_backend, as a
    restart does): the step is not run again (its first statement went through), so the
    sentence already stored is not appended a second time."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_EVENT_FLUSH_SECONDS=60)
    engine = app.extensions["ivr.engine"]
    admin = sa.create_engine(db.database_url(store_url, ""), poolclass=sa.pool.NullPool)
    armed = {"after_update": False, "fired": False}

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """After the UPDATE, close the connection from the server's side before the read."""
        text = statement.lstrip().upper()
        if text.startswith("UPDATE MISSED_CALLS") and not armed["fired"]:
            armed["after_update"] = armed["fired"] = True
        elif armed["after_update"] and text.startswith("SELECT") and "MISSED_CALLS" in text:
            armed["after_update"] = False
            pid = conn.connection.dbapi_connection.info.backend_pid
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid})

    sa.event.listen(engine, "before_cursor_execute", before)
    caller = Caller(app.test_client())
    sid = "CA" + "7" * 32
    response = caller.post("/voice/cco/message/buzon/transcribed", {
        "CallSid": sid, "From": "+584141112233", "TranscriptionEvent": "transcription-content",
        "Final": "true", "TranscriptionData": json.dumps({"transcript": "Hola."})})
    assert response.status_code == 200
    admin.dispose()
    with app.app_context():
        row = db.session().scalars(sa.select(MissedCall).where(MissedCall.call_sid == sid)).one()
        assert row.transcription == "Hola."


def _analyst_and_a_waiting_caller(make_app: Any, clock: Clock, fake_twilio: FakeTwilio,
                                  **config: Any) -> tuple[Flask, Caller]:
    """An app whose REST API is the fake, a caller waiting in the support queue (known to
    Twilio's queue), and an analyst logged in on the analysts' number."""
    app: Flask = make_app(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_API_BASE_URL=fake_twilio.url,
                          IVR_EVENT_FLUSH_SECONDS=60, **config)
    client = app.test_client()
    customer = Caller(client)
    customer.sid = "CA" + "a1" * 16
    fake_twilio.members["QU" + "2" * 32] = [customer.sid]
    queued(customer, clock, "2026-11-30 10:00")
    wait(customer, 1, 0, 0)
    add_analyst(app.test_cli_runner())
    clock.set("2026-11-30 10:07", CARACAS)
    analyst = analyst_call(client)
    log_in(analyst)
    return app, analyst


def test_a_slow_twilio_dequeue_holds_no_pooled_connection(
        make_app: Any, clock: Clock, fake_twilio: FakeTwilio) -> None:
    """1 on the analysts' number: after the claim and the read of the caller's case, the
    request's connection is back in the pool while Twilio's REST API is asked to dequeue
    the caller (up to 2 x 3 s per take, up to MAX_TAKES takes)."""
    app, analyst = _analyst_and_a_waiting_caller(make_app, clock, fake_twilio)
    pool = app.extensions["ivr.engine"].pool
    during: list[int] = []
    fake_twilio.on_member = lambda: during.append(pool.checkedout())
    analyst.press("1")
    assert during == [0]


def test_a_slow_twilio_dequeue_does_not_starve_callers(
        make_app: Any, clock: Clock, fake_twilio: FakeTwilio) -> None:
    """On a pool of one (IVR_DB_POOL_SIZE=1; with 3, as three analysts at once): a caller
    whose webhook arrives while Twilio is answering the dequeue gets a case number."""
    app, analyst = _analyst_and_a_waiting_caller(make_app, clock, fake_twilio,
                                                 IVR_DB_POOL_SIZE=1)
    app.extensions["ivr.engine"].pool._timeout = 0.05  # instead of the real 3 s wait
    told: list[str] = []

    def another_caller_meanwhile() -> None:
        """A caller opens a case while the REST call is in flight."""
        other = Caller(app.test_client())
        other.sid = "CA" + "c3" * 16
        other.call(CCO)
        told.append(other.press("1").text)

    fake_twilio.on_member = another_caller_meanwhile
    analyst.press("1")
    assert told and "Su número de caso es:" in told[0], told


def test_a_webhook_needs_one_connection_when_events_are_written_at_once(
        make_app: Any, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    """IVR_EVENT_FLUSH_SECONDS=0 (docs/console.md: "0 writes each at once"): the request's
    thread writes the events after its step, when its own connection is back in the pool:
    one connection is enough, nothing is lost."""
    app: Flask = make_app(IVR_EVENT_FLUSH_SECONDS=0, IVR_DB_POOL_SIZE=1)
    app.extensions["ivr.engine"].pool._timeout = 0.05  # instead of the real 3 s wait
    caller = Caller(app.test_client())
    caller.call(CCO)
    caller.press("1")  # a new case: the plain connection, then the event
    assert not [r.getMessage() for r in caplog.records if "not written" in r.getMessage()]


def test_a_busy_pool_is_not_taken_for_a_database_outage(make_app: Any, clock: Clock) -> None:
    """With no overflow, a wait for the pool that times out means "this worker's other
    threads hold the connections", not "the database is away": that step alone fails, and
    the next caller, once a connection is free, gets a number (no IVR_DB_RETRY_SECONDS of
    callers skipping the database)."""
    app: Flask = make_app(IVR_EVENT_FLUSH_SECONDS=60, IVR_DB_POOL_SIZE=1,
                          IVR_DB_RETRY_SECONDS=5)
    engine = app.extensions["ivr.engine"]
    engine.pool._timeout = 0.05  # instead of the real 3 s wait
    busy = engine.connect()  # another request's step holds the worker's only connection
    busy.exec_driver_sql("SELECT 1")
    first = Caller(app.test_client())
    first.call(CCO)
    first.press("1")  # waits for the pool, in vain: no number (fair enough)
    busy.close()  # the pool is free again
    second = Caller(app.test_client())
    second.sid = "CA" + "d4" * 16
    second.call(CCO)
    assert "Su número de caso es:" in second.press("1").text


@pytest.mark.parametrize("nested", [False, True], ids=["flush", "savepoint"])
def test_a_flushed_write_is_not_committed_by_taking_the_plain_connection(
        make_app: Any, nested: bool) -> None:
    """A session holding flushed, uncommitted writes (also after a savepoint ended) is not
    taken for one that only read: `db.connection()` does not commit it, and the caller's
    rollback undoes the writes. (No webhook flushes without committing today.)"""
    app: Flask = make_app()
    with app.test_request_context():
        session = db.session()
        session.add(MissedCall(line="cco", node="x", call_sid="CA" + "e" * 32, caller=None,
                               at=callbacks_now()))
        session.flush()
        if nested:
            with session.begin_nested():
                pass
        flag_after_flush = dict(session.info)
        db.connection()
        session.rollback()
    with app.app_context():
        kept = db.session().scalars(sa.select(MissedCall)).all()
    assert kept == []
    assert flag_after_flush == {"flushed": True}


def callbacks_now() -> Any:
    """A fixed moment."""
    return datetime(2026, 12, 1, 15, 0, tzinfo=UTC)

