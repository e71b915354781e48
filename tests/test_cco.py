"""The CCO help desk, called as Twilio calls it, across its split shift and Venezuelan holidays."""

from __future__ import annotations

import pytest

from tests.conftest import CCO, CCO_SECOND, Caller, Clock

CARACAS = "America/Caracas"
HOURS = ("de lunes a viernes de 8 y media de la mañana a 12 del mediodía "
         "y de 2 a 5 y media de la tarde")
ON_CALL = ["+584140143913", "+584140320151"]


@pytest.mark.parametrize("number", [CCO, CCO_SECOND])
@pytest.mark.parametrize("when", ["2026-11-30 09:00", "2026-11-30 14:00", "2026-11-30 17:29"])
def test_in_hours_reaches_the_support_center(
    caller: Caller, clock: Clock, number: str, when: str
) -> None:
    """In hours, 1 on either number: a case number, the description recorded, then the queue."""
    clock.set(when, CARACAS)
    menu = caller.call(number)
    assert "Centro de Atención Integral" in menu.text
    assert menu.one("Gather").get("numDigits") == "1"
    assert "Su número de caso es" in caller.press("1").text
    record = caller.silence()
    assert "nombre de su empresa" in record.text  # what the procedure asks the caller to give
    assert record.one("Transcription").get("languageCode") == "es-MX"
    twiml = caller.records()
    assert "descripción quedó registrada" in twiml.text
    assert twiml.one("Enqueue").text == "centro-soporte"


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("2026-11-30 12:30", "fuera del horario"),  # lunch break of the split shift
        ("2026-11-30 17:45", "fuera del horario"),  # after 17:30
        ("2026-11-28 10:00", "fuera del horario"),  # Saturday
        ("2026-12-24 10:00", "Nochebuena"),         # Venezuelan holiday, a Thursday
    ],
)
def test_out_of_hours_offers_the_on_call_specialists(
    caller: Caller, clock: Clock, when: str, reason: str
) -> None:
    """Outside hours the caller hears why and the hours, and 1 rings the on-call mobiles."""
    clock.set(when, CARACAS)
    twiml = caller.call(CCO)
    assert reason in twiml.text and HOURS in twiml.text
    assert "emergencia, marque 1" in twiml.text
    first = caller.press("1")
    assert [n for n, _ in first.numbers] == ON_CALL[:1]
    second = caller.dial_ends("no-answer")
    assert [n for n, _ in second.numbers] == ON_CALL[1:]
    message = caller.dial_ends("busy")
    assert "nadie puede atender" in message.text and "Después del tono" in message.text
    assert message.one("Transcription").get("languageCode") == "es-MX"


def test_emergency_in_hours_with_9(caller: Caller, clock: Clock) -> None:
    """An emergency during the day goes straight to the on-call specialists."""
    clock.set("2026-11-30 09:00", CARACAS)
    caller.call(CCO)
    assert [n for n, _ in caller.press("9").numbers] == ON_CALL[:1]


def test_no_key_three_times_goes_to_the_support_center(caller: Caller, clock: Clock) -> None:
    """Silence: the menu again, and after three failures the fallback (the support center)."""
    clock.set("2026-11-30 09:00", CARACAS)
    caller.call(CCO)
    again = caller.silence()
    assert "marque 1" in again.text
    caller.silence()
    assert caller.silence().one("Enqueue").text == "centro-soporte"


def test_no_key_after_hours_ends_politely(caller: Caller, clock: Clock) -> None:
    """After hours, a caller who presses nothing hears the offer three times, then goodbye."""
    clock.set("2026-11-29 03:00", CARACAS)
    caller.call(CCO)
    caller.silence()
    caller.silence()
    twiml = caller.silence()
    assert "Hasta luego" in twiml.text and twiml.verbs[-1] == "Hangup"


def test_a_venezuelan_holiday_is_a_feriado(caller: Caller, clock: Clock) -> None:
    """The line says a holiday its own way (a service prompt overridden in its file)."""
    clock.set("2026-12-25 10:00", CARACAS)
    assert "Hoy es día feriado, Día de Navidad" in caller.call(CCO).text
