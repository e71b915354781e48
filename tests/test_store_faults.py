"""What the database refuses is not an outage, and callers are told only what was stored:
long caller IDs, read-only and full databases, replays, and recording URLs from elsewhere."""

from __future__ import annotations

import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from ivr import config, db
from ivr.core.recordings import is_twilio_recording
from ivr.store import call_events, cases, missed_calls
from ivr.store.tables import Case, CaseCall, MissedCall
from ivr.web import call_events as events_buffer
from tests.conftest import CCO, CERTICAMARA, Caller, Clock, recording

CARACAS = "America/Caracas"
CLIENT = "client:" + ("agente-de-soporte-" * 7)[:121]  # a Twilio Client: `client:` + 121
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _in_hours(clock: Clock) -> None:
    """CCO's support center is open (Monday 09:00 in Caracas) unless a test says otherwise."""
    clock.set("2026-11-30 09:00", CARACAS)


def _said_number(text: str) -> str | None:
    """The case number said in a prompt, or None when none was given."""
    if "Su número de caso es:" not in text:
        return None
    said = text.split("Su número de caso es:")[1].split(".")[0]
    return "".join(ch for ch in said if ch.isdigit())


def _rows(app: Flask, table: type[Any]) -> list[Any]:
    """Every row of a table."""
    with app.app_context():
        return list(db.session().scalars(sa.select(table)).all())


def _on_every_connection(app: Flask, pragma: str) -> None:
    """Run `pragma` on each new SQLite connection of the app (the pool starts afresh)."""
    engine = app.extensions["ivr.engine"]

    def run(connection: Any, record: Any) -> None:
        """Apply the pragma."""
        cursor = connection.cursor()
        cursor.execute(pragma)
        cursor.close()

    sa.event.listen(engine, "connect", run)
    engine.dispose()


def _read_only(app: Flask) -> None:
    """From now on the app's SQLite database can be read but not written."""
    _on_every_connection(app, "PRAGMA query_only=ON")


def _disk_full(app: Flask) -> None:
    """From now on the database cannot grow by a page: a full disk, as SQLite sees it."""
    with app.app_context():  # a page filled by one row, so the next row needs a new page
        missed_calls.append_transcription(db.session(), line="cco", node="x", call_sid="CA-fill",
                                          caller=None, text="x" * 4000, now=NOW)
    with app.extensions["ivr.engine"].connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    _on_every_connection(app, f"PRAGMA max_page_count={pages}")


# Long caller IDs, and refused values that are not outages


def test_long_client_caller_id_then_ordinary_callers_all_get_case_numbers(
    make_app: Any, store_url: str
) -> None:
    """A Twilio Client caller (128 characters) gets a number and is stored whole; the callers
    after it on the same worker get theirs too (PostgreSQL refused it before: 64 characters)."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_DB_RETRY_SECONDS=60)
    client = Caller(app.test_client())
    client.sid = "CA" + "a" * 32
    client.call(CCO, caller=CLIENT)
    assert len(CLIENT) == 128
    assert _said_number(client.press("1").text) is not None
    told = []
    for i in range(3):
        ordinary = Caller(app.test_client())
        ordinary.sid = f"CA{i:032d}"
        ordinary.call(CCO, caller=f"+58414000000{i}")
        told.append(_said_number(ordinary.press("1").text))
    assert None not in told
    stored = {c.call_sid: c.caller for c in _rows(app, Case)}
    assert stored["CA" + "a" * 32] == CLIENT and len(stored) == 4


def test_caller_longer_than_any_column_is_cut_not_refused(make_app: Any, store_url: str) -> None:
    """Whatever arrives (256 characters is all a webhook reads) fits: cut to the column."""
    app: Flask = make_app(DATABASE_URL=store_url)
    caller = Caller(app.test_client())
    caller.call(CCO, caller="sip:" + "x" * 400 + "@example.com")
    assert _said_number(caller.press("1").text) is not None
    [case] = _rows(app, Case)
    assert case.caller == ("sip:" + "x" * 400)[:256]


@pytest.mark.parametrize("error", [
    DataError("INSERT", {}, Exception("value too long for type character varying(64)")),
    IntegrityError("INSERT", {}, Exception("duplicate key")),
])
def test_a_refused_value_fails_that_step_only(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """A value the database refuses: that caller hears no number can be given; the next caller
    on the worker gets one (the store is not taken away for IVR_DB_RETRY_SECONDS)."""
    app: Flask = make_app(IVR_DB_RETRY_SECONDS=60)
    real = cases.issue_number
    calls = iter([error])

    def refuse_once(*args: Any, **kwargs: Any) -> str:
        """Raise the first time, then store as usual."""
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(cases, "issue_number", refuse_once)
    first = Caller(app.test_client())
    first.call(CCO)
    assert "no podemos darle un número de caso" in first.press("1").text
    second = Caller(app.test_client())
    second.sid = "CA" + "2" * 32
    second.call(CCO)
    assert _said_number(second.press("1").text) is not None


def test_a_lost_connection_still_spares_the_next_callers_the_wait(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dropped connection does open the circuit: the next caller does not wait on it."""
    app: Flask = make_app(IVR_DB_RETRY_SECONDS=60)
    tries = []

    def dropped(*args: Any, **kwargs: Any) -> str:
        """The server closed the connection."""
        tries.append(1)
        raise OperationalError("INSERT", {}, Exception("server closed the connection"),
                               connection_invalidated=True)

    monkeypatch.setattr(cases, "issue_number", dropped)
    for sid in ("CA" + "1" * 32, "CA" + "2" * 32):
        caller = Caller(app.test_client())
        caller.sid = sid
        caller.call(CCO)
        assert "no podemos darle un número de caso" in caller.press("1").text
    assert len(tries) == 1


def test_what_counts_as_unreachable(tmp_path: Any, store_url: str) -> None:
    """Real errors of each engine: a lost or refused connection is; a bad value is not."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError) as refused:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA query_only=ON")
            connection.exec_driver_sql("DELETE FROM cases")
        else:
            connection.exec_driver_sql("SELECT 1/0")
    engine.dispose()
    assert not db.unreachable(refused.value)
    away = db.make_engine(db.database_url("postgresql://nobody@127.0.0.1:1/none", "")
                          if engine.dialect.name == "postgresql"
                          else f"sqlite:///{tmp_path}/missing/x.db")
    with pytest.raises(sa.exc.DBAPIError) as lost, away.connect():
        pass
    assert db.unreachable(lost.value)


def test_database_errors_never_show_the_values(store_url: str) -> None:
    """hide_parameters: an error's text names no phone number or transcription."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError) as failed:
        connection.execute(sa.text("INSERT INTO nowhere VALUES (:phone)"),
                           {"phone": "+584141112233"})
    engine.dispose()
    assert "+584141112233" not in str(failed.value)


# Read-only and full databases: the truth for the caller, the URL kept in the log


def _to_voicemail(app: Flask, clock: Clock, break_it: Any = None) -> Caller:
    """A Saturday-night CCO call whose on-call chain fails: the caller is asked for a message
    (`break_it` breaks the database before the chain fails)."""
    clock.set("2026-11-28 03:00", CARACAS)
    caller = Caller(app.test_client())
    caller.call(CCO, caller="+584141112233")
    caller.press("1")
    caller.dial_ends("no-answer")
    if break_it is not None:
        break_it(app)
    assert caller.dial_ends("busy").one("Record") is not None
    return caller


@pytest.mark.parametrize("break_it", [_read_only, _disk_full], ids=["read-only", "disk-full"])
def test_voice_message_not_stored_is_not_thanked_and_its_url_is_logged(
    app: Flask, clock: Clock, caplog: pytest.LogCaptureFixture, break_it: Any
) -> None:
    """The database refuses the message: the caller hears that it could not be kept (not
    'Recibimos su mensaje'), and the log keeps the recording's URL for someone to fetch."""
    caller = _to_voicemail(app, clock, break_it)
    url = recording("5")
    with caplog.at_level(logging.WARNING):
        answer = caller.records(url=url)
    assert "Recibimos su mensaje" not in answer.text
    assert "no pudimos guardar su mensaje" in answer.text and "llame de nuevo" in answer.text
    assert any(url in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records)
    assert [m.call_sid for m in _rows(app, MissedCall)] in ([], ["CA-fill"])


def test_priority_1_voice_message_on_a_read_only_database(
    app: Flask, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Certicámara's priority-1 message, database read-only: no false thanks, URL in the log."""
    clock.set("2026-12-01 23:00", "America/Bogota")
    caller = Caller(app.test_client())
    caller.call(CERTICAMARA)
    caller.press("1")
    caller.dial_ends("no-answer")
    caller.dial_ends("no-answer")
    _read_only(app)
    with caplog.at_level(logging.WARNING):
        answer = caller.records(url=recording("6"))
    assert "no pudimos guardar su mensaje" in answer.text
    assert "Recibimos" not in answer.text
    assert any(recording("6") in r.getMessage() for r in caplog.records)


def test_voice_message_stored_is_thanked(app: Flask, clock: Clock) -> None:
    """The usual case still says thanks: the message is in the list."""
    caller = _to_voicemail(app, clock)
    assert "Recibimos su mensaje" in caller.records(url=recording("7")).text
    assert [m.recording_url for m in _rows(app, MissedCall)] == [recording("7")]


def _stored_case(app: Flask, clock: Clock) -> str:
    """A case opened earlier by another call."""
    with app.app_context():
        return cases.issue_number(db.connection(), call_sid="CA-earlier", line="cco",
                                  team="centro_soporte", caller=None, node="nuevo_caso",
                                  now=clock())


def test_look_up_on_a_read_only_database_still_gives_the_case(app: Flask, clock: Clock) -> None:
    """Only the note of the call fails: the caller hears the case and is routed to its team."""
    number = _stored_case(app, clock)
    _read_only(app)
    caller = Caller(app.test_client())
    caller.call(CCO)
    caller.press("2")
    found = caller.press(number)
    assert "Encontramos su caso" in found.text and "no podemos consultar" not in found.text
    assert found.one("Enqueue").text == "centro-soporte"
    assert [c.outcome for c in _rows(app, CaseCall)] == ["opened"]


# Replays: one note per (call, event)


def test_replayed_requests_note_each_event_once(make_app: Any, store_url: str,
                                                clock: Clock) -> None:
    """The same signed look-up and recording, each sent three times: one note of each."""
    app: Flask = make_app(DATABASE_URL=store_url)
    caller = Caller(app.test_client())
    caller.call(CCO)
    number = _said_number(caller.press("1").text)
    assert number is not None
    caller.silence()
    record_action = caller.last.one("Record").get("action")  # type: ignore[union-attr]
    for _ in range(3):
        caller.request(record_action, RecordingUrl=recording("8"), RecordingDuration="9")
    caller.call(CCO)
    caller.press("2")
    entry = caller.last.one("Gather").get("action")  # type: ignore[union-attr]
    for _ in range(3):
        assert "Encontramos su caso" in caller.request(entry, Digits=number).text
    outcomes = sorted(c.outcome for c in _rows(app, CaseCall))
    assert outcomes == ["looked-up", "opened", "recorded"]
    assert len(_rows(app, Case)) == 1


def test_notes_without_a_call_sid_are_all_kept(store_url: str) -> None:
    """The once-rule is per call: notes with no CallSid (an admin's test) are not merged."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        number = cases.issue_number(connection, call_sid=None, line="cco", team="t",
                                    caller=None, node="n", now=NOW)
        row = cases.summary(connection, number)
        assert row is not None
        for _ in range(2):
            cases.record_call(connection, row.id, call_sid=None, caller=None, node="n",
                              outcome="looked-up", now=NOW)
        count = connection.execute(sa.select(sa.func.count()).select_from(CaseCall)).scalar()
    engine.dispose()
    assert count == 3


def test_migration_0003_keeps_the_first_of_repeated_notes(store_url: str) -> None:
    """Notes repeated before 0003 are reduced to the first, and the index then holds."""
    engine = db.make_engine(store_url)
    db.drop_schema(engine)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(db.MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        case_id = connection.execute(sa.insert(Case.__table__).returning(Case.__table__.c.id), {
            "number": "12345678", "line": "cco", "team": "t", "level": 1, "status": "open",
            "call_sid": "CA1", "caller": None, "created_at": NOW, "updated_at": NOW}).scalar()
        for outcome in ("opened", "looked-up", "looked-up", "looked-up"):
            connection.execute(sa.insert(CaseCall.__table__), {
                "case_id": case_id, "call_sid": "CA1", "caller": None, "at": NOW, "node": "n",
                "outcome": outcome})
        command.upgrade(config, "head")
        outcomes = connection.execute(sa.select(CaseCall.outcome).order_by(CaseCall.id))
        assert list(outcomes.scalars()) == ["opened", "looked-up"]
    engine.dispose()


# Recording URLs: only Twilio's own


@pytest.mark.parametrize(("url", "ok"), [
    (recording("1"), True),
    (recording("1") + ".mp3", True),
    ("https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC" + "1" * 32
     + "/Recordings/RE" + "2" * 32, True),
    ("https://evil.example/2010-04-01/Accounts/AC" + "1" * 32 + "/Recordings/RE" + "2" * 32,
     False),
    ("http://api.twilio.com/2010-04-01/Accounts/AC" + "1" * 32 + "/Recordings/RE" + "2" * 32,
     False),
    ("https://api.twilio.com.evil.example/2010-04-01/Accounts/AC" + "1" * 32
     + "/Recordings/RE" + "2" * 32, False),
    ("https://api.twilio.com@evil.example/2010-04-01/Accounts/AC" + "1" * 32
     + "/Recordings/RE" + "2" * 32, False),
    ("https://eviltwilio.com/2010-04-01/Accounts/AC" + "1" * 32 + "/Recordings/RE" + "2" * 32,
     False),
    ("https://api.twilio.com/rec/RE1", False),
    ("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1", False),
    ("https://[::1/", False),
    ("", False),
])
def test_only_twilio_recording_urls_are_accepted(url: str, ok: bool) -> None:
    """https, a twilio.com host, the path of a recording under an account; nothing else."""
    assert is_twilio_recording(url) is ok


def test_a_foreign_recording_url_is_neither_stored_nor_thanked(
    app: Flask, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A signed request carrying someone else's URL: not stored, not shown to admins, logged."""
    caller = _to_voicemail(app, clock)
    evil = "https://evil.example/2010-04-01/Accounts/AC" + "1" * 32 + "/Recordings/RE1"
    with caplog.at_level(logging.WARNING):
        answer = caller.records(url=evil)
    assert "Recibimos su mensaje" not in answer.text
    assert all(m.recording_url is None for m in _rows(app, MissedCall))
    assert any("not a Twilio recording" in r.getMessage() for r in caplog.records)
    clock.set("2026-11-30 09:00", CARACAS)
    case_caller = Caller(app.test_client())
    case_caller.sid = "CA" + "9" * 32
    case_caller.call(CCO)
    case_caller.press("1")
    case_caller.silence()
    assert "quedó registrada" not in case_caller.records(url=evil).text
    assert all(c.recording_url is None for c in _rows(app, Case))



# A look-up's note goes with the worker's next batch


def test_a_batch_of_notes_keeps_each_once_and_skips_a_deleted_case(store_url: str) -> None:
    """`write_notes`: one transaction; a note already there (a retried webhook) or twice in
    the batch is kept once, and a note of a case removed since (by hand: the service deletes
    none) is dropped without costing the other notes theirs, on either engine."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        kept = cases.issue_number(connection, call_sid="CA-kept", line="cco", team="t",
                                  caller=None, node="n", now=NOW)
        gone = cases.issue_number(connection, call_sid="CA-gone", line="cco", team="t",
                                  caller=None, node="n", now=NOW)
        ids = {n: i for n, i in connection.execute(sa.select(Case.number, Case.id))}
        connection.execute(sa.delete(Case).where(Case.number == gone))
        connection.commit()

    def note(number_id: int, sid: str) -> dict[str, Any]:
        """A look-up note of call `sid` on a case."""
        return cases.note_values(number_id, call_sid=sid, caller="+573001112233",
                                 node="consulta", outcome="looked-up", now=NOW)

    cases.write_notes(engine, [note(ids[kept], "CA-1"), note(ids[gone], "CA-2"),
                               note(ids[kept], "CA-3"), note(ids[kept], "CA-1")])
    cases.write_notes(engine, [note(ids[kept], "CA-3"), note(ids[kept], "CA-4")])
    cases.write_notes(engine, [])
    with engine.connect() as connection:
        notes = connection.execute(sa.select(CaseCall.case_id, CaseCall.call_sid,
                                             CaseCall.outcome, CaseCall.at)
                                   .order_by(CaseCall.id))
        notes = [tuple(row) for row in notes]
    engine.dispose()
    assert notes == [(ids[kept], "CA-kept", "opened", NOW), (ids[kept], "CA-1", "looked-up", NOW),
                     (ids[kept], "CA-3", "looked-up", NOW), (ids[kept], "CA-4", "looked-up", NOW)]


def test_a_note_written_late_shows_where_it_happened(store_url: str) -> None:
    """A look-up's note reaches the table after notes of later events (the console's, written
    at once): the case's history still lists them by when each happened."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        number = cases.issue_number(connection, call_sid="CA-opened", line="cco", team="t",
                                    caller=None, node="n", now=NOW)
        case_id = connection.execute(sa.select(Case.id)).scalar_one()
        cases.record_call(connection, case_id, call_sid=None, caller=None, node="console",
                          outcome="callback-done", now=NOW.replace(minute=2))
    cases.write_notes(engine, [cases.note_values(
        case_id, call_sid="CA-look", caller=None, node="consulta", outcome="looked-up",
        now=NOW.replace(minute=1))])
    with Session(engine) as session:
        case = cases.case_with_calls(session, number)
        assert case is not None
        assert [c.outcome for c in case.calls] == ["opened", "looked-up", "callback-done"]
    engine.dispose()


def test_a_batch_of_notes_lost_names_its_calls_and_no_numbers(
    make_app: Any, store_url: str, clock: Clock, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """The callers heard their cases; when the batch cannot be written its ERROR line says how
    many notes were lost and of which calls (CallSids), with no phone or case number."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_EVENT_FLUSH_SECONDS=60,
                          IVR_NOTE_FLUSH_SECONDS=60)
    number = _stored_case(app, clock)
    sids = ["CA" + str(i) * 32 for i in range(1, 4)]
    for sid in sids:
        caller = Caller(app.test_client())
        caller.sid = sid
        caller.call(CCO, caller="+573001112233")
        caller.press("2")
        assert "Encontramos su caso" in caller.press(number).text

    def refused(*args: Any, **kwargs: Any) -> None:
        """What a database that went away says."""
        raise OperationalError("INSERT INTO case_calls ...", {}, Exception("gone"))

    monkeypatch.setattr(cases, "write_notes", refused)
    with caplog.at_level(logging.INFO):
        events_buffer.flush(app)
    [lost] = [r.getMessage() for r in caplog.records if "NOT STORED" in r.getMessage()]
    assert lost.startswith("NOT STORED: 3 look-up notes, of calls ")
    assert all(sid in lost for sid in sids)
    assert number not in lost and "3001112233" not in lost
    assert [c.outcome for c in _rows(app, CaseCall)] == ["opened"]
    monkeypatch.undo()  # the database is back: a batch kept would be written now
    events_buffer.flush(app)  # the batch was dropped, not kept to grow
    assert [c.outcome for c in _rows(app, CaseCall)] == ["opened"]


def _look_ups(app: Flask, number: str, sids: list[str]) -> None:
    """Each call looks the case up (its note buffered)."""
    for sid in sids:
        caller = Caller(app.test_client())
        caller.sid = sid
        caller.call(CCO)
        caller.press("2")
        assert "Encontramos su caso" in caller.press(number).text


def test_the_notes_wait_a_second_at_most_whatever_the_events_wait(make_app: Any) -> None:
    """What reads a look-up's note comes seconds after it: the notes' writer does not take
    IVR_EVENT_FLUSH_SECONDS beyond one second, though the dashboard's events may."""
    for setting, events, notes in (("60", 60.0, 1.0), ("0.5", 0.5, 0.5), ("0", 0.0, 0.0)):
        settings = config.from_environment({"IVR_EVENT_FLUSH_SECONDS": setting})
        assert (settings["IVR_EVENT_FLUSH_SECONDS"], settings["IVR_NOTE_FLUSH_SECONDS"]) == (
            events, notes)
        app: Flask = make_app(IVR_EVENT_FLUSH_SECONDS=settings["IVR_EVENT_FLUSH_SECONDS"],
                              IVR_NOTE_FLUSH_SECONDS=settings["IVR_NOTE_FLUSH_SECONDS"])
        assert app.extensions["ivr.call_events"].every == events
        assert app.extensions["ivr.look_up_notes"].every == notes


def test_a_batch_refused_by_one_note_costs_only_that_note(
    make_app: Any, store_url: str, clock: Clock, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case deleted between the batch's check and its insert (the foreign key refuses
    it): the batch is written note by note, and only that call's note is lost, and named;
    a note that fails otherwise meanwhile is named with its own error, the others stored."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_EVENT_FLUSH_SECONDS=60,
                          IVR_NOTE_FLUSH_SECONDS=60)
    number = _stored_case(app, clock)
    sids = ["CA" + str(i) * 32 for i in range(1, 5)]
    _look_ups(app, number, sids)
    real = cases.write_notes

    def refused_for_the_second(engine: Any, notes: Any) -> None:
        """What the database says of a batch holding the note of a case just deleted, and of
        the third note alone (the connection lost just then)."""
        if any(note["call_sid"] == sids[1] for note in notes):
            raise IntegrityError("INSERT INTO case_calls ...", {}, Exception("fk"))
        if [note["call_sid"] for note in notes] == [sids[2]]:
            raise OperationalError("INSERT INTO case_calls ...", {}, Exception("gone"))
        real(engine, notes)

    monkeypatch.setattr(cases, "write_notes", refused_for_the_second)
    with caplog.at_level(logging.INFO):
        events_buffer.flush(app)
    lost = [r.getMessage() for r in caplog.records if "NOT STORED" in r.getMessage()]
    assert lost == [f"NOT STORED: 1 look-up notes, of calls {sids[1]}: IntegrityError",
                    f"NOT STORED: 1 look-up notes, of calls {sids[2]}: OperationalError"]
    assert sorted((c.call_sid, c.outcome) for c in _rows(app, CaseCall)) == sorted(
        [("CA-earlier", "opened"), (sids[0], "looked-up"), (sids[3], "looked-up")])


def test_the_writer_goes_on_after_an_unexpected_error(
    make_app: Any, store_url: str, clock: Clock, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a batch raises, the flush (the writer thread's loop) does not: that batch is
    logged as lost, with its error's type, and the next one is written."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_EVENT_FLUSH_SECONDS=60,
                          IVR_NOTE_FLUSH_SECONDS=60)
    number = _stored_case(app, clock)
    _look_ups(app, number, ["CA" + "1" * 32])

    def broken(*args: Any, **kwargs: Any) -> None:
        """A fault that is not the database's."""
        raise RuntimeError("unexpected")

    monkeypatch.setattr(cases, "write_notes", broken)
    with caplog.at_level(logging.INFO):
        events_buffer.flush(app)
    [lost] = [r.getMessage() for r in caplog.records if "NOT STORED" in r.getMessage()]
    assert lost.endswith(": RuntimeError")
    monkeypatch.undo()
    _look_ups(app, number, ["CA" + "2" * 32])
    events_buffer.flush(app)
    assert [(c.call_sid, c.outcome) for c in _rows(app, CaseCall)] == [
        ("CA-earlier", "opened"), ("CA" + "2" * 32, "looked-up")]


def test_a_normal_stop_writes_the_notes_still_held(
    make_app: Any, store_url: str, clock: Clock
) -> None:
    """At a normal stop (gunicorn's SIGTERM ends the worker through `atexit`) the buffer's
    writer is stopped and what it held is written."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_EVENT_FLUSH_SECONDS=60,
                          IVR_NOTE_FLUSH_SECONDS=60)
    number = _stored_case(app, clock)
    _look_ups(app, number, ["CA" + "1" * 32])
    notes = app.extensions["ivr.look_up_notes"]
    assert notes.thread is not None and notes.thread.is_alive()
    assert [c.outcome for c in _rows(app, CaseCall)] == ["opened"]
    notes.close()
    assert not notes.thread.is_alive()
    assert [c.outcome for c in _rows(app, CaseCall)] == ["opened", "looked-up"]


class _HeldWriter(events_buffer.EventBuffer):
    """A buffer whose writes wait until the test lets them go, saying which thread wrote."""

    def __init__(self) -> None:
        """A buffer on no database, batching every minute."""
        super().__init__(engine=None, every=60)  # type: ignore[arg-type]
        self.writing, self.go = threading.Event(), threading.Event()
        self.written: list[tuple[str, int]] = []

    def write(self, rows: list[Any]) -> None:
        """Hold the batch until `go`, then keep it."""
        self.writing.set()
        assert self.go.wait(10)
        self.written.append((threading.current_thread().name, len(rows)))


def _not_running() -> threading.Thread:
    """What a fork leaves in the worker of a writer its master started: a thread not running."""
    copy = threading.Thread(target=lambda: None)
    copy.start()
    copy.join()
    return copy


def test_a_writer_that_does_not_run_is_started_again() -> None:
    """A worker forked after its master started a writer holds a copy that does not run: the
    next event starts one; and an event that comes after the stop is written at once."""
    buffer = _HeldWriter()
    buffer.go.set()
    buffer.thread = copy = _not_running()
    buffer.add(1)
    assert buffer.thread is not copy and buffer.thread.is_alive()
    buffer.close()
    buffer.add(2)
    assert sorted(size for _, size in buffer.written) == [1, 1]
    assert buffer.written[-1][0] == "MainThread" and not buffer.rows


def test_a_full_buffer_wakes_its_writer_and_a_stuck_one_bounds_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A webhook never writes a batch itself: a full buffer wakes the writer thread; while
    that writer is stuck (a database that hangs), the buffer stops at MAX_HELD and what it
    refuses is logged, not kept."""
    monkeypatch.setattr(events_buffer, "MAX_BUFFER", 3)
    monkeypatch.setattr(events_buffer, "MAX_HELD", 5)
    buffer = _HeldWriter()
    for i in range(3):
        buffer.add(i)
    assert buffer.writing.wait(10)  # woken long before its minute
    for i in range(3, 11):  # the writer holds the first batch: 5 kept, 3 refused
        buffer.add(i)
    assert len(buffer.rows) == 5

    def refusals() -> list[str]:
        """What was said of the rows refused."""
        return [r.getMessage() for r in caplog.records if "not written" in r.getMessage()]

    assert refusals() == ["1 call events not written: buffer full"]  # once, when it began
    buffer.go.set()
    buffer.close()
    assert [size for _, size in buffer.written] == [3, 5]
    assert buffer.written[0][0] == "call-events"  # the writer's thread, not the webhook's
    assert refusals() == ["1 call events not written: buffer full",
                          "2 call events not written: buffer full"]  # the rest, counted


def test_a_full_buffer_whose_writer_does_not_run_starts_one(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A buffer full when its writer is not running (a fork's copy) does not refuse for
    ever: the next event starts a writer, woken at once, and what was held is written."""
    monkeypatch.setattr(events_buffer, "MAX_BUFFER", 2)
    monkeypatch.setattr(events_buffer, "MAX_HELD", 2)
    buffer = _HeldWriter()
    buffer.go.set()
    buffer.rows, buffer.thread = [1, 2], _not_running()
    buffer.add(3)  # refused: the buffer is full
    assert buffer.writing.wait(10)  # but a writer runs, and was woken
    buffer.close()
    assert buffer.written[0] == ("call-events", 2)


# One pooled connection per request: threads that all read the overrides at once cannot take
# the whole pool and then wait on each other for a second one (callers told "unavailable")


def test_a_look_up_and_a_new_case_hold_one_connection_at_a_time(
    make_app: Any, store_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overrides are read afresh on each request here (TTL 0); by the time the webhook's
    own step checks out its connection, theirs is back in the pool."""
    app: Flask = make_app(DATABASE_URL=store_url)
    number = _stored_case(app, clock)
    pool = app.extensions["ivr.engine"].pool
    held: list[int] = []
    real_connection = db.connection

    def counted() -> sa.Connection:
        """The request's connection, noting how many the pool has out once it is taken."""
        connection = real_connection()
        held.append(pool.checkedout())
        return connection

    monkeypatch.setattr(db, "connection", counted)
    caller = Caller(app.test_client())
    caller.call(CCO)
    caller.press("2")
    assert "Encontramos su caso" in caller.press(number).text
    opener = Caller(app.test_client())
    opener.sid = "CA" + "7" * 32
    opener.call(CCO)
    assert _said_number(opener.press("1").text) is not None
    assert held and set(held) == {1}


def test_busy_workers_keep_their_few_connections(
    make_app: Any, store_url: str, clock: Clock
) -> None:
    """More callers at once than the pool holds: they take turns on the same connections,
    which stay open. No connection is opened per request (an overflow connection would be
    closed as soon as it came back: under load, a new server process per request)."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_DB_POOL_SIZE=2,
                          IVR_EVENT_FLUSH_SECONDS=60,
                          IVR_NOTE_FLUSH_SECONDS=60)
    number = _stored_case(app, clock)
    engine = app.extensions["ivr.engine"]
    engine.dispose()
    opened: list[object] = []
    sa.event.listen(engine, "connect", lambda *args: opened.append(args[0]))
    start = threading.Barrier(8)

    def look_ups(worker: int) -> list[bool]:
        """One caller after another on this thread, each looking the case up."""
        caller = Caller(app.test_client())
        start.wait()
        found = []
        for i in range(6):
            caller.sid = f"CA{worker:02d}{i:030d}"
            caller.call(CCO)
            caller.press("2")
            found.append("Encontramos su caso" in caller.press(number).text)
        return found

    with ThreadPoolExecutor(8) as threads:
        results = list(threads.map(look_ups, range(8)))
    assert all(all(r) for r in results)
    assert 1 <= len(opened) <= 2


def _kill_server_connections(url: str) -> int:
    """What a PostgreSQL restart does to the pool: every other connection to the database
    is closed by the server (each gone before this returns)."""
    engine = db.make_engine(url)
    with engine.connect() as admin:
        killed = admin.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    engine.dispose()
    return int(killed or 0)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("ttl", [0, 60], ids=["overrides-read", "overrides-cached"])
@pytest.mark.parametrize("idle", [0.0, 30.0], ids=["just-used", "idle"])
def test_a_restarted_postgresql_is_not_heard_by_callers(
    make_app: Any, store_url: str, clock: Clock, monotonic: Any, caplog: pytest.LogCaptureFixture,
    ttl: int, idle: float,
) -> None:
    """The server closes the pool's connections (a restart); the next callers, whether their
    connection was used a moment ago (its first statement fails and the step runs again) or
    sat idle (pinged and replaced when taken), hear their case and get a new number."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_DB_POOL_SIZE=1, IVR_OVERRIDE_TTL=ttl,
                          IVR_EVENT_FLUSH_SECONDS=60,
                          IVR_NOTE_FLUSH_SECONDS=60)
    number = _stored_case(app, clock)
    looker = Caller(app.test_client())
    looker.call(CCO)
    looker.press("2")
    assert "Encontramos su caso" in looker.press(number).text
    for turn, sid in enumerate(("CA" + "6" * 32, "CA" + "8" * 32)):
        assert _kill_server_connections(store_url) >= 1
        monotonic.advance(idle)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            caller = Caller(app.test_client())
            caller.sid = sid
            caller.call(CCO)
            if turn == 0:
                caller.press("2")
                assert "Encontramos su caso" in caller.press(number).text
            else:
                assert _said_number(caller.press("1").text) is not None
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        retried = [r for r in caplog.records if "runs again" in r.getMessage()]
        assert len(retried) == (0 if idle else 1)


def test_the_dashboards_events_are_written_whole_whatever_a_call_sends(
    make_app: Any, store_url: str, clock: Clock
) -> None:
    """A second's events are written in one batch (COPY on PostgreSQL): a signed call with a
    CallSid longer than its column is kept, cut, with the calls around it, and each event
    reads back as it was noted (time, call, line, node, outcome)."""
    app: Flask = make_app(DATABASE_URL=store_url, IVR_EVENT_FLUSH_SECONDS=60)
    sids = ["CA" + "1" * 32, "CA" + "x" * 198, "CA" + "2" * 32]
    for sid in sids:
        caller = Caller(app.test_client())
        caller.sid = sid
        caller.call(CCO)
        caller.press("2")
    with app.app_context():
        assert call_events.between(db.session(), clock(), clock()) == []  # not yet written
        events_buffer.flush(app)
        rows = call_events.between(db.session(), clock(), clock())
    assert [tuple(r) for r in rows] == [
        (clock(), sid[:64], "cco", node, outcome)
        for sid in sids for node, outcome in (("principal", "menu"), ("consulta_caso", "ask-case"))]


def _fill_pool(app: Flask, size: int) -> None:
    """`size` live connections in the pool, each used a moment ago (steady traffic)."""
    engine = app.extensions["ivr.engine"]
    held = [engine.connect() for _ in range(size)]
    for connection in held:
        connection.exec_driver_sql("SELECT 1")
        connection.rollback()
    for connection in held:
        connection.close()
    assert engine.pool.checkedin() == size


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("step", ["look-up", "new-case"])
def test_a_restart_with_a_full_pool_is_not_heard_by_callers(
    make_app: Any, store_url: str, clock: Clock, caplog: pytest.LogCaptureFixture, step: str,
) -> None:
    """The default pool (3 connections, all used a moment ago, so none is pinged); the server
    restarts while a caller is in the menus. Their next step is the first statement on a
    dead connection: it fails, and runs again on a new one, not on the next pooled one (every
    older pooled connection is replaced after a disconnect, as SQLAlchemy does): the caller
    hears their case. (Found by a review: the driver path first replaced only the one.)"""
    clock.set("2026-11-30 09:00", CARACAS)
    app: Flask = make_app(DATABASE_URL=store_url, IVR_OVERRIDE_TTL=60,
                          IVR_EVENT_FLUSH_SECONDS=60,
                          IVR_NOTE_FLUSH_SECONDS=60)
    number = _stored_case(app, clock)
    looker = Caller(app.test_client())
    looker.call(CCO)  # the overrides are read now, and cached
    looker.press("2")
    assert "Encontramos su caso" in looker.press(number).text
    caller = Caller(app.test_client())
    caller.sid = "CA" + "6" * 32
    caller.call(CCO)
    if step == "look-up":
        caller.press("2")
    _fill_pool(app, db.POOL_SIZE)
    assert _kill_server_connections(store_url) >= db.POOL_SIZE
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        if step == "look-up":
            assert "Encontramos su caso" in caller.press(number).text
        else:
            assert _said_number(caller.press("1").text) is not None
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_look_up_while_another_process_holds_the_write_lock_gives_the_case(
    make_app: Any, clock: Clock
) -> None:
    """SQLite: another process holds the file's write lock (a long admin transaction, a
    backup): the read answers (WAL: readers never wait) and the caller hears their case;
    only the note waits, and is lost. (Found by a review: read and note were one step.)"""
    clock.set("2026-11-30 09:00", CARACAS)
    app: Flask = make_app(IVR_EVENT_FLUSH_SECONDS=60,
                          IVR_NOTE_FLUSH_SECONDS=60)
    number = _stored_case(app, clock)
    engine = app.extensions["ivr.engine"]

    def short(connection: Any, record: Any) -> None:
        """Wait 0.2 s for the lock, not 5 s, after the app's own pragmas."""
        connection.execute("PRAGMA busy_timeout=200")

    sa.event.listen(engine, "connect", short)
    engine.dispose()
    writer = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        caller = Caller(app.test_client())
        caller.call(CCO)
        caller.press("2")
        writer.execute("BEGIN IMMEDIATE")
        said = caller.press(number).text
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert "Encontramos su caso" in said, said


def test_a_batch_of_events_the_database_refuses_is_sqlalchemys_error(store_url: str) -> None:
    """The dashboard's writer thread goes on after SQLAlchemy's errors (logged): a batch the
    database refuses (here: no table; on PostgreSQL through COPY, the driver's own API) is
    one, never the driver's, which would end the thread and every later batch with it."""
    engine = db.make_engine(store_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE call_events"))
    with pytest.raises(sa.exc.SQLAlchemyError):
        call_events.write(engine, [(NOW, "CA" + "1" * 32, "cco", "menu", "menu")])
    engine.dispose()
