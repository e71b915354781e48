"""The fallback webhook: Twilio's retry of a webhook of ours that failed reaches people, from
memory alone; `fallback_url` in a menu file says who, and is checked when the file loads."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ivr import db
from ivr.core.loader import MenuError, load_line
from ivr.web import live_menus
from tests.conftest import CCO, CERTICAMARA, Caller, Clock, Twiml
from tests.test_menu_validation import BASE, PROMPTS, edit

PRIORITY_1 = "+573187174937"
CCO_FIRST_ON_CALL = "+584140143913"


def rescued(caller: Caller, to: str) -> Twiml:
    """Twilio's fallback request: the original parameters plus ErrorCode and ErrorUrl."""
    caller.call_params = {"To": to, "From": "+573001234567"}
    return caller.request("/voice/fallback", ErrorCode="11200",
                          ErrorUrl="https://ivr.example.com/voice/cco/menu/principal?f=0")


def test_in_hours_the_caller_hears_an_apology_and_reaches_the_support_queue(
    caller: Caller
) -> None:
    """Certicámara on a Tuesday morning: sorry, then the support group's queue."""
    twiml = rescued(caller, CERTICAMARA)
    assert "problema técnico" in twiml.text
    assert twiml.one("Enqueue").text == "soporte"


def test_after_hours_the_caller_reaches_the_on_call_chain(caller: Caller, clock: Clock) -> None:
    """Certicámara at night: sorry, then the 24/7 priority-1 mobile rings."""
    clock.set("2026-12-01 23:00", "America/Bogota")
    twiml = rescued(caller, CERTICAMARA)
    assert "problema técnico" in twiml.text
    assert [n for n, _ in twiml.numbers] == [PRIORITY_1]


def test_cco_in_hours_and_after(caller: Caller, clock: Clock) -> None:
    """CCO: the support center's queue in its hours; the first on-call specialist after."""
    clock.set("2026-12-01 10:00", "America/Caracas")
    assert rescued(caller, CCO).one("Enqueue").text == "centro-soporte"
    clock.set("2026-12-05 10:00", "America/Caracas")  # a Saturday
    assert [n for n, _ in rescued(caller, CCO).numbers] == [CCO_FIRST_ON_CALL]


def test_the_fallback_reads_no_database_and_no_file(
    app: Flask, caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the database and every file read made to fail, the fallback still answers."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        """What the fallback must never call."""
        raise AssertionError("the fallback touched the database or a file")

    for name in ("session", "connection", "get_engine"):
        monkeypatch.setattr(db, name, refuse)
    monkeypatch.setattr(live_menus, "fingerprint", refuse)
    app.extensions["ivr.menu_source"].next_look = 0.0  # a reload look would be due now
    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(os, "stat", refuse)
    twiml = rescued(caller, CERTICAMARA)
    assert twiml.one("Enqueue").text == "soporte"


def test_the_fallback_is_signed_like_every_webhook(caller: Caller) -> None:
    """An unsigned request to the fallback gets 403."""
    response = caller.post("/voice/fallback", {"To": CERTICAMARA}, signature="A" * 27 + "=")
    assert response.status_code == 403


def test_a_number_no_line_claims_hears_the_short_message(caller: Caller) -> None:
    """The fallback for an unknown number: the polite message, valid TwiML."""
    twiml = rescued(caller, "+15005550006")
    assert twiml.verbs[-1] == "Hangup"


def _load(text: str, tmp_path: Path) -> Any:
    """Load one menu file written from `text`."""
    path = tmp_path / "prueba.yaml"
    path.write_text(text)
    return load_line(path, PROMPTS)


FALLBACK = "start: principal\n"


def test_fallback_url_is_kept_at_load_time(tmp_path: Path) -> None:
    """A valid `fallback_url`: the nodes and the in-hours node's schedule, ready in memory."""
    text = edit("  soporte:\n    type: dial\n", "  soporte:\n    type: dial\n    hours: oficina\n"
                "    after_hours: guardia\n", BASE)
    text = text.replace(FALLBACK, FALLBACK + "fallback_url: {in_hours: soporte, after_hours: "
                        "guardia}\n") + ("  guardia:\n    type: dial\n    targets:\n"
                                         "      - number: \"+57 318 717 4937\"\n")
    line = _load(text, tmp_path)
    assert line.rescue.in_hours == "soporte" and line.rescue.after_hours == "guardia"
    assert line.rescue.schedule is line.schedules["oficina"]


@pytest.mark.parametrize(("value", "message"), [
    ("{in_hours: soprte, after_hours: soporte}", "no node 'soprte' (did you mean 'soporte'?)"),
    ("{in_hours: principal, after_hours: soporte}", "a menu node; a caller whose webhook"),
    ("{in_hours: soporte, after_hours: despedida}", "must ring people at any hour"),
    ("{in_hours: soporte, after_hours: principal}", "must ring people at any hour"),
    ("{in_hours: soporte}", "missing required key 'after_hours'"),
])
def test_a_wrong_fallback_url_stops_the_load(value: str, message: str, tmp_path: Path) -> None:
    """Each mistake in `fallback_url` is reported at its line."""
    text = BASE.replace(FALLBACK, FALLBACK + f"fallback_url: {value}\n")
    with pytest.raises(MenuError) as raised:
        _load(text, tmp_path)
    assert message in str(raised.value)
    assert "prueba.yaml:7:" in str(raised.value)
