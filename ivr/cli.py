"""Admin commands: `flask --app ivr ivr ...` (thin wrappers over the case store and the db)."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ivr import case_store, db
from ivr.models import CASE_STATUSES

ivr_cli = AppGroup("ivr", help="Run the IVR's admin commands.")
db_cli = AppGroup("db", help="The database schema.")
cases_cli = AppGroup("cases", help="Support cases issued on the phone.")
ivr_cli.add_command(db_cli)
ivr_cli.add_command(cases_cli)


def init_app(app: Flask) -> None:
    """Register the `flask ivr` commands."""
    app.cli.add_command(ivr_cli)


def _now() -> datetime:
    """The app's clock."""
    moment: datetime = current_app.config["CLOCK"]()
    return moment


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest migration."""
    engine = db.session().get_bind()
    db.upgrade(engine)  # type: ignore[arg-type]
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@cases_cli.command("list")
@click.option("--line", help="Only this line's cases.")
@click.option("--status", type=click.Choice(CASE_STATUSES), help="Only cases in this status.")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
def cases_list(line: str | None, status: str | None, limit: int) -> None:
    """List cases, newest first."""
    rows = case_store.list_cases(db.session(), line=line, status=status, limit=limit)
    for case in rows:
        click.echo(f"{case.number}  {case.created_at:%Y-%m-%d %H:%M}Z  {case.line:<12} "
                   f"{case.team:<16} level {case.level}  {case.status:<16} {case.caller or ''}")
    if not rows:
        click.echo("no cases")


@cases_cli.command("show")
@click.argument("number")
def cases_show(number: str) -> None:
    """Show one case and every call that touched it."""
    case = case_store.case_with_calls(db.session(), number)
    if case is None:
        raise click.ClickException(f"no case {number!r}")
    for label, value in [
        ("number", case.number), ("line", case.line), ("team", case.team),
        ("level", case.level), ("status", case.status), ("caller", case.caller),
        ("opened", case.created_at.isoformat()), ("updated", case.updated_at.isoformat()),
        ("recording", case.recording_url), ("transcription", case.transcription),
    ]:
        click.echo(f"{label:>13}: {'' if value is None else value}")
    click.echo("        calls:")
    for call in case.calls:
        click.echo(f"  {call.at.isoformat()}  {call.call_sid or '-':<34} {call.caller or '-':<14}"
                   f" {call.node:<16} {call.outcome}")


@cases_cli.command("status")
@click.argument("number")
@click.argument("status", type=click.Choice(CASE_STATUSES))
@click.option("--level", type=click.IntRange(1, 9), help="Escalation level (1: the team).")
def cases_status(number: str, status: str, level: int | None) -> None:
    """Change a case's status (and escalation level)."""
    try:
        case = case_store.set_status(db.session(), number, status, _now(), level)
    except case_store.CaseError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"case {case.number}: {case.status}, level {case.level}")


@cases_cli.command("close")
@click.argument("number")
def cases_close(number: str) -> None:
    """Close a case."""
    try:
        case = case_store.set_status(db.session(), number, "closed", _now())
    except case_store.CaseError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"case {case.number}: closed")


@cases_cli.command("export")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="CSV file to write (default: standard output).")
def cases_export(output: click.utils.LazyFile) -> None:
    """Export every case as CSV."""
    count = case_store.export_csv(case_store.all_cases(db.session()), output)
    if output.name != "<stdout>":
        click.echo(f"{count} cases written to {output.name}", err=True)
    sys.stdout.flush()
