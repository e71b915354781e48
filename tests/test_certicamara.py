"""The Certicámara line, called as Twilio calls it, at the hours the seed pages give."""

from __future__ import annotations

import pytest

from tests.conftest import CERTICAMARA, Caller, Clock

BOGOTA = "America/Bogota"
SUPPORT_HOURS = ("de lunes a viernes de 7 de la mañana a 7 de la noche "
                 "y los sábados de 8 de la mañana a 1 de la tarde")
P1_MOBILE = "+573187174937"
PBX = "+576013790300"


def test_welcome_menu_listens_during_the_prompt(caller: Caller) -> None:
    """The welcome and the menu are said inside the <Gather>, so a key cuts them short."""
    twiml = caller.call(CERTICAMARA)
    gather = twiml.one("Gather")
    said = " ".join(s.text for s in gather.iter("Say"))
    assert "Bienvenido" in said and "marque 2" in said and "marque 3" in said
    assert gather.get("numDigits") == "2"  # 2 then 5, typed ahead
    assert gather.get("timeout") == "1"  # a lone 2 waits 1 s for a possible 5
    assert twiml.one("Pause").get("length") == "4"  # still 5 s for the first key
    assert gather.get("finishOnKey") == ""
    assert twiml.verbs == ["Gather", "Redirect"]
    assert all(s.get("voice") == "Polly.Mia" and s.get("language") == "es-MX"
               for s in twiml.all("Say"))


@pytest.mark.parametrize(
    ("when", "digits", "queue"),
    [
        ("2026-12-01 10:00", "25", "soporte-subasta"),   # Tuesday morning
        ("2026-12-01 10:00", "23", "soporte-certimail"),
        ("2026-11-28 12:30", "25", "soporte-subasta"),   # Saturday, half day
        ("2026-11-30 18:59", "25", "soporte-subasta"),   # Monday, last minute
        ("2026-12-01 16:59", "3", "pqrsa"),
    ],
)
def test_in_hours_reaches_the_team(
    caller: Caller, clock: Clock, when: str, digits: str, queue: str
) -> None:
    """In hours, the keys of the seed pages (2-5, 2-3, 3) put the caller in the team's queue."""
    clock.set(when, BOGOTA)
    caller.call(CERTICAMARA)
    twiml = caller.press(digits)
    enqueue = twiml.one("Enqueue")
    assert enqueue.text == queue
    assert twiml.verbs == ["Say", "Enqueue"]


def test_keys_one_at_a_time_reach_the_same_place(caller: Caller) -> None:
    """Pressing 2, waiting for the support menu, then 5 lands where 25 lands."""
    caller.call(CERTICAMARA)
    support = caller.press("2")
    assert "Subasta Electrónica, marque 5" in support.text
    assert caller.press("5").one("Enqueue").text == "soporte-subasta"


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("2026-11-29 03:00", "fuera del horario"),      # Sunday night
        ("2026-11-28 13:30", "fuera del horario"),      # Saturday after 1 p.m.
        ("2026-11-30 19:00", "fuera del horario"),      # Monday, 7 p.m. sharp
        ("2026-12-08 10:00", "La Inmaculada Concepción"),  # Colombian holiday, a Tuesday
    ],
)
def test_out_of_hours_says_the_hours_and_offers_priority_1(
    caller: Caller, clock: Clock, when: str, reason: str
) -> None:
    """Out of hours, at once: why, the hours from the schedule, then the 24/7 priority-1 line."""
    clock.set(when, BOGOTA)
    twiml = caller.call(CERTICAMARA)
    assert twiml.text.startswith("Bienvenido")
    assert reason in twiml.text
    assert SUPPORT_HOURS in twiml.text
    assert "prioridad 1" in twiml.text
    assert twiml.one("Gather").get("numDigits") == "1"
    dial = caller.press("1")
    assert dial.numbers == [(P1_MOBILE, None)]
    assert dial.one("Dial").get("answerOnBridge") == "true"


def test_priority_1_unanswered_says_so_and_ends_cleanly(caller: Caller, clock: Clock) -> None:
    """The priority-1 mobile is tried twice; then the caller is told and may leave a message."""
    clock.set("2026-11-29 03:00", BOGOTA)
    caller.call(CERTICAMARA)
    caller.press("1")
    again = caller.dial_ends("no-answer")
    assert again.numbers == [(P1_MOBILE, None)]
    twiml = caller.dial_ends("no-answer")
    assert "nadie puede atender" in twiml.text
    assert twiml.verbs[-2:] == ["Record", "Redirect"]


def test_answered_call_ends_after_the_conversation(caller: Caller, clock: Clock) -> None:
    """When the person answered and the call ends, the service just hangs up."""
    clock.set("2026-11-29 03:00", BOGOTA)
    caller.call(CERTICAMARA)
    caller.press("1")
    assert caller.dial_ends("completed").verbs == ["Hangup"]


def test_pqrsa_closes_at_five(caller: Caller, clock: Clock) -> None:
    """PQRSA keeps its own hours: at 17:00 it is closed while support is still open."""
    clock.set("2026-12-01 17:00", BOGOTA)
    caller.call(CERTICAMARA)
    twiml = caller.press("3")
    assert "de lunes a viernes de 7 de la mañana a 5 de la tarde" in twiml.text
    assert "certicámara responde" in twiml.text
    assert "marque 2" in twiml.one("Gather").xpath("string()")  # back to the main menu
    assert caller.press("25").one("Enqueue").text == "soporte-subasta"


def test_escalation_levels_supervisor_extensions_in_turn(caller: Caller) -> None:
    """2-9-1: the supervisor's extensions are tried in order, then the coordinator."""
    caller.call(CERTICAMARA)
    caller.press("2")
    caller.press("9")
    seen = [caller.press("1").numbers]
    for _ in range(3):
        seen.append(caller.dial_ends("no-answer").numbers)
    assert seen == [[(PBX, "wwww" + ext)] for ext in ("1113", "1107", "1109", "1427")]
    coordinator = caller.dial_ends("busy")
    assert coordinator.numbers == [(PBX, "wwww1101")]
    assert "coordinador" in coordinator.text
    last = caller.dial_ends("failed")
    assert "nadie puede atender" in last.text and last.all("Record")


def test_escalation_reached_by_type_ahead(caller: Caller) -> None:
    """29 typed ahead opens the escalation menu; 2 there rings the coordinator."""
    caller.call(CERTICAMARA)
    assert "coordinador de soporte, marque 2" in caller.press("29").text
    assert caller.press("2").numbers == [(PBX, "wwww1101")]


def test_queue_wait_plays_music_then_gives_up_after_max_wait(caller: Caller) -> None:
    """While queued: the wait message and hold music; after the longest wait, out of the queue."""
    caller.call(CERTICAMARA)
    caller.press("25")
    holding = caller.waits(30)
    assert holding.verbs == ["Say", "Play"]
    assert caller.waits(299).verbs == ["Say", "Play"]
    assert caller.waits(300).verbs == ["Leave"]
    twiml = caller.queue_ends("leave")  # on to the next escalation level: the supervisor
    assert "nadie puede atender" in twiml.text and "supervisor" in twiml.text
    assert twiml.numbers == [(PBX, "wwww1113")]


def test_queue_bridged_then_done(caller: Caller) -> None:
    """After the team took the call and it ended, the service hangs up."""
    caller.call(CERTICAMARA)
    caller.press("25")
    assert caller.queue_ends("bridged").verbs == ["Hangup"]


def test_observed_holiday_is_named_without_the_annotation(caller: Caller, clock: Clock) -> None:
    """A holiday moved to Monday is said by its name, without the calendar's '(observado)'."""
    clock.set("2026-03-23 10:00", BOGOTA)
    twiml = caller.call(CERTICAMARA)
    assert "Hoy es festivo, Día de San José, y no estamos atendiendo." in twiml.text
