"""`flask ivr call`: a call simulated in the terminal, through the real signed webhooks."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from ivr.admin.simulator import Prompting, Script, Simulator, parse_keys, take_digits
from tests.conftest import CCO, CERTICAMARA, Clock

UNKNOWN = "+12125550199"


def call(runner: Any, number: str, *options: str) -> list[str]:
    """Run `flask ivr call NUMBER OPTIONS...`; it must reach an end; its transcript lines."""
    result = runner.invoke(args=["ivr", "call", number, *options])
    assert result.exit_code == 0, result.output
    lines: list[str] = result.stdout.splitlines()
    return lines


def after(lines: list[str], first: str, then: str) -> bool:
    """Whether line `then` comes after line `first` (both present, exactly)."""
    return first in lines and then in lines[lines.index(first) + 1:]


# Certicámara


def test_certicamara_in_hours_25_types_ahead_into_the_subasta_queue(
    app: Flask, runner: Any, clock: Clock
) -> None:
    """Tuesday 10:00, 25 typed during the welcome: one webhook later, the Subasta queue."""
    clock.set("2026-11-29 03:00", "America/Bogota")  # --at wins over the app's clock
    lines = call(runner, CERTICAMARA, "--at", "2026-12-01 10:00", "--keys", "25")
    assert "línea certicamara (Certicámara), martes 2026-12-01 10:00" in lines[0]
    assert "  Bienvenido a la línea de servicio al cliente de Certicámara." in lines
    assert "  [pausa 4s]" in lines
    assert after(lines, "⇢ marque una tecla (hasta 2 dígitos)", "  ⌨ 25")
    assert "→ POST /voice/certicamara/menu/principal?f=0  Digits=25  ⇒ subasta (queue)" in lines
    assert "⏳ en cola 'soporte-subasta'" in lines
    assert any(line.startswith("  [audio: http") for line in lines)  # the hold music
    assert lines[-1] == "■ fin: en cola 'soporte-subasta' (3 webhooks)"
    assert app.config["CLOCK"] is clock  # the clock is the app's own again


def test_certicamara_sunday_night_offers_priority_1_and_1_dials_the_mobile(runner: Any) -> None:
    """Sunday 03:00: the caller hears why, the hours and the offer; 1 rings the 24/7 mobile."""
    lines = call(runner, CERTICAMARA, "--at", "2026-11-29 03:00", "--keys", "1")
    text = "\n".join(lines)
    assert "fuera del horario de atención" in text
    assert "Nuestro horario de atención es de lunes a viernes de 7 de la mañana" in text
    assert "incidente crítico de prioridad 1, marque 1" in text
    assert after(lines, "⇢ marque una tecla (hasta 1 dígito)", "  ⌨ 1")
    assert "☎ llamando a +57 318 7174937 (30 s) …" in lines
    assert ("  ☏ contesta y oye: Llamada de prioridad 1 de la línea Certicámara. "
            "Para aceptarla, marque 1. (×2)") in lines
    assert after(lines, "  ⌨ 1 (quien contesta acepta)", "  ✔ conectado con +57 318 7174937")
    assert after(lines, "  ✔ conectado con +57 318 7174937", "✆ cuelga")
    assert lines[-1].startswith("■ fin: conectado con +57 318 7174937")


def test_certicamara_pqrsa_at_17_is_closed(runner: Any) -> None:
    """3 at 17:00: PQRSA has closed (support has not); the caller hears its hours and address."""
    lines = call(runner, CERTICAMARA, "--at", "2026-12-01 17:00", "--keys", "3")
    text = "\n".join(lines)
    assert "  En este momento estamos fuera del horario de atención." in lines
    assert "de lunes a viernes de 7 de la mañana a 5 de la tarde" in text
    assert "arroba certicámara punto com" in text
    assert "⏳ en cola 'pqrsa'" not in lines
    # Then silence: the menu three times, and the support group (open until 19:00).
    assert lines.count("  ⌨ (silencio)") == 3
    assert lines[-1].startswith("■ fin: en cola 'soporte'")


def test_certicamara_supervisor_extensions_in_turn(runner: Any) -> None:
    """2, 9, 1 at successive menus; 1113 and 1107 do not answer; 1109 answers and accepts."""
    lines = call(runner, CERTICAMARA, "--at", "2026-12-01 10:00", "--keys", "2 9 1",
                 "--dial", "no-answer,no-answer")
    dialled = [line for line in lines if line.startswith("☎")]
    assert dialled == [
        "☎ llamando a +57 601 3790300 ext. 1113 (45 s) …",
        "☎ llamando a +57 601 3790300 ext. 1107 (45 s) …",
        "☎ llamando a +57 601 3790300 ext. 1109 (45 s) …",
    ]
    assert lines.count("  ✗ nadie contesta") == 2
    assert "  ✔ conectado con +57 601 3790300 ext. 1109" in lines
    assert lines[-1].startswith("■ fin: conectado con +57 601 3790300 ext. 1109")


def test_keys_typed_at_once_carry_over_to_the_next_menu(runner: Any) -> None:
    """'291': the main menu takes 29 (two digits at most), the escalation menu the 1."""
    lines = call(runner, CERTICAMARA, "--at", "2026-12-01 10:00", "--keys", "291")
    assert "  ⌨ 29  (y 1 por adelantado)" in lines
    assert "☎ llamando a +57 601 3790300 ext. 1113 (45 s) …" in lines


def test_declined_screening_rings_the_mobile_again(runner: Any) -> None:
    """Declined: answered, no 1 pressed, not bridged; the chain rings the mobile once more."""
    lines = call(runner, CERTICAMARA, "--at", "2026-11-29 03:00", "--keys", "1",
                 "--dial", "declined")
    assert "  ⌨ (quien contesta no marca nada)" in lines
    assert "  ✗ contesta pero no acepta: no se conecta" in lines
    assert any("DialCallStatus=completed  DialBridged=false" in line for line in lines)
    assert [line for line in lines if line.startswith("☎")] == [
        "☎ llamando a +57 318 7174937 (30 s) …"] * 2


# CCO


def test_cco_in_hours_1_reads_the_case_number_records_and_queues(runner: Any) -> None:
    """Monday 09:00, 1: a case number read back, the description recorded, the support queue."""
    lines = call(runner, CCO, "--at", "2026-11-30 09:00", "--keys", "1")
    [read] = [line for line in lines if "Su número de caso es" in line]
    number = "".join(re.findall(r"\d", read))
    assert len(number) == 8
    assert after(lines, read, "● grabando mensaje (hasta 120 s)")
    assert "  Gracias. Su descripción quedó registrada en su caso." in lines
    assert after(lines, "● grabando mensaje (hasta 120 s)", "⏳ en cola 'centro-soporte'")
    assert lines[-1] == "■ fin: en cola 'centro-soporte' (5 webhooks)"
    shown = runner.invoke(args=["ivr", "cases", "show", number])
    assert shown.exit_code == 0 and "/Accounts/AC" + "0" * 32 + "/Recordings/RE" in shown.output


def test_cco_saturday_night_nobody_answers_a_message_is_recorded(runner: Any) -> None:
    """Saturday 03:00, 1: both on-call mobiles miss it; the caller leaves a voice message, which
    becomes a callback (the simulated caller ID is withheld: a number is typed)."""
    lines = call(runner, CCO, "--at", "2026-11-28 03:00", "--keys", "1 04141234567 2",
                 "--dial", "no-answer,no-answer")
    assert [line for line in lines if line.startswith("☎")] == [
        "☎ llamando a +58 414-0143913 (25 s) …", "☎ llamando a +58 414-0320151 (25 s) …"]
    assert "  En este momento nadie puede atender su llamada." in lines
    assert after(lines, "● grabando mensaje (hasta 120 s)",
                 "  Gracias. Recibimos su mensaje y lo atenderemos lo antes posible.")
    assert "  ⌨ 04141234567" in lines
    assert any("Lo llamaremos el lunes 30 antes de las" in line for line in lines)
    assert lines[-2:] == ["✆ cuelga", "■ fin: cuelga (7 webhooks)"]
    assert "+584141234567" in runner.invoke(args=["ivr", "callbacks", "list"]).output
    missed = runner.invoke(args=["ivr", "missed"])
    assert "mensaje_guardia" in missed.output and "/Accounts/AC" + "0" * 32 in missed.output


# Other numbers, mistakes and failures


def test_unknown_number_hears_a_polite_message(runner: Any) -> None:
    """A number no line answers: a short message and goodbye (an end like any other)."""
    lines = call(runner, UNKNOWN)
    assert "ninguna línea atiende" in lines[0]
    assert "  Este número no tiene un servicio de atención configurado. Gracias por llamar." \
        in lines
    assert lines[-2:] == ["✆ cuelga", "■ fin: cuelga (1 webhook)"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--keys", "2x"], "'2x' is not keys"),
        (["--dial", "maybe"], "'maybe' is not a dial outcome"),
        (["--at", "mañana"], "is not a date and time"),
    ],
)
def test_mistakes_are_refused(runner: Any, options: list[str], message: str) -> None:
    """A bad option says what is wrong (exit 2, nothing called)."""
    result = runner.invoke(args=["ivr", "call", CERTICAMARA, *options])
    assert result.exit_code == 2 and message in result.output


def test_without_a_token_it_says_what_to_set(make_app: Any) -> None:
    """No TWILIO_AUTH_TOKEN (and checks on): exit 1 with what to set; with checks off, unsigned."""
    result = make_app(TWILIO_AUTH_TOKEN="").test_cli_runner().invoke(
        args=["ivr", "call", CERTICAMARA])
    assert result.exit_code == 1
    assert "TWILIO_AUTH_TOKEN" in result.output and "IVR_SIGNATURE_CHECK=off" in result.output
    unsigned = make_app(TWILIO_AUTH_TOKEN="", IVR_SIGNATURE_CHECK=False).test_cli_runner()
    assert call(unsigned, CERTICAMARA, "--keys", "25")[-1].startswith(
        "■ fin: en cola 'soporte-subasta'")


def test_a_refused_webhook_ends_with_status_1(app: Flask, runner: Any) -> None:
    """Signed with a token the app does not hold: 403, reported, exit 1."""
    app.config["TWILIO_AUTH_TOKEN"] = "not-the-token-the-app-checks-with"
    result = runner.invoke(args=["ivr", "call", CERTICAMARA])
    assert result.exit_code == 1
    assert "✗ HTTP 403 from POST /voice" in result.stdout


def test_a_webhook_that_fails_inside_ends_with_status_1(
    runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app turns a crash into an apology the caller hears (200): still a failure here."""

    def crash(*args: Any) -> None:
        """A bug in the navigator."""
        raise RuntimeError("boom")

    monkeypatch.setattr("ivr.core.navigator.incoming", crash)
    result = runner.invoke(args=["ivr", "call", CERTICAMARA])
    assert result.exit_code == 1
    assert "  Lo sentimos, tenemos un problema técnico." in result.stdout.splitlines()[2]
    assert "✗ POST /voice failed (error)" in result.stdout


def test_behind_a_proxy_it_signs_the_public_urls(make_app: Any) -> None:
    """With PUBLIC_BASE_URL the links are absolute and signed as Twilio signs them."""
    runner = make_app(PUBLIC_BASE_URL="https://ivr.example.com/ivr").test_cli_runner()
    lines = call(runner, CERTICAMARA, "--at", "2026-12-01 10:00", "--keys", "25")
    assert "⏳ en cola 'soporte-subasta'" in lines


# The simulator itself


def test_a_loop_is_stopped_after_the_step_limit(app: Flask) -> None:
    """Silence everywhere with a tiny step limit: stopped, reported, not an end."""
    transcript = Simulator(app, Script(), max_steps=2).run(CERTICAMARA)
    assert not transcript.ok and transcript.steps == 2
    assert transcript.lines[-1] == "✗ 2 webhooks without reaching an end: stopped (a loop?)"


def test_interactive_keys_and_q(app: Flask, clock: Clock) -> None:
    """At a terminal the admin is asked at each menu; a wrong answer is asked again; q hangs up."""
    answers = iter(["2", "x", "", "q"])
    questions: list[str] = []

    def ask(question: str) -> str:
        """The admin's next answer."""
        questions.append(question)
        return next(answers)

    printed: list[str] = []
    transcript = Simulator(app, Prompting(ask), printed.append).run(CERTICAMARA)
    assert transcript.ok and transcript.ending == "caller-hangup"
    assert printed == transcript.lines
    assert "solo 0-9" in questions[2]
    assert transcript.lines[-2:] == ["✆ el llamante cuelga", "■ fin: el llamante colgó "
                                     "(3 webhooks)"]


@pytest.mark.parametrize(
    ("keys", "limit", "finish", "taken"),
    [
        ("25", 2, "", ("25", "")),
        ("291", 2, "", ("29", "1")),
        ("2", 2, "", ("2", "")),
        ("12345678#9", 8, "#", ("12345678", "#9")),
        ("1234#9", 8, "#", ("1234", "9")),
        ("#", 1, "", ("#", "")),
    ],
)
def test_a_gather_takes_what_twilio_would(
    keys: str, limit: int, finish: str, taken: tuple[str, str]
) -> None:
    """numDigits and finishOnKey cut the keys; the rest is typed ahead into the next menu."""
    assert take_digits(keys, limit, finish) == taken


def test_keys_entries() -> None:
    """Spaces or commas split entries; _ is silence."""
    assert parse_keys("2 5,_ 25") == ["2", "5", None, "25"]


def test_every_document_the_simulator_gets_is_checked_against_the_schema(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulator itself only checks the root tag; in the tests every document it receives
    is validated too: a <Response> with a verb that does not exist fails the test."""
    from lxml import etree

    from ivr.web import helpers

    monkeypatch.setattr(helpers, "render_message",
                        lambda *args: "<Response><Shout>hola</Shout></Response>")
    with pytest.raises(etree.DocumentInvalid, match="Shout"):
        Simulator(app, Script()).run(UNKNOWN)
