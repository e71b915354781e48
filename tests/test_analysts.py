"""The analysts' number through signed webhooks: login with lockout, the next caller with its
whisper (that very caller dequeued through the fake REST API into the analyst's room), the
next callback dialled with the line's number and its outcome kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from ivr import db
from ivr.store import callbacks
from tests.conftest import BASE, CCO, Caller, Clock, Monotonic
from tests.fake_twilio import ACCOUNT, FakeTwilio
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


def callback_left(customer: Caller, clock: Clock, when: str = "2026-11-30 10:00",
                  severity: str = "1") -> str:
    """A CCO caller opens a case, waits in the queue, then leaves it for a callback: number
    confirmed (1), then the severity. Returns the case number."""
    case = queued(customer, clock, when)
    ask_callback(customer)
    customer.press("1")
    customer.press(severity)
    return case


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


def test_each_request_holds_one_pooled_connection_at_a_time(make_app: Any, clock: Clock) -> None:
    """The analyst's login is read through the session, then the claim takes the plain
    connection: the session's connection is back in the pool by then (a small pool cannot
    deadlock on threads that each wait for a second connection). The dashboard's events are
    written by their own thread, as in production (not at once, as in most tests)."""
    app: Flask = make_app(IVR_EVENT_FLUSH_SECONDS=60)
    client = app.test_client()
    add_analyst(app.test_cli_runner())
    customer = Caller(client)
    callback_left(customer, clock)
    second = Caller(client)
    second.sid = "CA" + "5" * 32
    queued(second, clock, "2026-11-30 10:01", number="+584241234567")
    wait(second, 1, 0, 0)
    pool = app.extensions["ivr.engine"].pool
    out: list[int] = []
    sa.event.listen(pool, "checkout", lambda *args: out.append(pool.checkedout()))
    analyst = analyst_call(client)
    log_in(analyst)
    taken = analyst.press("1")  # the caller waiting: claimed
    assert taken.one("Queue").text == "centro-soporte"
    analyst.request(taken.one("Dial").get("action"), DialCallStatus="completed")
    assert analyst.press("2").one("Number").text == MOBILE  # a callback: claimed, then read
    assert out and max(out) == 1


def test_next_callback_dialled_outcomes_kept(app: Flask, client: Any, runner: Any,
                                             clock: Clock) -> None:
    """2: the whisper (case, severity, wait), the customer dialled with the line's number; no
    answer puts it back with its place, and after max_attempts it is closed as unreachable."""
    add_analyst(runner)
    customer = Caller(client)
    case = callback_left(customer, clock)
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
    callback_left(customer, clock, severity="3")
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
    callback_left(customer, clock, severity="2")
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


QUEUE = "QU" + "2" * 32  # the QueueSid `wait` posts
FIRST, SECOND = "CA" + "a1" * 16, "CA" + "b2" * 16



@pytest.fixture
def rest_client(make_app: Any, fake_twilio: FakeTwilio) -> Any:
    """A test client of an app with the account's REST credentials, pointed at the fake."""
    return make_app(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_API_BASE_URL=fake_twilio.url).test_client()


def two_waiting(client: Any, clock: Clock) -> tuple[Caller, str, Caller, str]:
    """FIRST joins the support queue at 10:00 and SECOND at 10:02; their case numbers."""
    first, second = Caller(client), Caller(client)
    first.sid, second.sid = FIRST, SECOND
    first_case = queued(first, clock, "2026-11-30 10:00")
    wait(first, 1, 0, 0)
    second_case = queued(second, clock, "2026-11-30 10:02", number="+584142223344")
    wait(second, 2, 0, 0)
    return first, first_case, second, second_case


def analyst_takes(client: Any, runner: Any, clock: Clock) -> Any:
    """An analyst logs in at 10:07 and presses 1."""
    add_analyst(runner)
    clock.set("2026-11-30 10:07", CARACAS)
    analyst = analyst_call(client)
    log_in(analyst)
    return analyst.press("1")


def room_of(document: Any) -> tuple[str, dict[str, str]]:
    """The conference a document dials into, and the <Conference>'s attributes."""
    conference = document.one("Conference")
    return conference.text, dict(conference.attrib)


def joined(caller: Caller, url: str) -> Any:
    """Twilio runs the member update's url for the dequeued caller (signed, like any webhook)."""
    assert url.startswith(BASE + "/voice/cco/join/")
    return caller.request(url[len(BASE):])


def test_the_claimed_caller_is_dequeued_into_the_analysts_room(
        rest_client: Any, runner: Any, clock: Clock, fake_twilio: FakeTwilio) -> None:
    """1: the caller who joined first is taken out of Twilio's queue by the REST API, even when
    Twilio has someone else at the front; the analyst hears that caller's case, then both join
    one room named by the caller's CallSid; the caller's <Enqueue> action joins it too."""
    fake_twilio.members[QUEUE] = [SECOND, FIRST]  # Twilio's front is not the claimed caller
    first, first_case, _, second_case = two_waiting(rest_client, clock)
    taken = analyst_takes(rest_client, runner, clock)
    [update] = fake_twilio.member_updates()
    assert (update["queue"], update["call"], update["form"]["Method"]) == (QUEUE, FIRST, "POST")
    assert "desde hace 7 minutos" in taken.text and ", ".join(first_case) in taken.text
    assert ", ".join(second_case) not in taken.text and not taken.all("Queue")
    room, attributes = room_of(taken)
    assert room == "take-" + FIRST
    assert attributes == {"beep": "false", "endConferenceOnExit": "true",
                          "maxParticipants": "2"}
    assert taken.verbs.index("Say") < taken.verbs.index("Dial")  # the whisper first
    dial = taken.one("Dial")
    assert "/voice/cco/analyst/bridged" in dial.get("action")
    assert dial.get("hangupOnStar") == "true"  # a room the caller has left: * for the menu
    caller_side = joined(first, update["form"]["Url"])
    assert room_of(caller_side) == (room, attributes) and not caller_side.one("Dial").get("action")
    left = first.queue_ends("redirected")  # the action Twilio requests on a REST dequeue
    assert room_of(left)[0] == room and not left.all("Enqueue") and "Hangup" not in left.verbs


def test_a_caller_gone_from_twilios_queue_is_skipped(
        rest_client: Any, runner: Any, clock: Clock, fake_twilio: FakeTwilio, app: Flask) -> None:
    """404 for the first caller (hung up between two wait hits): marked left, the next one is
    claimed and dequeued; without its QueueSid the queue is found by its name."""
    fake_twilio.queues["centro-soporte"] = QUEUE
    fake_twilio.members[QUEUE] = [SECOND]
    _, _, second, second_case = two_waiting(rest_client, clock)
    taken = analyst_takes(rest_client, runner, clock)
    assert [(u["queue"], u["call"]) for u in fake_twilio.member_updates()] == [
        (QUEUE, FIRST), (QUEUE, SECOND)]
    assert ", ".join(second_case) in taken.text and "desde hace 5 minutos" in taken.text
    assert room_of(taken)[0] == "take-" + SECOND
    with rest_client.application.app_context():
        waiting = callbacks.waiting(db.session(), lines=["cco"],
                                    since=datetime(2026, 1, 1, tzinfo=UTC))
    assert [w.call_sid for w in waiting] == [SECOND]  # FIRST's wait is over


def test_the_queue_is_looked_up_by_name_without_a_queue_sid(
        rest_client: Any, runner: Any, clock: Clock, fake_twilio: FakeTwilio) -> None:
    """A wait noted without QueueSid: the account's queues are listed, the right one used."""
    fake_twilio.queues.update({"otra": "QU" + "3" * 32, "centro-soporte": QUEUE})
    fake_twilio.members[QUEUE] = [FIRST]
    first = Caller(rest_client)
    first.sid = FIRST
    queued(first, clock, "2026-11-30 10:00")
    assert first.queued is not None
    first.request(first.queued.one("Enqueue").get("waitUrl"), QueueTime="0")
    taken = analyst_takes(rest_client, runner, clock)
    assert [r["path"].rsplit("/", 1)[-1] for r in fake_twilio.received] == [
        "Queues.json", FIRST + ".json"]
    assert room_of(taken)[0] == "take-" + FIRST


def test_claims_stop_when_twilio_is_slow(rest_client: Any, runner: Any, clock: Clock,
                                         fake_twilio: FakeTwilio, monotonic: Monotonic) -> None:
    """Each 404 took 5 s: no third claim after 8 s in one webhook (Twilio waits 15 s), the
    analyst hears nobody waits and the menu; the unclaimed caller keeps waiting."""
    fake_twilio.on_member = lambda: monotonic.advance(5)
    two_waiting(rest_client, clock)
    third = Caller(rest_client)
    third.sid = "CA" + "c3" * 16
    queued(third, clock, "2026-11-30 10:04", number="+584143334455")
    wait(third, 3, 0, 0)
    taken = analyst_takes(rest_client, runner, clock)
    assert [u["call"] for u in fake_twilio.member_updates()] == [FIRST, SECOND]
    assert "ya no estaban en la fila. Intente de nuevo" in taken.text and "marque 1" in taken.text
    with rest_client.application.app_context():
        waiting = callbacks.waiting(db.session(), lines=["cco"],
                                    since=datetime(2026, 1, 1, tzinfo=UTC))
    assert [(w.call_sid, w.claimed_by) for w in waiting] == [(third.sid, None)]


@pytest.mark.parametrize("status", [500, 429])
def test_a_failing_api_falls_back_to_the_queue(
        rest_client: Any, runner: Any, clock: Clock, fake_twilio: FakeTwilio, status: int) -> None:
    """Any other answer than 404: today's <Dial><Queue> (Twilio's front caller)."""
    fake_twilio.member_status = status
    fake_twilio.members[QUEUE] = [FIRST, SECOND]
    two_waiting(rest_client, clock)
    taken = analyst_takes(rest_client, runner, clock)
    assert len(fake_twilio.member_updates()) == 1
    assert taken.one("Queue").text == "centro-soporte" and not taken.all("Conference")


def test_without_credentials_the_queue_is_dialled(
        client: Any, runner: Any, clock: Clock, fake_twilio: FakeTwilio) -> None:
    """No TWILIO_ACCOUNT_SID: no REST request at all, <Dial><Queue> as before."""
    two_waiting(client, clock)
    taken = analyst_takes(client, runner, clock)
    assert taken.one("Queue").text == "centro-soporte" and fake_twilio.received == []


def test_the_join_webhook_refuses_what_is_no_call_sid(client: Any) -> None:
    """A join URL with a made-up CallSid (or a phone number) joins no room."""
    caller = Caller(client)
    caller.sid = "+584141112233"
    answered = caller.request("/voice/cco/join/centro_soporte?t=%2B584141112233")
    assert not answered.all("Conference")


def test_a_simulated_analyst_call_makes_no_rest_request(
        make_app: Any, fake_twilio: FakeTwilio, clock: Clock) -> None:
    """`flask ivr call --analyst` with the account's credentials set: 1 dials the queue as
    text, no real caller is dequeued into a room nobody would join; the setting is restored."""
    app = make_app(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_API_BASE_URL=fake_twilio.url)
    runner = app.test_cli_runner()
    fake_twilio.members[QUEUE] = [FIRST]
    first = Caller(app.test_client())
    first.sid = FIRST
    queued(first, clock, "2026-11-30 10:00")
    wait(first, 1, 0, 0)
    add_analyst(runner)
    result = runner.invoke(args=["ivr", "call", CCO, "--analyst", "--at", "2026-11-30 10:07",
                                 "--keys", "42 2468 1", "--dial", "completed"])
    assert "desde hace 7 minutos" in result.output and "centro-soporte" in result.output
    assert fake_twilio.received == [] and app.config["TWILIO_ACCOUNT_SID"] == ACCOUNT


def test_a_database_failure_is_not_told_as_nobody_waiting(
    app: Flask, client: Any, runner: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1 and 2 while the claim fails: the analyst hears that the list cannot be read, not that
    nobody waits; a callback claimed but then unreadable goes back to its place, untried."""
    from sqlalchemy.exc import OperationalError

    add_analyst(runner)
    customer = Caller(client)
    callback_left(customer, clock)
    analyst = analyst_call(client)
    log_in(analyst)

    def failing(*args: object, **kwargs: object) -> None:
        """The database refuses the statement."""
        raise OperationalError("SELECT", {}, Exception("database away"))

    with monkeypatch.context() as patch:
        patch.setattr(callbacks, "claim_waiting", failing)
        assert "no podemos consultar la lista" in analyst.press("1").text
    with monkeypatch.context() as patch:
        patch.setattr(callbacks, "claim_next", failing)
        assert "no podemos consultar la lista" in analyst.press("2").text
    with monkeypatch.context() as patch:
        patch.setattr(callbacks, "get", failing)
        assert "no podemos consultar la lista" in analyst.press("2").text
    with app.app_context():
        [row] = callbacks.listing(db.session())
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 0, None)
