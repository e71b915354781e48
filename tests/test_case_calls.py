"""Case numbers on the phone, through the signed webhooks: issued, read back, looked up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from ivr import db
from ivr.core import case_flow, check_digit
from ivr.store import cases
from ivr.store.tables import Case
from ivr.web import call_events
from tests.conftest import CCO, Caller, Clock, recording

CARACAS = "America/Caracas"
OPEN_HOURS = "2026-11-30 09:00"


@pytest.fixture(autouse=True)
def _in_hours(clock: Clock) -> None:
    """CCO's support center is open (Monday 09:00 in Caracas) unless a test says otherwise."""
    clock.set(OPEN_HOURS, CARACAS)


def _number(twiml_text: str) -> str:
    """The case number said in a prompt ('5, 2, 9, ...')."""
    said = twiml_text.split("Su número de caso es:")[1].split(".")[0]
    return "".join(ch for ch in said if ch.isdigit())


def _cases(app: Flask) -> list[Case]:
    """Every stored case."""
    with app.app_context():
        return list(db.session().scalars(sa.select(Case)).all())


def _store_case(app: Flask, clock: Clock, **changes: object) -> str:
    """A case opened earlier by another call; returns its number."""
    with app.app_context():
        session = db.session()
        case = cases.open_case(session, call_sid="CA-earlier", line="cco",
                                    team="centro_soporte", caller="+584140000000",
                                    node="nuevo_caso", now=clock())
        if changes:
            cases.set_status(session, case.number, str(changes.get("status", "open")),
                                  clock(), level=changes.get("level"))  # type: ignore[arg-type]
        return case.number


def test_new_case_is_read_back_digit_by_digit_and_stored(app: Flask, caller: Caller) -> None:
    """Key 1: a valid 8-digit number, said digit by digit, stored with the call and caller."""
    caller.call(CCO, caller="+584141112233")
    twiml = caller.press("1")
    number = _number(twiml.text)
    assert check_digit.is_valid(number, 8)
    assert f"{', '.join(number)}." in twiml.text  # "3, 0, 3, 4, ..."
    assert twiml.one("Gather").get("numDigits") == "1"
    [case] = _cases(app)
    assert (case.number, case.call_sid, case.caller, case.team) == (
        number, caller.sid, "+584141112233", "centro_soporte")


def test_repeat_key_reads_the_same_number_again(caller: Caller) -> None:
    """1 after the number says it again (same number), a few times at most, then goes on."""
    caller.call(CCO)
    number = _number(caller.press("1").text)
    for _ in range(3):
        assert _number(caller.press("1").text) == number
    assert caller.press("1").all("Record")  # after three repeats, on to the description


def test_same_call_sid_never_gets_two_numbers(app: Flask, caller: Caller) -> None:
    """A webhook Twilio retries (same CallSid) gets the case the call already has."""
    caller.call(CCO)
    first = _number(caller.press("1").text)
    caller.call(CCO)
    assert _number(caller.press("1").text) == first
    assert len(_cases(app)) == 1


def test_recording_and_transcription_are_kept_with_the_case(app: Flask, caller: Caller) -> None:
    """The <Record> action stores the URL; Twilio's transcription callback stores the text."""
    caller.call(CCO)
    number = _number(caller.press("1").text)
    record = caller.silence()
    transcribe_url = record.one("Transcription").get("statusCallbackUrl")
    assert record.one("Transcription").get("languageCode") == "es-MX"
    after = caller.records(url=recording("9"), seconds=31)
    assert after.verbs[0] == "Stop"  # the transcription ends with the description
    caller.says(transcribe_url, "La impresora", "no imprime.")
    [case] = _cases(app)
    assert (case.number, case.recording_url, case.recording_seconds) == (
        number, recording("9"), 31)
    assert case.transcription == "La impresora no imprime."


def test_silence_instead_of_a_description_goes_on(caller: Caller) -> None:
    """Twilio skips the <Record> action on silence; the redirect goes on to the team anyway."""
    caller.call(CCO)
    caller.press("1")
    caller.silence()
    twiml = caller.request(caller.last.one("Redirect").text)  # type: ignore[union-attr]
    assert twiml.one("Enqueue").text == "centro-soporte"


def test_look_up_reads_the_status_and_routes_to_the_team(
    app: Flask, caller: Caller, clock: Clock
) -> None:
    """Key 2, the number and #: found, its status said, and the call goes to its team."""
    number = _store_case(app, clock, status="in_progress")
    caller.call(CCO, caller="+584149998877")
    ask = caller.press("2")
    gather = ask.one("Gather")
    assert (gather.get("numDigits"), gather.get("finishOnKey")) == ("8", "#")
    twiml = caller.press(number + "#")
    assert "Encontramos su caso número" in twiml.text and "en proceso" in twiml.text
    assert twiml.one("Enqueue").text == "centro-soporte"
    with app.app_context():
        case = cases.case_with_calls(db.session(), number)
        assert case is not None
        assert [(c.outcome, c.caller) for c in case.calls][-1] == ("looked-up", "+584149998877")


@pytest.mark.parametrize("ttl", [0, 60], ids=["flask", "fast-lane"])
def test_a_look_up_is_one_read_and_its_note_goes_with_the_next_batch(
    make_app: Any, clock: Clock, ttl: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A found case takes as many checkouts of the pool as an unknown number (the read), the
    connection is back before the answer is made, and the note of the call is not written
    during the request but with the worker's next batch (`call_events`), once per call."""
    app: Flask = make_app(IVR_OVERRIDE_TTL=ttl, IVR_EVENT_FLUSH_SECONDS=60,
                          IVR_NOTE_FLUSH_SECONDS=60)
    number = _store_case(app, clock, status="in_progress")
    unknown = "1234567"
    unknown += check_digit.damm_digit(unknown)
    pool = app.extensions["ivr.engine"].pool
    checkouts: list[int] = []
    sa.event.listen(pool, "checkout", lambda *args: checkouts.append(1))
    out_when_answered: list[int] = []
    found = case_flow.found

    def answered(*args: Any, **kwargs: Any) -> Any:
        """The case's answer, noting how many connections are out meanwhile."""
        out_when_answered.append(pool.checkedout())
        return found(*args, **kwargs)

    monkeypatch.setattr(case_flow, "found", answered)
    taken = {}
    for typed in (unknown, number):
        taken[typed] = 0
        for _ in range(2):  # the same call's look-up twice (a retry of the webhook)
            caller = Caller(app.test_client())
            caller.sid = "CA" + typed.rjust(32, "0")
            caller.call(CCO, caller="+584149998877")
            caller.press("2")
            checkouts.clear()
            twiml = caller.press(typed + "#")
            taken[typed] += len(checkouts)
            assert pool.checkedout() == 0
    assert "Encontramos su caso número" in twiml.text
    # what reads the note reads it for a call in the queue, which it joins only once the
    # case number has been said, digit by digit: seconds after this answer
    verbs = [element.tag for element in twiml.root]
    assert verbs[-1] == "Enqueue" and set(verbs[:-1]) == {"Say"}
    assert ", ".join(number) in twiml.root[0].text
    assert taken[unknown] >= 2  # the read, twice
    assert taken[number] == taken[unknown]  # found: no checkout for the note
    assert out_when_answered == [0, 0, 0, 0]  # unknown, then found: the connection is back

    def notes() -> list[tuple[str, str | None, str | None]]:
        """The case's notes: outcome, call, caller."""
        with app.app_context():
            case = cases.case_with_calls(db.session(), number)
            assert case is not None
            return [(c.outcome, c.call_sid, c.caller) for c in case.calls]

    assert [n[0] for n in notes()] == ["opened"]  # not yet: it waits for the batch
    call_events.flush(app)
    assert notes()[1:] == [("looked-up", "CA" + number.rjust(32, "0"), "+584149998877")]


def _typo(number: str) -> str:
    """The number with its third digit changed."""
    return number[:2] + str((int(number[2]) + 1) % 10) + number[3:]


def _swap(number: str) -> str:
    """The number with two adjacent different digits swapped."""
    for i in range(len(number) - 1):
        if number[i] != number[i + 1]:
            return number[:i] + number[i + 1] + number[i] + number[i + 2:]
    raise AssertionError("no two different neighbours")


@pytest.mark.parametrize("mistake", [_typo, _swap])
def test_typo_or_swap_is_refused_before_the_database(
    make_app: object, clock: Clock, mistake: object, tmp_path: Path
) -> None:
    """A wrong check digit is refused even with the database away: it was never asked."""
    good: Flask = make_app()  # type: ignore[operator]
    number = _store_case(good, clock)
    broken: Flask = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/x.db")  # type: ignore[operator]
    caller = Caller(broken.test_client())
    caller.call(CCO)
    caller.press("2")
    twiml = caller.press(mistake(number))  # type: ignore[operator]
    assert "no es válido" in twiml.text
    assert "no podemos consultar" not in twiml.text
    assert twiml.one("Gather").get("action").endswith("consulta_caso/entry?f=1")


def test_not_found_asks_again_then_offers_a_new_case_or_the_team(caller: Caller) -> None:
    """A well-formed number that is not stored: asked again; after three, the options menu."""
    unknown = "1234567"
    unknown += check_digit.damm_digit(unknown)
    caller.call(CCO)
    caller.press("2")
    assert "No encontramos" in caller.press(unknown).text
    caller.press(unknown)
    options = caller.press(unknown)
    assert "Para abrir un caso nuevo, marque 1" in options.text
    assert "Su número de caso es" in caller.press("1").text


def test_database_down_new_case_still_reaches_the_team(make_app: object, tmp_path: Path) -> None:
    """No database: the caller is told there is no number now, and still goes to the team."""
    app: Flask = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/x.db")  # type: ignore[operator]
    caller = Caller(app.test_client())
    caller.call(CCO)
    twiml = caller.press("1")
    assert "no podemos darle un número de caso" in twiml.text
    assert twiml.one("Enqueue").text == "centro-soporte"


def test_database_down_during_a_look_up_goes_to_the_fallback(
    app: Flask, caller: Caller, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away mid-call: the look-up says so and offers the options menu."""
    number = _store_case(app, clock)
    caller.call(CCO)
    caller.press("2")
    broken = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                              connect_args={"connect_timeout": 1})
    monkeypatch.setitem(app.extensions, "ivr.engine", broken)
    monkeypatch.setitem(app.extensions, "ivr.sessions", lambda: Session(broken))
    twiml = caller.press(number)
    assert "no podemos consultar su caso" in twiml.text
    assert "Para abrir un caso nuevo" in twiml.text


def test_cases_on_postgresql_through_the_webhooks(make_app: object, store_url: str) -> None:
    """The same call flow against each database CI provides."""
    app: Flask = make_app(DATABASE_URL=store_url)  # type: ignore[operator]
    caller = Caller(app.test_client())
    caller.call(CCO)
    number = _number(caller.press("1").text)
    caller.call(CCO)
    assert _number(caller.press("1").text) == number
    assert [c.number for c in _cases(app)] == [number]


ESCALATING_LINE = """
id: escala
name: Línea de prueba con escalamiento
numbers: ["+57 601 744 2728"]
country: CO
timezone: America/Bogota
start: principal
escalation:
  2: supervisor
  3: coordinador
nodes:
  principal:
    type: menu
    prompt: certicamara_principal
    options:
      1: consulta
      2: equipo
  consulta:
    type: case_lookup
    prompt: cco_consulta_caso
    fallback: equipo
  equipo:
    type: queue
    queue: equipo
  supervisor:
    type: dial
    targets: [{number: "+57 601 379 0300", extension: "1113"}]
  coordinador:
    type: dial
    targets: [{number: "+57 601 379 0300", extension: "1101"}]
"""


@pytest.mark.parametrize(("level", "extension"), [(2, "wwww1113"), (3, "wwww1101")])
def test_found_case_goes_to_its_escalation_level(
    make_app: object, clock: Clock, tmp_path: Path, level: int, extension: str
) -> None:
    """Where a line has escalation levels, a case at level 2 or 3 goes to that level."""
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "escala.yaml").write_text(ESCALATING_LINE, encoding="utf-8")
    app: Flask = make_app(IVR_MENU_DIR=str(menus))  # type: ignore[operator]
    with app.app_context():
        session = db.session()
        case = cases.open_case(session, call_sid="CA-x", line="escala", team="equipo",
                                    caller=None, node="consulta", now=clock())
        cases.set_status(session, case.number, "in_progress", clock(), level=level)
        number = case.number
    caller = Caller(app.test_client())
    caller.call("+576017442728")
    caller.press("1")
    assert caller.press(number).numbers == [("+576013790300", extension)]


def test_database_away_at_start_serves_cases_once_it_is_back(
    make_app: object, tmp_path: Path
) -> None:
    """No database when the service started; when it appears, its schema is made and used."""
    folder = tmp_path / "later"
    app: Flask = make_app(DATABASE_URL=f"sqlite:///{folder}/x.db")  # type: ignore[operator]
    folder.mkdir()
    caller = Caller(app.test_client())
    caller.call(CCO)
    assert check_digit.is_valid(_number(caller.press("1").text), 8)


def test_description_not_said_saved_when_it_was_not(
    app: Flask, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the recording cannot be kept with the case, the caller is not told it was."""
    from sqlalchemy.exc import OperationalError

    def away(*args: object, **kwargs: object) -> None:
        raise OperationalError("UPDATE", {}, Exception("database away"))

    caller.call(CCO)
    caller.press("1")
    caller.silence()
    monkeypatch.setattr(cases, "attach_recording", away)
    twiml = caller.records()
    assert "quedó registrada" not in twiml.text
    assert twiml.one("Enqueue").text == "centro-soporte"


def test_a_failing_database_is_skipped_for_a_few_seconds(
    make_app: object, tmp_path: Path
) -> None:
    """After a failure the next calls do not wait on the database again (no 3-second stalls)."""
    app: Flask = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/none/x.db",  # type: ignore[operator]
                          IVR_DB_RETRY_SECONDS=60)
    caller = Caller(app.test_client())
    caller.call(CCO)
    assert "no podemos darle un número" in caller.press("1").text
    (tmp_path / "none").mkdir()  # back, but within the retry window: still skipped
    caller.call(CCO)
    assert "no podemos darle un número" in caller.press("1").text


WHISPER_LINE = """
id: susurro
name: Mesa de ayuda
numbers: ["+57 601 744 2729"]
country: CO
timezone: America/Bogota
start: caso
nodes:
  caso:
    type: new_case
    next: analista
  analista:
    type: dial
    screen: filtro
    targets: [{number: "+57 318 717 4937"}]
"""


def test_team_reached_by_dial_hears_the_case_number(
    make_app: object, tmp_path: Path
) -> None:
    """A new case whose team is dialled: the person called hears its number before accepting."""
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "susurro.yaml").write_text(WHISPER_LINE, encoding="utf-8")
    app: Flask = make_app(IVR_MENU_DIR=str(menus))  # type: ignore[operator]
    caller = Caller(app.test_client())
    number = _number(caller.call("+576017442729").text)
    dial = caller.silence()
    assert dial.numbers == [("+573187174937", None)]
    whisper, _ = caller.screened("1")
    assert f"Caso número {', '.join(number)}." in whisper.text
    assert "Llamada de la línea Mesa de ayuda" in whisper.text
