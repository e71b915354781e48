"""The callback list and the analysts, from the terminal.

`flask ivr callbacks list|show|done|cancel`: the callback list, in the order it is worked;
`flask ivr analysts add|reset|remove|list`: who logs in on the analysts' number.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ivr import db
from ivr.admin.cli import ivr_group, line_or_fail
from ivr.core.callbacks import severity_label
from ivr.store import analysts, callbacks
from ivr.store.tables import CALLBACK_OPEN, CALLBACK_STATUSES, Callback
from ivr.web.live_menus import get_lines

callbacks_cli = AppGroup("callbacks", help="Callers to call back, gravest and earliest first.")
analysts_cli = AppGroup("analysts", help="Analysts who log in by phone (code and PIN).")


def init_app(app: Flask) -> None:
    """Register `flask ivr callbacks` and `flask ivr analysts`."""
    ivr_group(app).add_command(callbacks_cli)
    ivr_group(app).add_command(analysts_cli)


_pin = click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True,
                    help="4 to 8 digits (asked without echo when not given).")


@analysts_cli.command("add")
@click.argument("line_id", metavar="LINE")
@click.argument("code")
@_pin
@click.option("--name", help="Who it is (shown in lists).")
def analysts_add(line_id: str, code: str, pin: str, name: str | None) -> None:
    """Add an analyst to a line that has `analysts:`; the PIN is stored hashed (scrypt)."""
    line = line_or_fail(line_id)
    if line.spec.analysts is None:
        raise click.ClickException(f"line {line_id} has no 'analysts:' in its file")
    _analysts(lambda: analysts.add(db.session(), line=line_id, code=code, pin=pin, name=name,
                                   now=current_app.config["CLOCK"]()))
    click.echo(f"analyst {code} added to {line_id}")


@analysts_cli.command("reset")
@click.argument("line_id", metavar="LINE")
@click.argument("code")
@_pin
def analysts_reset(line_id: str, code: str, pin: str) -> None:
    """A new PIN for an analyst (and the lockout lifted)."""
    _analysts(lambda: analysts.reset(db.session(), line=line_id, code=code, pin=pin))
    click.echo(f"analyst {code}: new PIN")


@analysts_cli.command("remove")
@click.argument("line_id", metavar="LINE")
@click.argument("code")
def analysts_remove(line_id: str, code: str) -> None:
    """Remove an analyst."""
    _analysts(lambda: analysts.remove(db.session(), line=line_id, code=code))
    click.echo(f"analyst {code} removed from {line_id}")


@analysts_cli.command("list")
@click.option("--line", "line_id", help="Only this line.")
def analysts_list(line_id: str | None) -> None:
    """The analysts (never their PINs)."""
    rows = analysts.listing(db.session(), line_id)
    for row in rows:
        locked = f"  locked until {_text(row.locked_until)}" if row.locked_until else ""
        click.echo(f"{row.line:<10} {row.code:<8} {row.name or ''}{locked}")
    if not rows:
        click.echo("no analysts")


def _analysts(work: Callable[[], object]) -> None:
    """Run an analysts' change, turning its refusal into a clear error."""
    try:
        work()
    except analysts.AnalystError as e:
        raise click.ClickException(str(e)) from e


@callbacks_cli.command("list")
@click.option("--line", help="Only this line's callbacks.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(CALLBACK_STATUSES),
              help="Only these statuses (default: pending and claimed).")
@click.option("--limit", default=100, show_default=True)
def callbacks_list(line: str | None, statuses: tuple[str, ...], limit: int) -> None:
    """The callback list in the order analysts take it: severity, then who queued first."""
    rows = callbacks.listing(db.session(), line=line, statuses=statuses or CALLBACK_OPEN,
                             limit=limit)
    for row in rows:
        click.echo(_row(row))
    if not rows:
        click.echo("no callbacks")


@callbacks_cli.command("show")
@click.argument("callback_id", type=int)
def callbacks_show(callback_id: int) -> None:
    """One callback in full."""
    row = callbacks.get(db.session(), callback_id)
    if row is None:
        raise click.ClickException(f"no callback {callback_id}")
    click.echo(_row(row))
    for name in ("number", "case_number", "joined_at", "requested_at", "due_at", "attempts",
                 "last_outcome", "claimed_by", "claimed_at", "node", "call_sid"):
        click.echo(f"  {name}: {_text(getattr(row, name))}")


@callbacks_cli.command("done")
@click.argument("callback_id", type=int)
def callbacks_done(callback_id: int) -> None:
    """Mark a callback done (the customer was reached some other way)."""
    _close(callback_id, "done")


@callbacks_cli.command("cancel")
@click.argument("callback_id", type=int)
def callbacks_cancel(callback_id: int) -> None:
    """Cancel a callback."""
    _close(callback_id, "cancelled")


def _close(callback_id: int, status: str) -> None:
    """Set a final status, or say why not."""
    try:
        callbacks.close(db.session(), callback_id, status, current_app.config["CLOCK"]())
    except callbacks.CallbackError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"callback {callback_id}: {status}")


def _row(row: Callback) -> str:
    """One line of the list."""
    line = get_lines().get(row.line)
    label = severity_label(line, row.severity) if line is not None else ""
    severity = f"{row.severity} {label}" if row.severity else "(asking)"
    return (f"#{row.id:<5} {row.status:<11} {row.line:<10} sev {severity:<42} "
            f"joined {_text(row.joined_at)}  due {_text(row.due_at)}  "
            f"case {row.case_number or '-'}  {row.number or '-'}  tries {row.attempts}")


def _text(value: object) -> str:
    """A value for the terminal (times in UTC, minutes)."""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}Z"
    return "-" if value is None else str(value)
