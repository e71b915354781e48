"""Priority-1 calls reach a person at any hour: screening, escalation chains, voice messages."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ivr import db
from ivr.store import missed_calls
from tests.conftest import CCO, CERTICAMARA, Caller, Clock, Monotonic, recording

BOGOTA, CARACAS = "America/Bogota", "America/Caracas"
P1_MOBILE = "+573187174937"
ON_CALL = ["+584140143913", "+584140320151"]


def test_certicamara_priority_1_at_night_is_screened(caller: Caller, clock: Clock) -> None:
    """3 a.m.: 1 rings the 24/7 mobile, whose owner hears who calls and must press 1."""
    clock.set("2026-11-29 03:00", BOGOTA)
    caller.call(CERTICAMARA)
    dial = caller.press("1")
    assert dial.numbers == [(P1_MOBILE, None)]
    assert dial.one("Dial").get("answerOnBridge") == "true"
    assert dial.one("Dial").get("callerId") is None  # the callee sees the caller's number
    whisper, accepted = caller.screened("1")
    assert "Llamada de prioridad 1 de la línea Certicámara" in whisper.text
    assert "marque 1" in whisper.text
    assert whisper.one("Gather").get("numDigits") == "1"
    assert accepted.verbs == []  # an empty document: Twilio connects the two
    assert caller.dial_ends("completed", bridged="true").verbs == ["Hangup"]


@pytest.mark.parametrize("digits", [None, "2", "*"])
def test_declined_screening_moves_to_the_next_step(
    caller: Caller, clock: Clock, digits: str | None
) -> None:
    """Silence or another key ends the callee's leg; the parent call goes to the next step."""
    clock.set("2026-11-29 03:00", CARACAS)
    caller.call(CCO)
    caller.press("1")
    _, declined = caller.screened(digits)
    assert declined.verbs == ["Hangup"]
    second = caller.dial_ends("completed", bridged="false")
    assert [n for n, _ in second.numbers] == ON_CALL[1:]


def test_voicemail_answering_does_not_count_as_taken(caller: Caller, clock: Clock) -> None:
    """A mobile's voicemail answers but never presses 1: not bridged, so the chain goes on."""
    clock.set("2026-11-29 03:00", BOGOTA)
    caller.call(CERTICAMARA)
    caller.press("1")
    retry = caller.dial_ends("completed", bridged="false")
    assert retry.numbers == [(P1_MOBILE, None)]


def test_cco_priority_1_at_night_rings_both_on_call_mobiles(caller: Caller, clock: Clock) -> None:
    """No answer on the first on-call mobile: the second is dialled, both screened."""
    clock.set("2026-12-24 23:00", CARACAS)
    caller.call(CCO)
    first = caller.press("1")
    assert [n for n, _ in first.numbers] == ON_CALL[:1]
    assert first.all("Number")[0].get("url").endswith("/voice/cco/screen/guardia")
    second = caller.dial_ends("no-answer")
    assert [n for n, _ in second.numbers] == ON_CALL[1:]
    whisper, _ = caller.screened("1")
    assert "Llamada de emergencia" in whisper.text


def test_whole_chain_fails_message_is_recorded_and_kept(
    app: Flask, caller: Caller, clock: Clock, runner: Any
) -> None:
    """Nobody took it: the caller is told, leaves a message; the missed call is kept for admins."""
    clock.set("2026-11-29 03:00", CARACAS)
    caller.call(CCO, caller="+584141112233")
    caller.press("1")
    caller.dial_ends("no-answer")
    message = caller.dial_ends("busy")
    assert "nadie puede atender" in message.text
    record = message.one("Record")
    assert record.get("transcribe") is None and record.get("playBeep") == "true"
    spanish = message.one("Transcription")  # Twilio's <Record transcribe> is English-only
    assert spanish.get("languageCode") == "es-MX" and spanish.get("track") == "inbound_track"
    assert message.verbs[-3:] == ["Start", "Record", "Redirect"]
    thanks = caller.records(url=recording("77"), seconds=20)
    assert "Recibimos su mensaje" in thanks.text  # then the callback's questions
    assert thanks.verbs[0] == "Stop"
    assert thanks.one("Transcription").get("name") == spanish.get("name")
    caller.says(spanish.get("statusCallbackUrl"), "Se cayó el ERP.", "Llámenme, por favor.")
    with app.app_context():
        [missed] = missed_calls.listing(db.session())
    assert (missed.line, missed.node, missed.caller) == ("cco", "mensaje_guardia", "+584141112233")
    assert (missed.recording_url, missed.transcription) == (recording("77"),
                                                            "Se cayó el ERP. Llámenme, por favor.")
    listing = runner.invoke(args=["ivr", "missed"])
    assert recording("77") in listing.output and "Se cayó el ERP" in listing.output


def test_supervisor_extensions_are_screened_for_a_person(caller: Caller) -> None:
    """The switchboard answers at once; only a person at the extension who presses 1 counts."""
    caller.call(CERTICAMARA)
    caller.press("291")
    whisper, _ = caller.screened(None)
    assert "escalamiento de soporte" in whisper.text
    assert len(whisper.all("Say")) >= 3  # said again while the extension rings
    nxt = caller.dial_ends("completed", bridged="false")
    assert nxt.numbers == [("+576013790300", "wwww1107")]


ROTATING_LINE = """
id: turnos
name: Línea de prueba con turnos
numbers: ["+1 212 555 0100"]
country: US
timezone: America/New_York
start: guardia
on_call:
  semana:
    contacts:
      - {role: primero, number: "+1 212 555 0101"}
      - {role: segundo, number: "+1 212 555 0102"}
      - {role: tercero, number: "+1 212 555 0103"}
    handoff: {every: week, weekday: mon, time: "08:00"}
    start: 2026-03-02
    overrides:
      - {from: "2026-12-24 18:00", until: "2026-12-26 08:00", contact: tercero}
nodes:
  guardia:
    type: dial
    screen: filtro
    steps:
      - {on_call: semana, timeout: 20}
      - {on_call: semana, next: 1, timeout: 20}
"""


@pytest.fixture
def rotating(make_app: Any, tmp_path: Path) -> Caller:
    """A caller of a test line whose on-call rotation hands off on Mondays at 08:00 (New York)."""
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "turnos.yaml").write_text(ROTATING_LINE, encoding="utf-8")
    return Caller(make_app(IVR_MENU_DIR=str(menus)).test_client())


@pytest.mark.parametrize(
    ("when", "first", "then"),
    [
        ("2026-03-02 08:00", "+12125550101", "+12125550102"),  # the anchor hand-off
        ("2026-03-09 07:59", "+12125550101", "+12125550102"),  # after DST began, before 08:00
        ("2026-03-09 08:00", "+12125550102", "+12125550103"),  # the hand-off, to the minute
        ("2026-03-16 08:00", "+12125550103", "+12125550101"),
        ("2026-12-24 17:59", "+12125550101", "+12125550102"),  # 43 weeks on: the first again
        ("2026-12-24 18:00", "+12125550103", "+12125550101"),  # the override begins
        ("2026-12-26 07:59", "+12125550103", "+12125550101"),
        ("2026-12-26 08:00", "+12125550101", "+12125550102"),  # and expires
    ],
)
def test_rotation_hand_off_and_overrides_through_the_webhooks(
    rotating: Caller, clock: Clock, when: str, first: str, then: str
) -> None:
    """Who is rung first, and second, follows the rotation to the minute, in New York time."""
    clock.set(when, "America/New_York")
    twiml = rotating.call("+12125550100")
    assert [n for n, _ in twiml.numbers] == [first]
    assert [n for n, _ in rotating.dial_ends("no-answer").numbers] == [then]


def test_who_is_on_call_from_the_command_line(make_app: Any, tmp_path: Path) -> None:
    """`flask ivr oncall LINE --at ...` answers for a past or future instant."""
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "turnos.yaml").write_text(ROTATING_LINE, encoding="utf-8")
    runner = make_app(IVR_MENU_DIR=str(menus)).test_cli_runner()
    result = runner.invoke(args=["ivr", "oncall", "turnos", "--at", "2026-12-25 12:00"])
    assert result.exit_code == 0, result.output
    assert "tercero +1 212-555-0103 [override]" in result.output
    assert "order: tercero, then primero, then segundo" in result.output
    past = runner.invoke(args=["ivr", "oncall", "turnos", "semana", "--at", "2026-03-10 09:00"])
    assert "segundo" in past.output and "[rotation]" in past.output
    assert "2026-03-09 08:00 → 2026-03-16 08:00" in past.output


def test_seed_lines_on_call_from_the_command_line(runner: Any) -> None:
    """The shipped rotations: Certicámara's one 24/7 mobile, CCO's first then second."""
    p1 = runner.invoke(args=["ivr", "oncall", "certicamara"])
    assert "celular de prioridad 1 +57 318 7174937" in p1.output
    cco = runner.invoke(args=["ivr", "oncall", "cco", "--at", "2026-12-24 23:00"])
    assert "guardia principal" in cco.output
    assert "order: guardia principal, then guardia suplente" in cco.output


# Hours overrides set by an admin


def test_override_closes_a_line_until_a_time_then_expires(
    caller: Caller, clock: Clock, runner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An emergency closure from the CLI applies at once, is logged, and ends by itself."""
    clock.set("2026-12-01 10:00", BOGOTA)
    result = runner.invoke(args=["ivr", "override", "close", "certicamara", "--until",
                                 "2026-12-01 12:00", "--reason", "corte de energía"])
    assert result.exit_code == 0, result.output
    closed = caller.call(CERTICAMARA)
    assert "no estamos atendiendo" in closed.text and "prioridad 1" in closed.text
    assert "Nuestro horario" not in closed.text  # the weekly hours would contradict the closure
    assert any('"overrides": [1]' in r.getMessage() for r in caplog.records)
    clock.set("2026-12-01 12:00", BOGOTA)
    opened = caller.call(CERTICAMARA)
    assert "no estamos atendiendo" not in opened.text and "marque 2" in opened.text


def test_override_opens_a_holiday(caller: Caller, clock: Clock, runner: Any) -> None:
    """Opening on a holiday: the caller gets the menu, not the holiday message."""
    clock.set("2026-12-08 09:00", BOGOTA)
    assert "festivo" in caller.call(CERTICAMARA).text
    runner.invoke(args=["ivr", "override", "open", "certicamara", "--until", "2026-12-08 13:00"])
    assert "festivo" not in caller.call(CERTICAMARA).text
    assert caller.press("25").one("Enqueue").text == "soporte-subasta"


def test_override_of_one_node_and_its_cancellation(
    caller: Caller, clock: Clock, runner: Any
) -> None:
    """Closing only PQRSA leaves support open; cancelling the override reopens PQRSA."""
    clock.set("2026-12-01 10:00", BOGOTA)
    runner.invoke(args=["ivr", "override", "close", "certicamara", "--node", "pqrsa",
                        "--until", "2026-12-02 10:00"])
    caller.call(CERTICAMARA)
    assert "no estamos atendiendo" in caller.press("3").text
    caller.call(CERTICAMARA)
    assert caller.press("25").one("Enqueue").text == "soporte-subasta"
    listing = runner.invoke(args=["ivr", "override", "list"])
    assert "pqrsa" in listing.output and "closed" in listing.output
    assert runner.invoke(args=["ivr", "override", "cancel", "1"]).exit_code == 0
    caller.call(CERTICAMARA)
    assert caller.press("3").one("Enqueue").text == "pqrsa"


def test_override_that_starts_later_does_nothing_yet(
    caller: Caller, clock: Clock, runner: Any
) -> None:
    """An override scheduled for tomorrow does not touch today's calls."""
    clock.set("2026-12-01 10:00", BOGOTA)
    runner.invoke(args=["ivr", "override", "close", "certicamara", "--from", "2026-12-02 08:00",
                        "--until", "2026-12-02 18:00"])
    assert "marque 2" in caller.call(CERTICAMARA).text
    clock.set("2026-12-02 08:00", BOGOTA)
    assert "no estamos atendiendo" in caller.call(CERTICAMARA).text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["close", "nowhere", "--until", "2026-12-01 12:00"], "no line 'nowhere'"),
        (["close", "certicamara", "--node", "x", "--until", "2026-12-01 12:00"], "no node 'x'"),
        (["close", "certicamara", "--until", "mañana"], "is not a date and time"),
        (["close", "certicamara", "--until", "2026-11-30 12:00"], "is not after"),
        (["close", "certicamara", "--from", "2026-11-29 08:00", "--until", "2026-11-30 12:00"],
         "already past"),
        (["cancel", "99"], "no active override 99"),
    ],
)
def test_override_mistakes_are_refused(
    runner: Any, clock: Clock, args: list[str], message: str
) -> None:
    """Admin mistakes get a message that says what is wrong."""
    clock.set("2026-12-01 10:00", BOGOTA)
    result = runner.invoke(args=["ivr", "override", *args])
    assert result.exit_code != 0 and message in result.output


def test_hand_off_between_two_steps_keeps_the_chain_as_it_began(
    rotating: Caller, clock: Clock
) -> None:
    """A chain that starts at 07:59:50 rings the next of *that* rotation after the hand-off."""
    clock.set("2026-03-09 07:59:50", "America/New_York")
    first = rotating.call("+12125550100")
    assert [n for n, _ in first.numbers] == ["+12125550101"]
    clock.set("2026-03-09 08:00:12", "America/New_York")
    assert [n for n, _ in rotating.dial_ends("no-answer").numbers] == ["+12125550102"]


def test_newest_line_override_wins(caller: Caller, clock: Clock, runner: Any) -> None:
    """Closed, then opened again by a newer override: the newer one decides."""
    clock.set("2026-12-01 10:00", BOGOTA)
    runner.invoke(args=["ivr", "override", "close", "certicamara", "--until", "2026-12-01 18:00"])
    assert "no estamos atendiendo" in caller.call(CERTICAMARA).text
    runner.invoke(args=["ivr", "override", "open", "certicamara", "--until", "2026-12-01 18:00"])
    assert "no estamos atendiendo" not in caller.call(CERTICAMARA).text


def test_message_kept_even_if_the_database_blinked_when_the_chain_failed(
    app: Flask, caller: Caller, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The missed call could not be noted when the chain failed; the message still keeps it."""
    from sqlalchemy.exc import OperationalError

    def away(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT", {}, Exception("database away"))

    clock.set("2026-11-29 03:00", CARACAS)
    caller.call(CCO, caller="+584141112233")
    caller.press("1")
    caller.dial_ends("no-answer")
    with monkeypatch.context() as patch:
        patch.setattr(missed_calls, "note_missed", away)
        caller.dial_ends("busy")
    caller.records(url=recording("99"), seconds=9)
    with app.app_context():
        [missed] = missed_calls.listing(db.session())
    assert (missed.recording_url, missed.caller) == (recording("99"),
                                                     "+584141112233")


def test_caller_who_hangs_up_while_it_rings_is_kept_as_missed(
    app: Flask, caller: Caller, clock: Clock
) -> None:
    """3 a.m., the caller gives up while the first mobile rings: no more ringing, a missed call."""
    clock.set("2026-11-29 03:00", CARACAS)
    caller.call(CCO, caller="+584141112233")
    dial = caller.press("1")
    gone = caller.request(dial.one("Dial").get("action"), DialCallStatus="no-answer",
                          CallStatus="completed")
    assert gone.verbs == ["Hangup"]
    with app.app_context():
        [missed] = missed_calls.listing(db.session())
    assert (missed.node, missed.caller, missed.recording_url) == ("guardia", "+584141112233",
                                                                  None)


def test_caller_who_gives_up_in_a_queue_is_kept_as_missed(
    app: Flask, caller: Caller
) -> None:
    """Tuesday 10:00, the caller hangs up while queued for Subasta support: a missed call."""
    caller.call(CERTICAMARA, caller="+573009998877")
    caller.press("25")
    assert caller.queue_ends("hangup").verbs == ["Hangup"]
    with app.app_context():
        [missed] = missed_calls.listing(db.session())
    assert (missed.node, missed.caller) == ("subasta", "+573009998877")


def test_override_cache_of_production_is_read_again_after_its_ttl(
    make_app: Any, clock: Clock, monotonic: Monotonic
) -> None:
    """With production's IVR_OVERRIDE_TTL (2 s), a worker reuses the overrides it read for 2 s:
    a closure set meanwhile reaches callers once the 2 s have passed, and its cancellation too.
    """
    from ivr import config

    ttl = config.from_environment({})["IVR_OVERRIDE_TTL"]
    assert ttl == 2
    app = make_app(IVR_OVERRIDE_TTL=ttl)
    caller, runner = Caller(app.test_client()), app.test_cli_runner()
    clock.set("2026-12-01 10:00", BOGOTA)
    assert "no estamos atendiendo" not in caller.call(CERTICAMARA).text  # read: none in force
    result = runner.invoke(args=["ivr", "override", "close", "certicamara", "--until",
                                 "2026-12-01 12:00"])
    assert result.exit_code == 0, result.output
    monotonic.advance(1.9)
    assert "no estamos atendiendo" not in caller.call(CERTICAMARA).text  # still cached
    monotonic.advance(0.1)
    assert "no estamos atendiendo" in caller.call(CERTICAMARA).text  # read again
    assert runner.invoke(args=["ivr", "override", "cancel", "1"]).exit_code == 0
    assert "no estamos atendiendo" in caller.call(CERTICAMARA).text
    monotonic.advance(2)
    assert "no estamos atendiendo" not in caller.call(CERTICAMARA).text


def test_caller_id_line_and_screen_seconds_reach_the_twiml(
    make_app: Any, clock: Clock, tmp_path: Path
) -> None:
    """`caller_id: line` shows the line's number to the person called (the default shows the
    caller's); `screen_seconds` sets how long the whisper is repeated."""
    menus = tmp_path / "menus"
    shutil.copytree(Path(__file__).resolve().parents[1] / "ivr" / "menus", menus)
    path = menus / "certicamara.yaml"
    text = path.read_text(encoding="utf-8")
    coordinator = "    label: Tercer escalamiento, coordinador de soporte\n"
    assert coordinator in text
    text = text.replace(coordinator, coordinator + "    caller_id: line\n")
    before, after = text.split(coordinator)
    after = after.replace("    screen_seconds: 30\n", "    screen_seconds: 60\n", 1)
    path.write_text(before + coordinator + after, encoding="utf-8")
    app = make_app(IVR_MENU_DIR=str(menus))
    clock.set("2026-12-01 10:00", BOGOTA)

    def escalate(key: str) -> tuple[Any, Any]:
        """Support, escalation, then `key`: the <Dial> and the first callee's whisper."""
        caller = Caller(app.test_client())
        caller.call(CERTICAMARA)
        caller.press("2")
        caller.press("9")
        dial = caller.press(key).one("Dial")
        whisper, _ = caller.screened(None)
        return dial, whisper

    supervisor_dial, supervisor_whisper = escalate("1")  # screen_seconds: 30, caller's id
    coordinator_dial, coordinator_whisper = escalate("2")  # screen_seconds: 60, line's id
    assert supervisor_dial.get("callerId") is None
    assert coordinator_dial.get("callerId") == CERTICAMARA
    said = [len(w.all("Say")) for w in (supervisor_whisper, coordinator_whisper)]
    assert said[1] > said[0] >= 2, said
