"""`flask ivr call NUMBER`: a call simulated in the terminal, through the real webhooks."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ivr.admin.cli import ivr_group
from ivr.admin.simulator import (
    DEFAULT_CALLER,
    QUIT,
    Driver,
    Prompting,
    Script,
    Simulator,
    SimulatorError,
    local_time,
    parse_dials,
    parse_keys,
)
from ivr.core.phone import normalize_called
from ivr.web import live_menus
from ivr.web.live_menus import get_lines


def init_app(app: Flask) -> None:
    """Register `call`."""
    ivr_group(app).add_command(call_command)


@click.command("call")
@click.argument("number")
@click.option("--at", "at_text", metavar="'YYYY-MM-DD HH:MM'",
              help="Local time of the line called (default: now).")
@click.option("--keys", help="Keys for successive menus, split by spaces or commas: '2 5' "
                             "presses 2, then 5 at the next menu; '25' types ahead; _ is "
                             "silence. Without it (and on a terminal) you are asked.")
@click.option("--dial", "dial_text", metavar="OUTCOMES",
              help="How successive <Dial>s end: completed, no-answer, busy, failed, canceled, "
                   "declined (answered but not accepted). Default: completed, answered.")
@click.option("--from", "caller", default=DEFAULT_CALLER, show_default=True,
              help="The caller's number.")
@click.option("--analyst", is_flag=True,
              help="Call the line's analysts' number (/voice/LINE/analyst) instead.")
@with_appcontext
def call_command(number: str, at_text: str | None, keys: str | None, dial_text: str | None,
                 caller: str, analyst: bool) -> None:
    """Simulate a call to NUMBER: what the caller hears, what the call does, where it goes.

    The real webhooks answer, signed with TWILIO_AUTH_TOKEN, so the call leaves what a real
    one leaves in the database (case numbers, voice messages). Exit status 1 when a webhook
    fails or answers something Twilio would refuse.
    """
    to = normalize_called(number)
    if to is None:
        raise click.BadParameter(f"{number!r} is not a phone number; write it as +57 601 ...",
                                 param_hint="NUMBER")
    # The app itself, not the proxy: the simulator calls it outside this context.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # typed Flask
    live_menus.require_menus(app)
    try:
        simulator = Simulator(app, _driver(keys, dial_text), click.echo, caller=caller)
    except SimulatorError as e:
        raise click.ClickException(str(e)) from e
    entry = "/voice"
    if analyst:
        line = get_lines().for_number(to)
        if line is None or line.spec.analysts is None:
            raise click.BadParameter(f"no line with an analysts' number answers {number}",
                                     param_hint="NUMBER")
        entry = f"/voice/{line.id}/analyst"
    transcript = simulator.run(to, _moment(to, at_text), entry)
    if not transcript.ok:
        raise SystemExit(1)


def _moment(to: str, at_text: str | None) -> datetime | None:
    """--at, in the time zone of the line that answers `to` (UTC if none does)."""
    if not at_text:
        return None
    line = get_lines().for_number(to)
    try:
        return local_time(at_text, line.spec.timezone if line else "UTC")
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--at") from e


def _driver(keys: str | None, dial_text: str | None) -> Driver:
    """Scripted with --keys or without a terminal; else the admin is asked at each menu."""
    try:
        dials = parse_dials(dial_text or "")
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--dial") from e
    try:
        entries = parse_keys(keys) if keys is not None else []
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--keys") from e
    if keys is None and sys.stdin.isatty():
        return Prompting(_ask, dials)
    return Script(entries, dials)


def _ask(question: str) -> str:
    """One answer typed at the terminal; end of input (or Ctrl-C) hangs up."""
    try:
        answer: str = click.prompt(question, default="", show_default=False)
    except click.Abort:
        click.echo()
        return QUIT
    return answer
