"""Step 4 of CCO's procedure through signed webhooks: the wait told, callbacks by severity."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from ivr import db
from ivr.store import callbacks
from ivr.store.tables import Callback, CaseCall
from tests.conftest import CCO, Caller, Clock

CARACAS = "America/Caracas"
MOBILE = "+584141112233"


def queued(caller: Caller, clock: Clock, when: str = "2026-11-30 10:00",
           number: str = MOBILE) -> str:
    """A CCO caller who opened a case and now waits in the support queue; the case number."""
    clock.set(when, CARACAS)
    caller.call(CCO, caller=number)
    read = caller.press("1")
    case = "".join(ch for ch in read.text.split("caso es:")[1].split(".")[0] if ch.isdigit())
    caller.silence()
    assert caller.records().one("Enqueue").text == "centro-soporte"
    return case


def wait(caller: Caller, position: int, average: int, waited: int) -> Any:
    """Twilio asks the wait URL what to play, with the caller's place and the queue's average."""
    assert caller.queued is not None
    url = caller.queued.one("Enqueue").get("waitUrl")
    return caller.request(url, QueueTime=str(waited), QueuePosition=str(position),
                          AvgQueueTime=str(average), CurrentQueueSize=str(position),
                          QueueSid="QU" + "2" * 32)


@pytest.mark.parametrize(("position", "average", "waited", "said", "not_said"), [
    (1, 300, 60, "Usted es la primera persona en la fila. El tiempo estimado de espera es de "
     "unos 4 minutos.", "cero"),
    (3, 240, 0, "Usted es la tercera persona en la fila. El tiempo estimado de espera es de "
     "unos 4 minutos.", "un minuto"),
    (12, 130, 80, "Usted está en el lugar 12 de la fila. El tiempo estimado de espera es de un "
     "minuto, aproximadamente.", "minutos."),
    (2, 0, 30, "Usted es la segunda persona en la fila.", "tiempo estimado"),  # no average yet
    (2, 100, 400, "Usted es la segunda persona en la fila.", "tiempo estimado"),  # past it
])
def test_the_wait_is_told(caller: Caller, clock: Clock, position: int, average: int,
                          waited: int, said: str, not_said: str) -> None:
    """Place and expected wait, between stretches of music; nothing untrustworthy about time."""
    queued(caller, clock)
    twiml = wait(caller, position, average, waited)
    assert said in twiml.text and not_said not in twiml.text
    gather = twiml.one("Gather")  # the callback key is heard during the music too
    assert gather.get("numDigits") == "1" and gather.find("Play") is not None
    assert "lo llamemos" in twiml.text and "marque 1" in twiml.text


def test_a_longer_wait_offers_the_callback_louder(caller: Caller, clock: Clock) -> None:
    """After the node's offer_after, the offer says the place is kept."""
    queued(caller, clock)
    assert "sin perder su lugar" in wait(caller, 1, 0, 150).text


def ask_callback(caller: Caller) -> Any:
    """Press the callback key while waiting: leave the queue, then the first question."""
    wait(caller, 1, 0, 30)  # a later wait does not move when the caller joined
    leave = caller.press("1")
    assert leave.verbs == ["Leave"]
    return caller.queue_ends("leave")


def _rows(app: Flask) -> list[Callback]:
    """Every callback, in the list's order."""
    with app.app_context():
        return list(callbacks.listing(db.session(), statuses=callbacks.OUTCOMES + (
            "asking", "pending", "claimed", "done", "cancelled", "unreachable")))


def test_callback_with_the_caller_id_confirmed(app: Flask, caller: Caller, clock: Clock) -> None:
    """1 while waiting, 1 to confirm the number read back, 2 for the severity: the case and
    the due time in business hours are said, and the place is when the caller first queued."""
    case = queued(caller, clock, "2026-11-30 11:00")
    wait(caller, 2, 0, 10)
    clock.set("2026-11-30 11:40", CARACAS)
    confirm = ask_callback(caller)
    assert "4, 1, 4, 1, 1, 1, 2, 2, 3, 3" in confirm.text and "marque 1" in confirm.text
    severity = caller.press("1")
    assert "una falla crítica y no puede operar, marque 1" in severity.text
    assert "una consulta o un requerimiento, marque 3" in severity.text
    done = caller.press("2")
    # 4 business hours from Monday 11:40: 20 min before the lunch break, then 14:00 to 17:40
    # is past closing (17:30): 3 h 30 min in the afternoon, 10 min on Tuesday morning.
    assert f"caso es: {', '.join(case)}" in done.text
    assert "Lo llamaremos mañana martes antes de las 8 y 45 de la mañana" in done.text
    assert done.verbs[-1] == "Hangup"
    [row] = _rows(app)
    assert (row.status, row.severity, row.number, row.case_number) == ("pending", 2, MOBILE,
                                                                       case)
    assert row.joined_at.hour == 15 and row.joined_at.minute == 0  # 11:00 Caracas, in UTC


def test_callback_to_a_typed_number(app: Flask, caller: Caller, clock: Clock) -> None:
    """2 to give another number: an invalid one is refused clearly, a valid one is kept."""
    queued(caller, clock)
    ask_callback(caller)
    typing = caller.press("2")
    assert typing.one("Gather").get("finishOnKey") == "#"
    refused = caller.press("12345")
    assert "no es válido" in refused.text and "Marque el número" in refused.text
    severity = caller.press("02125551234")
    assert "marque 1" in severity.text
    done = caller.press("1")
    assert "hoy antes de las 11 de la mañana" in done.text  # 1 business hour from 10:00
    [row] = _rows(app)
    assert (row.number, row.severity) == ("+582125551234", 1)


@pytest.mark.parametrize("withheld", ["anonymous", "client:agente", "+266696687"])
def test_a_withheld_caller_id_must_type_a_number(caller: Caller, clock: Clock,
                                                 withheld: str) -> None:
    """No number to read back: the caller is asked to type one straight away."""
    queued(caller, clock, number=withheld)
    first = ask_callback(caller)
    assert "Marque el número" in first.text and "Si es correcto" not in first.text


def test_the_list_keeps_each_callers_place(app: Flask, client: Any, clock: Clock) -> None:
    """Severity first, then when the caller first joined the queue, not when they asked."""
    plan = [("CA" + "a" * 32, "10:00", "10:30", "2"), ("CA" + "b" * 32, "10:05", "10:06", "1"),
            ("CA" + "c" * 32, "09:55", "10:40", "2"), ("CA" + "d" * 32, "09:50", "09:51", "3")]
    for i, (sid, joined, asked, severity) in enumerate(plan):
        caller = Caller(client)
        caller.sid = sid
        queued(caller, clock, f"2026-11-30 {joined}", f"+58414111220{i}")
        wait(caller, 1, 0, 0)
        clock.set(f"2026-11-30 {asked}", CARACAS)
        ask_callback(caller)
        caller.press("1")
        caller.press(severity)
    assert [r.call_sid[2] for r in _rows(app)] == ["b", "c", "a", "d"]


def test_no_answer_at_all_keeps_nothing(app: Flask, caller: Caller, clock: Clock) -> None:
    """Three silences to the severity: the caller hears it was not registered."""
    queued(caller, clock)
    ask_callback(caller)
    caller.press("1")
    caller.silence()
    caller.silence()
    last = caller.silence()
    assert "No pudimos registrar" in last.text
    assert [r.status for r in _rows(app)] == ["asking"]


def test_callbacks_commands(app: Flask, caller: Caller, clock: Clock, runner: Any) -> None:
    """list in order, show, done and cancel."""
    queued(caller, clock)
    ask_callback(caller)
    caller.press("1")
    caller.press("3")
    listing = runner.invoke(args=["ivr", "callbacks", "list"])
    assert "pending" in listing.output and "una consulta o un requerimiento" in listing.output
    [row] = _rows(app)
    shown = runner.invoke(args=["ivr", "callbacks", "show", str(row.id)])
    assert MOBILE in shown.output and "due_at" in shown.output
    assert runner.invoke(args=["ivr", "callbacks", "done", str(row.id)]).exit_code == 0
    assert "no callbacks" in runner.invoke(args=["ivr", "callbacks", "list"]).output
    assert runner.invoke(args=["ivr", "callbacks", "cancel", "999"]).exit_code == 1


def test_an_after_hours_message_becomes_a_callback(app: Flask, caller: Caller,
                                                   clock: Clock) -> None:
    """Saturday night, nobody on call answers: the message is kept, then the number and the
    severity are asked as in a queue, and the due time counts from Monday's opening."""
    clock.set("2026-11-28 22:00", CARACAS)
    caller.call(CCO, caller=MOBILE)
    caller.press("1")
    caller.dial_ends("no-answer")
    caller.dial_ends("no-answer")
    confirm = caller.records()
    assert "Recibimos su mensaje" in confirm.text and "Si es correcto, marque 1" in confirm.text
    assert confirm.verbs[0] == "Stop"  # the message's transcription ends with it
    assert "falla crítica" in caller.press("1").text
    done = caller.press("1")
    assert "el lunes 30 antes de las 9 y media de la mañana" in done.text
    [row] = _rows(app)
    assert (row.node, row.severity, row.status) == ("mensaje_guardia", 1, "pending")


def _register(caller: Caller, clock: Clock, severity: str) -> str:
    """A caller leaves the queue for a callback of `severity`, to their caller ID; the case."""
    case = queued(caller, clock)
    ask_callback(caller)
    caller.press("1")
    caller.press(severity)
    return case


@pytest.mark.parametrize(("key", "status", "severity", "said"), [
    ("1", "pending", 3, "Conservamos su solicitud"),
    ("", "pending", 3, "Conservamos su solicitud"),  # silence keeps it
    ("2", "pending", 2, "Conservamos su solicitud"),
    ("3", "cancelled", 3, "Cancelamos su solicitud"),
])
def test_a_repeat_caller_is_recognised(app: Flask, client: Any, clock: Clock, key: str,
                                       status: str, severity: int, said: str) -> None:
    """Calling again from the same number: told of the pending callback, then keep it, make it
    graver, or cancel it; the menu follows."""
    _register(Caller(client), clock, "3")
    again = Caller(client)
    again.sid = "CA" + "e" * 32
    offer = again.call(CCO, caller=MOBILE)
    assert "Tiene una solicitud de llamada pendiente, una consulta o un requerimiento" in (
        offer.text)
    after = again.press(key) if key else again.silence()
    assert said in after.text and "Si ya tiene un número de caso, marque 2" in after.text
    [row] = _rows(app)
    assert (row.status, row.severity) == (status, severity)


def test_another_number_is_not_taken_for_a_repeat_caller(client: Any, clock: Clock) -> None:
    """A different caller ID hears the welcome as usual."""
    _register(Caller(client), clock, "2")
    other = Caller(client)
    other.sid = "CA" + "f" * 32
    assert "pendiente" not in other.call(CCO, caller="+584121234567").text


def _look_up(client: Any, case: str, number: str, sid: str) -> tuple[Caller, Any]:
    """Another call types `case` in CCO's look-up (key 2); the caller and the answer."""
    looker = Caller(client)
    looker.sid = sid
    looker.call(CCO, caller=number)
    looker.press("2")
    return looker, looker.press(case + "#")


@pytest.mark.parametrize(("key", "status", "severity", "said"), [
    ("1", "pending", 3, "Conservamos su solicitud"),
    ("", "pending", 3, "Conservamos su solicitud"),  # silence keeps it
    ("2", "pending", 2, "Conservamos su solicitud"),
    ("3", "cancelled", 3, "Cancelamos su solicitud"),
])
def test_a_repeat_caller_is_recognised_by_case(app: Flask, client: Any, clock: Clock, key: str,
                                               status: str, severity: int, said: str) -> None:
    """From another number, the case typed in a look-up: told of its pending callback, the
    same choice; then, whatever the choice, on to the case's team as any look-up."""
    case = _register(Caller(client), clock, "3")
    looker, offer = _look_up(client, case, "+584121234567", "CA" + "d" * 32)
    assert "Encontramos su caso número" in offer.text
    assert "Tiene una solicitud de llamada pendiente, una consulta o un requerimiento" in (
        offer.text)
    assert offer.all("Enqueue") == []  # not queued before the caller chose
    after = looker.press(key) if key else looker.silence()
    assert said in after.text and after.one("Enqueue").text == "centro-soporte"
    assert "pendiente" not in after.text
    [row] = _rows(app)
    assert (row.status, row.severity) == (status, severity)


def test_a_case_without_an_open_callback_is_routed_as_before(client: Any, clock: Clock) -> None:
    """Once the callback is cancelled, the look-up of its case goes straight to the team."""
    case = _register(Caller(client), clock, "2")
    looker, _ = _look_up(client, case, "+584121234567", "CA" + "d" * 32)
    looker.press("3")
    _, again = _look_up(client, case, "+584121234567", "CA" + "c" * 32)
    assert "pendiente" not in again.text and again.one("Enqueue").text == "centro-soporte"


def test_recognised_by_number_is_not_asked_again_for_its_case(app: Flask, client: Any,
                                                             clock: Clock) -> None:
    """The same caller, recognised by number when the call came in, chose already: typing the
    case of that same callback does not ask a second time."""
    case = _register(Caller(client), clock, "3")
    again = Caller(client)
    again.sid = "CA" + "b" * 32
    assert "pendiente" in again.call(CCO, caller=MOBILE).text
    menu = again.press("1")  # keep it: the line's menu follows
    assert "Si ya tiene un número de caso, marque 2" in menu.text
    again.press("2")
    found = again.press(case + "#")
    assert "Encontramos su caso número" in found.text and "pendiente" not in found.text
    assert found.one("Enqueue").text == "centro-soporte"
    [row] = _rows(app)
    assert (row.status, row.severity) == ("pending", 3)


def test_a_look_up_tells_the_pending_callback_on_each_database(make_app: Any, store_url: str,
                                                               clock: Clock) -> None:
    """SQLite and PostgreSQL (where the look-up, its note and the pending callback are one
    statement): another number hears the case's pending callback; its own caller, already
    offered it when the call came in, does not; the look-up is noted once per call."""
    app: Flask = make_app(DATABASE_URL=store_url)
    client = app.test_client()
    case = _register(Caller(client), clock, "3")
    _, offer = _look_up(client, case, "+584121234567", "CA" + "d" * 32)
    assert "Encontramos su caso número" in offer.text and "pendiente" in offer.text
    again = Caller(client)
    again.sid = "CA" + "b" * 32
    assert "pendiente" in again.call(CCO, caller=MOBILE).text
    again.press("1")
    again.press("2")
    found = again.press(case + "#")
    assert "Encontramos su caso número" in found.text and "pendiente" not in found.text
    assert found.one("Enqueue").text == "centro-soporte"
    with app.app_context():
        looked = db.session().scalars(sa.select(CaseCall.call_sid).where(
            CaseCall.outcome == "looked-up").order_by(CaseCall.id)).all()
    assert looked == ["CA" + "d" * 32, "CA" + "b" * 32]
