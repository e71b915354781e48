"""Admin commands over the stores: cases, hours overrides, who is on call, missed calls.

Thin wrappers (`flask --app ivr ivr ...`) over the stores and the core; also the schema's
migrations, and what every admin module shares: the `ivr` group, finding a line, local times.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import IO
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from ivr import db
from ivr.admin.privacy import forget
from ivr.core.lines import Line
from ivr.core.moment import Moment, within_years
from ivr.core.phone import format_international
from ivr.store import cases, missed_calls, oncall_overrides, overrides
from ivr.store.tables import CASE_STATUSES
from ivr.web import live_menus
from ivr.web.live_menus import get_lines

log = logging.getLogger("ivr.admin")

db_cli = AppGroup("db", help="The database schema.")
cases_cli = AppGroup("cases", help="Support cases issued on the phone.")
override_cli = AppGroup("override", help="Force a line or a node open or closed for a while.")
MAX_LIMIT = 100_000  # rows a listing prints at most
MAX_ID = 2**31 - 1  # an id the database's INTEGER holds (PostgreSQL's is 32 bits)
MAX_REASON = 200  # hours_overrides.reason


def init_app(app: Flask) -> None:
    """Register the commands over the stores: db, cases, override, oncall, missed, forget."""
    group = ivr_group(app)
    for command in (db_cli, cases_cli, override_cli, oncall, missed, forget):
        group.add_command(command)


def ivr_group(app: Flask) -> click.Group:
    """The app's `flask ivr` group, made on first use; each admin module adds its commands."""
    group = app.cli.commands.get("ivr")
    if not isinstance(group, click.Group):
        group = IvrGroup("ivr", help="Run the IVR's admin commands.")
        app.cli.add_command(group)
    return group


class IvrGroup(AppGroup):
    """The `flask ivr` group: a database error in any of its commands is one line, exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; turn a database error into a command error (no traceback)."""
        try:
            return super().invoke(ctx)
        except SQLAlchemyError as e:
            raise click.ClickException(database_error(e)) from e


def database_error(error: SQLAlchemyError) -> str:
    """One line saying what the database refused (the driver's first line, no values)."""
    return f"database error ({type(error).__name__}): {db.first_line(error)}"


def line_or_fail(line_id: str) -> Line:
    """The loaded line `line_id`, or a usage error that names the lines there are."""
    live_menus.require_menus(current_app)
    lines = get_lines()
    line = lines.get(line_id)
    if line is None:
        raise click.BadParameter(f"no line {line_id!r}; lines: {', '.join(sorted(lines.lines))}",
                                 param_hint="LINE")
    return line


def local_time(text: str, zone: tzinfo | None) -> datetime:
    """A local date and time ('2026-12-08 18:00'), aware in `zone`."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise click.BadParameter(f"{text!r} is not a date and time like '2026-12-08 18:00'") from e
    try:
        within_years(moment)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def now() -> datetime:
    """The app's clock."""
    moment: datetime = current_app.config["CLOCK"]()
    return moment


def _zone(line_id: str) -> ZoneInfo:
    """The time zone of line `line_id` (UTC for a line no menu file defines any more)."""
    line = get_lines().get(line_id)
    return ZoneInfo(line.spec.timezone if line is not None else "UTC")


def _clock_time(moment: datetime, zone: ZoneInfo) -> str:
    """A time as every command prints it: local to the line, to the minute."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest migration."""
    engine = db.get_engine()
    db.upgrade(engine)
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@cases_cli.command("list")
@click.option("--line", help="Only this line's cases.")
@click.option("--status", type=click.Choice(CASE_STATUSES), help="Only cases in this status.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, MAX_LIMIT),
              help="How many, newest first.")
def cases_list(line: str | None, status: str | None, limit: int) -> None:
    """List cases, newest first."""
    rows = cases.list_cases(db.session(), line=line, status=status, limit=limit)
    for case in rows:
        zone = _zone(case.line)
        click.echo(f"{case.number}  {_clock_time(case.created_at, zone)} ({zone.key})  "
                   f"{case.line:<12} "
                   f"{case.team:<16} level {case.level}  {case.status:<16} {case.caller or ''}")
    if not rows:
        click.echo("no cases")


@cases_cli.command("show")
@click.argument("number")
def cases_show(number: str) -> None:
    """Show one case and every call that touched it."""
    case = cases.case_with_calls(db.session(), number)
    if case is None:
        raise click.ClickException(f"no case {number!r}")
    zone = _zone(case.line)
    for label, value in [
        ("number", case.number), ("line", case.line), ("team", case.team),
        ("level", case.level), ("status", case.status), ("caller", case.caller),
        ("opened", f"{_clock_time(case.created_at, zone)} ({zone.key})"),
        ("updated", f"{_clock_time(case.updated_at, zone)} ({zone.key})"),
        ("recording", case.recording_url), ("transcription", case.transcription),
    ]:
        click.echo(f"{label:>13}: {'' if value is None else value}")
    click.echo("        calls:")
    for call in case.calls:
        click.echo(f"  {_clock_time(call.at, zone)}  {call.call_sid or '-':<34} "
                   f"{call.caller or '-':<14} {call.node:<16} {call.outcome}")


@cases_cli.command("status")
@click.argument("number")
@click.argument("status", type=click.Choice(CASE_STATUSES))
@click.option("--level", type=click.IntRange(1, 9), help="Escalation level (1: the team).")
def cases_status(number: str, status: str, level: int | None) -> None:
    """Change a case's status (and escalation level)."""
    try:
        case = cases.set_status(db.session(), number, status, now(), level)
    except cases.CaseError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"case {case.number}: {case.status}, level {case.level}")


@cases_cli.command("close")
@click.argument("number")
def cases_close(number: str) -> None:
    """Close a case."""
    try:
        case = cases.set_status(db.session(), number, "closed", now())
    except cases.CaseError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"case {case.number}: closed")


@cases_cli.command("export")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="CSV file to write (default: standard output).")
def cases_export(output: IO[str]) -> None:
    """Export every case as CSV."""
    count = cases.export_csv(cases.all_cases(db.session()), output)
    if output.name != "<stdout>":
        click.echo(f"{count} cases written to {output.name}", err=True)
    sys.stdout.flush()


def _local(line: Line, text: str | None, default: datetime) -> datetime:
    """A local time of the line, aware in the line's zone (or `default` when not given)."""
    return local_time(text, ZoneInfo(line.spec.timezone)) if text else default


def _set_override(line_id: str, node: str | None, opened: bool, start: str | None,
                  until: str, reason: str | None) -> None:
    """Store an override and say what it does, in the line's local time."""
    line = line_or_fail(line_id)
    if node is not None and node not in line.spec.nodes:
        raise click.BadParameter(f"line {line_id!r} has no node {node!r}")
    at = now()
    zone = ZoneInfo(line.spec.timezone)
    starts_at = _local(line, start, at).astimezone(zone)
    ends = _local(line, until, at).astimezone(zone)
    try:
        row = overrides.add(db.session(), line=line.id, node=node, open_=opened,
                                 starts_at=starts_at, until=ends, reason=reason, now=at)
    except overrides.OverrideError as e:
        raise click.ClickException(str(e)) from e
    what = f"node {node}" if node else "the whole line"
    state = "open" if opened else "closed"
    log.warning("override %s: %s of %s forced %s from %s until %s (%s)", row.id, what, line.id,
                state, starts_at.isoformat(), ends.isoformat(), reason or "no reason given")
    click.echo(f"override {row.id}: {what} of {line.id} {state} from "
               f"{starts_at:%Y-%m-%d %H:%M} until {ends:%Y-%m-%d %H:%M} ({line.spec.timezone})")


def _reason(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--reason, refused when longer than the database keeps (not cut, not stored whole)."""
    if value is not None and len(value) > MAX_REASON:
        raise click.BadParameter(f"{len(value)} characters; at most {MAX_REASON}")
    return value


def _override_options(command: Callable[..., None]) -> Callable[..., None]:
    """The arguments `override close` and `override open` share."""
    for option in reversed([
        click.argument("line_id", metavar="LINE"),
        click.option("--node", help="Only this node (default: every node with hours)."),
        click.option("--from", "start", help="Local start, '2026-12-08 08:00' (default: now)."),
        click.option("--until", required=True, help="Local end, '2026-12-08 18:00'."),
        click.option("--reason", callback=_reason, help=f"Why, for the log and the list "
                                                         f"(up to {MAX_REASON} characters)."),
    ]):
        command = option(command)
    return command


@override_cli.command("close")
@_override_options
def override_close(line_id: str, node: str | None, start: str | None, until: str,
                   reason: str | None) -> None:
    """Close a line (or a node) until a given time, whatever its schedule says."""
    _set_override(line_id, node, False, start, until, reason)


@override_cli.command("open")
@_override_options
def override_open(line_id: str, node: str | None, start: str | None, until: str,
                  reason: str | None) -> None:
    """Open a line (or a node) until a given time, e.g. on a holiday."""
    _set_override(line_id, node, True, start, until, reason)


@override_cli.command("list")
@click.option("--all", "everything", is_flag=True, help="Also the expired and cancelled ones.")
def override_list(everything: bool) -> None:
    """Overrides in force or to come (newest first)."""
    rows = overrides.listing(db.session(), now(), everything)
    for row in rows:
        state = "cancelled" if row.cancelled_at else row.state
        zone = _zone(row.line)
        click.echo(f"{row.id:>4}  {row.line:<12} {row.node or '(line)':<18} {state:<9} "
                   f"{_clock_time(row.starts_at, zone)} → {_clock_time(row.until, zone)} "
                   f"({zone.key})  {row.reason or ''}")
    if not rows:
        click.echo("no overrides")


@override_cli.command("cancel")
@click.argument("override_id", type=click.IntRange(1, MAX_ID))
def override_cancel(override_id: int) -> None:
    """End an override now."""
    try:
        row = overrides.cancel(db.session(), override_id, now())
    except overrides.OverrideError as e:
        raise click.ClickException(str(e)) from e
    log.warning("override %s cancelled", row.id)
    click.echo(f"override {row.id} cancelled")


@click.command("oncall")
@with_appcontext
@click.argument("line_id", metavar="LINE")
@click.argument("rotation", required=False)
@click.option("--at", "at_text", help="Local date and time (default: now), past or future.")
def oncall(line_id: str, rotation: str | None, at_text: str | None) -> None:
    """Who is (was, will be) on call, and in what order a priority-1 chain rings them."""
    line = line_or_fail(line_id)
    names = [rotation] if rotation else list(line.rotations)
    if not names:
        raise click.ClickException(f"line {line_id!r} has no on_call rotations")
    zone = ZoneInfo(line.spec.timezone)
    at = _local(line, at_text, now()).astimezone(zone)
    # with the dated overrides set from the console, as the phone chains see them
    moment = Moment(at, (), oncall_overrides.active(db.session(), line.id, at))
    for name in names:
        if name not in line.rotations:
            raise click.BadParameter(f"no rotation {name!r}; rotations: "
                                     f"{', '.join(line.rotations)}")
        turn = moment.rotation(line, name).on_call(at)
        order = moment.rotation(line, name).order(at)
        click.echo(f"{name} at {at:%Y-%m-%d %H:%M} ({line.spec.timezone}): "
                   f"{turn.contact.role} {format_international(turn.contact.number)} "
                   f"[{turn.source}]")
        if turn.since or turn.until:
            since = _clock_time(turn.since, zone) if turn.since else "always"
            until = _clock_time(turn.until, zone) if turn.until else "no end"
            click.echo(f"  turn: {since} → {until} ({zone.key})")
        click.echo("  order: " + ", then ".join(c.role for c in order))


@click.command("missed")
@with_appcontext
@click.option("--line", "line_id", help="Only this line.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, MAX_LIMIT),
              help="How many, newest first.")
def missed(line_id: str | None, limit: int) -> None:
    """Calls nobody took (a whole chain failed), with their voice messages."""
    rows = missed_calls.listing(db.session(), line_id, limit)
    for row in rows:
        zone = _zone(row.line)
        click.echo(f"{_clock_time(row.at, zone)} ({zone.key})  {row.line:<12} {row.node:<20} "
                   f"{row.caller or '-':<14} {row.recording_url or '(no message)'}")
        if row.transcription:
            click.echo(f"    «{row.transcription}»")
    if not rows:
        click.echo("no missed calls")
