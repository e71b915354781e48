"""Nothing private in the logs at the default level, and a caller's data forgotten on request."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from ivr import db
from ivr.store import cases
from ivr.store.tables import Case, CaseCall, MissedCall
from tests.conftest import CCO, Caller, Clock, recording

CARACAS = "America/Caracas"
PHONE = "+584141112233"
OTHER = "+584149998877"
DESCRIPTION = "Soy Marta Pérez de Inversiones Zamora, el ERP no factura"
MESSAGE = "Habla Marta Pérez, llámeme al cuatro uno cuatro"


def _number(text: str) -> str:
    """The case number said in a prompt."""
    said = text.split("Su número de caso es:")[1].split(".")[0]
    return "".join(ch for ch in said if ch.isdigit())


def _everything_logged(records: list[logging.LogRecord]) -> str:
    """Every record's message, arguments and exception text, as one string to search."""
    parts = []
    for record in records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or ""]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
    return "\n".join(parts)


def _calls_of_every_kind(app: Flask, clock: Clock) -> list[str]:
    """New case with a description, look-up, voice message with transcription, missed call,
    and a database failure; returns the case numbers said."""
    clock.set("2026-11-30 09:00", CARACAS)
    caller = Caller(app.test_client())
    caller.call(CCO, caller=PHONE)
    number = _number(caller.press("1").text)
    transcribe = caller.silence().one("Transcription").get("statusCallbackUrl")
    caller.records(url=recording("21"))
    caller.says(transcribe, DESCRIPTION)
    looker = Caller(app.test_client())
    looker.sid = "CA" + "2" * 32
    looker.call(CCO, caller=OTHER)
    looker.press("2")
    assert "Encontramos su caso" in looker.press(number).text
    clock.set("2026-11-28 03:00", CARACAS)
    night = Caller(app.test_client())
    night.sid = "CA" + "3" * 32
    night.call(CCO, caller=PHONE)
    night.press("1")
    night.dial_ends("no-answer")
    transcribe = night.dial_ends("busy").one("Transcription").get("statusCallbackUrl")
    night.records(url=recording("22"))
    night.says(transcribe, MESSAGE)
    gone = Caller(app.test_client())
    gone.sid = "CA" + "4" * 32
    gone.call(CCO, caller=OTHER)
    gone.press("1")
    gone.request(gone.last.one("Dial").get("action"),  # type: ignore[union-attr]
                 DialCallStatus="no-answer", CallStatus="completed")
    return [number]


def _database_failures(app: Flask, clock: Clock) -> None:
    """The same calls against a database that refuses every write (read-only)."""
    engine = app.extensions["ivr.engine"]

    def read_only(connection: Any, record: Any) -> None:
        """No writes from now on."""
        connection.execute("PRAGMA query_only=ON")

    sa.event.listen(engine, "connect", read_only)
    engine.dispose()
    clock.set("2026-11-30 09:00", CARACAS)
    caller = Caller(app.test_client())
    caller.sid = "CA" + "5" * 32
    caller.call(CCO, caller=PHONE)
    assert "no podemos darle un número" in caller.press("1").text
    clock.set("2026-11-28 03:00", CARACAS)
    night = Caller(app.test_client())
    night.sid = "CA" + "6" * 32
    night.call(CCO, caller=PHONE)
    night.press("1")
    night.dial_ends("no-answer")
    transcribe = night.dial_ends("busy").one("Transcription").get("statusCallbackUrl")
    assert "no pudimos guardar" in night.records(url=recording("23")).text
    night.says(transcribe, MESSAGE)


def test_logs_carry_no_number_case_or_transcription_at_info(
    app: Flask, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Every main path of the shipped lines, with caplog at INFO: no caller's number (in any
    form), no case number, no transcription in any record, the failures' included."""
    with caplog.at_level(logging.INFO):
        numbers = _calls_of_every_kind(app, clock)
        _database_failures(app, clock)
    logged = _everything_logged(caplog.records)
    # the paths were taken and logged (then searched): kept and lost messages, failures
    # (CCO's kept after-hours message goes on to the callback questions)
    assert '"outcome": "callback-confirm"' in logged and '"outcome": "message-lost"' in logged
    assert "NOT STORED" in logged and "no case number for call" in logged
    for secret in [PHONE, PHONE[1:], PHONE[4:], OTHER, OTHER[4:], *numbers, DESCRIPTION,
                   MESSAGE, "Marta"]:
        assert secret not in logged, secret


# flask ivr forget


def _seed(app: Flask, clock: Clock) -> dict[str, str]:
    """Cases, notes and missed calls of two callers; the case numbers by caller."""
    with app.app_context():
        session = db.session()
        mine = cases.open_case(session, call_sid="CA-a", line="cco", team="t", caller=PHONE,
                               node="n", now=clock())
        cases.attach_recording(session, mine.number, url=recording("31"), seconds=5,
                               now=clock())
        cases.attach_transcription(session, mine.number, DESCRIPTION, clock())
        theirs = cases.open_case(session, call_sid="CA-b", line="cco", team="t", caller=OTHER,
                                 node="n", now=clock())
        cases.record_call(session, theirs, call_sid="CA-c", caller=PHONE, node="n",
                          outcome="looked-up", now=clock())
        from ivr.store import missed_calls

        missed_calls.attach_recording(session, line="cco", node="m", call_sid="CA-d",
                                      caller=PHONE, url=recording("32"), seconds=3, now=clock())
        missed_calls.note_missed(session, line="cco", node="m", call_sid="CA-e", caller=OTHER,
                                 now=clock())
        return {PHONE: mine.number, OTHER: theirs.number}


def test_forget_removes_a_callers_data_and_says_what_it_did(
    make_app: Any, store_url: str, clock: Clock
) -> None:
    """The number written any way: their cases lose caller, recording and transcription; their
    notes and missed calls go; the recordings to delete at Twilio are listed; others stay."""
    app: Flask = make_app(DATABASE_URL=store_url)
    numbers = _seed(app, clock)
    result = app.test_cli_runner().invoke(args=["ivr", "forget", "0414-111 22 33",
                                                "--country", "ve", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"+584141112233: removed from 1 case(s) ({numbers[PHONE]})" in result.output
    assert "2 call note(s) deleted, 1 missed call(s) deleted" in result.output
    assert recording("31") in result.output and recording("32") in result.output
    with app.app_context():
        session = db.session()
        rows = {c.number: c for c in session.scalars(sa.select(Case))}
        notes = session.scalars(sa.select(CaseCall)).all()
        missed = session.scalars(sa.select(MissedCall)).all()
    mine, theirs = rows[numbers[PHONE]], rows[numbers[OTHER]]
    assert (mine.caller, mine.recording_url, mine.transcription) == (None, None, None)
    assert mine.status == "open" and theirs.caller == OTHER
    assert PHONE not in [n.caller for n in notes] and len(notes) == 1  # theirs: "opened"
    assert [m.caller for m in missed] == [OTHER]


@pytest.mark.parametrize(("args", "says"), [
    (["anonymous"], "many callers"),
    (["0414 111 2233"], "--country"),
    (["+58 12"], "not"),
])
def test_forget_refuses_what_is_not_one_caller(runner: Any, args: list[str], says: str) -> None:
    """A withheld number, a local number without a country, garbage: a usage error."""
    result = runner.invoke(args=["ivr", "forget", *args, "--yes"])
    assert result.exit_code == 2 and says in result.output


def test_forget_a_client_identity_and_ask_first(app: Flask, clock: Clock) -> None:
    """A Twilio Client caller is matched as written; without --yes the admin is asked."""
    client = "client:soporte-interno"
    with app.app_context():
        cases.open_case(db.session(), call_sid="CA-z", line="cco", team="t", caller=client,
                        node="n", now=clock())
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["ivr", "forget", client], input="n\n")
    assert refused.exit_code == 1
    done = runner.invoke(args=["ivr", "forget", client], input="y\n")
    assert done.exit_code == 0 and "removed from 1 case(s)" in done.output
