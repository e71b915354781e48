"""The analysts' number through signed webhooks: login with lockout, the next caller with its
whisper, the next callback dialled with the line's number and its outcome kept."""

from __future__ import annotations

from typing import Any

from flask import Flask

from ivr import db
from ivr.store import callbacks
from tests.conftest import CCO, Caller, Clock
from tests.test_callbacks import CARACAS, MOBILE, ask_callback, queued, wait

ANALYST_PHONE = "+584149998877"


def add_analyst(runner: Any, code: str = "42", pin: str = "2468") -> None:
    """`flask ivr analysts add cco 42 --pin 2468`."""
    result = runner.invoke(args=["ivr", "analysts", "add", "cco", code, "--pin", pin,
                                 "--name", "Ana"])
    assert result.exit_code == 0, result.output


def analyst_call(client: Any) -> Caller:
    """An analyst dials the analysts' number (its voice URL is /voice/cco/analyst)."""
    analyst = Caller(client)
    analyst.sid = "CA" + "9" * 32
    analyst.call_params = {"To": CCO, "From": ANALYST_PHONE}
    first = analyst.request("/voice/cco/analyst")
    assert "código de analista" in first.text
    return analyst


def log_in(analyst: Caller, code: str = "42", pin: str = "2468") -> Any:
    """Type the code and the PIN."""
    assert "clave" in analyst.press(code).text
    return analyst.press(pin)


def test_login_and_lockout(app: Flask, client: Any, runner: Any, clock: Clock) -> None:
    """Three wrong PINs lock the code for a while, even with the right PIN; then it works."""
    clock.set("2026-11-30 10:00", CARACAS)
    add_analyst(runner)
    analyst = analyst_call(client)
    assert "incorrectos" in log_in(analyst, pin="1111").text
    assert "incorrectos" in log_in(analyst, pin="2222").text
    analyst = analyst_call(client)
    locked = log_in(analyst, pin="3333")
    assert "bloqueado" in locked.text and locked.verbs[-1] == "Hangup"
    analyst = analyst_call(client)
    assert "bloqueado" in log_in(analyst).text  # the right PIN, still locked
    clock.set("2026-11-30 10:16", CARACAS)
    analyst = analyst_call(client)
    assert "siguiente cliente en espera, marque 1" in log_in(analyst).text
    listed = runner.invoke(args=["ivr", "analysts", "list"])
    assert "42" in listed.output and "2468" not in listed.output


def test_unknown_code_and_no_analysts_line(client: Any, runner: Any) -> None:
    """An unknown code is refused like a wrong PIN; Certicámara has no analysts' number."""
    analyst = analyst_call(client)
    assert "incorrectos" in log_in(analyst, code="77").text
    other = Caller(client)
    assert "no tiene un servicio" in other.request("/voice/certicamara/analyst").text


def test_next_caller_whispered_then_bridged(app: Flask, client: Any, runner: Any,
                                            clock: Clock) -> None:
    """1: the analyst hears the case and the wait of the caller who waited longest, then the
    queue is dialled; nobody left: said so."""
    add_analyst(runner)
    customer = Caller(client)
    case = queued(customer, clock, "2026-11-30 10:00")
    wait(customer, 1, 0, 0)
    clock.set("2026-11-30 10:07", CARACAS)
    analyst = analyst_call(client)
    log_in(analyst)
    taken = analyst.press("1")
    assert "desde hace 7 minutos" in taken.text and ", ".join(case) in taken.text
    assert taken.one("Queue").text == "centro-soporte"
    again = analyst.request(taken.one("Dial").get("action"), DialCallStatus="completed")
    assert "marque 1" in again.text
    assert "No hay clientes en espera" in analyst.press("1").text


def test_next_callback_dialled_outcomes_kept(app: Flask, client: Any, runner: Any,
                                             clock: Clock) -> None:
    """2: the whisper (case, severity, wait), the customer dialled with the line's number; no
    answer puts it back with its place, and after max_attempts it is closed as unreachable."""
    add_analyst(runner)
    customer = Caller(client)
    case = queued(customer, clock, "2026-11-30 10:00")
    ask_callback(customer)
    customer.press("1")
    customer.press("1")
    clock.set("2026-11-30 10:20", CARACAS)
    analyst = analyst_call(client)
    log_in(analyst)
    for attempt in (1, 2, 3):
        call = analyst.press("2")
        assert f"intento {attempt}" in call.text and ", ".join(case) in call.text
        assert "falla crítica" in call.text and "desde hace 20 minutos" in call.text
        dial = call.one("Dial")
        assert dial.get("callerId") == CCO and call.numbers == [(MOBILE, None)]
        analyst.request(dial.get("action"), DialCallStatus="no-answer")
    assert "No hay llamadas pendientes" in analyst.press("2").text
    with app.app_context():
        [row] = callbacks.listing(db.session(), statuses=("unreachable",))
    assert (row.attempts, row.last_outcome) == (3, "no-answer")


def test_a_reached_callback_is_done(app: Flask, client: Any, runner: Any, clock: Clock) -> None:
    """Answered: the analyst says whether a person or a voicemail took it."""
    add_analyst(runner)
    customer = Caller(client)
    queued(customer, clock)
    ask_callback(customer)
    customer.press("1")
    customer.press("3")
    analyst = analyst_call(client)
    log_in(analyst)
    call = analyst.press("2")
    asked = analyst.request(call.one("Dial").get("action"), DialCallStatus="completed")
    assert "buzón de voz, marque 2" in asked.text
    assert "Resultado guardado" in analyst.press("1").text
    with app.app_context():
        [row] = callbacks.listing(db.session(), statuses=("done",))
    assert row.last_outcome == "reached"


def test_steps_without_login_ask_to_log_in(client: Any) -> None:
    """A URL with no (or a made-up) analyst asks for the code: nothing is taken."""
    analyst = Caller(client)
    assert "código de analista" in analyst.request("/voice/cco/analyst/menu?a=5",
                                                   Digits="2").text


def test_flask_ivr_call_plays_an_analysts_call(app: Flask, client: Any, runner: Any,
                                               clock: Clock) -> None:
    """`flask ivr call --analyst`: log in, 2, the customer dialled, no answer, back to the menu."""
    add_analyst(runner)
    customer = Caller(client)
    queued(customer, clock)
    ask_callback(customer)
    customer.press("1")
    customer.press("2")
    result = runner.invoke(args=["ivr", "call", CCO, "--analyst", "--at", "2026-11-30 10:30",
                                 "--keys", "42 2468 2 _ _ _", "--dial", "no-answer"])
    lines = result.output.splitlines()
    assert "  Marque su clave y numeral." in lines
    assert any("Gravedad: una falla que afecta la operación." in line for line in lines)
    assert "☎ llamando a +58 414-1112233 (30 s) …" in lines
    assert any("callback-no-answer" in line for line in lines)
    with app.app_context():
        [row] = callbacks.listing(db.session())
    assert (row.status, row.attempts) == ("pending", 1)
