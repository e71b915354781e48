"""Admin commands about menu files: validate, hours, and the JSON Schema editors use."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from ivr import db
from ivr.admin.cli import ivr_group, line_or_fail, local_time
from ivr.admin.menu_warnings import warnings
from ivr.core.lines import Line
from ivr.core.loader import load_files
from ivr.core.menu_file import LineFile
from ivr.core.moment import HoursOverride
from ivr.store import overrides

SCHEMA_FILE = "menu.schema.json"


def init_app(app: Flask) -> None:
    """Register validate, hours and schema."""
    for command in (validate_command, hours_command, schema_command):
        ivr_group(app).add_command(command)


@click.command("validate")
@with_appcontext
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def validate_command(files: tuple[Path, ...]) -> None:
    """Check menu files (default: all of the menu folder); exit 1 on any error."""
    menu_dir = Path(current_app.config["IVR_MENU_DIR"])
    paths = list(files) or sorted(menu_dir.glob("*.yaml"))
    if not paths:
        raise click.ClickException(f"no menu files in {menu_dir}")
    today = current_app.config["CLOCK"]().date()
    loaded, _, errors = load_files(paths, Path(current_app.config["IVR_PROMPT_DIR"]))
    notes = [note for line in loaded.values() for note in warnings(line, today)]
    for problem in [*errors, *notes]:
        click.echo(str(problem), err=problem in errors)
    click.echo(f"{len(paths)} file(s): {len(errors)} error(s), {len(notes)} warning(s)")
    if errors:
        raise SystemExit(1)


@click.command("hours")
@with_appcontext
@click.argument("line_id", metavar="LINE")
@click.option("--at", "at_text", help="Local date and time (default: now).")
def hours_command(line_id: str, at_text: str | None) -> None:
    """Open or closed now (or then), why, and when that changes next."""
    line = line_or_fail(line_id)
    zone = ZoneInfo(line.spec.timezone)
    now: datetime = current_app.config["CLOCK"]()
    at = (now if not at_text else local_time(at_text, zone)).astimezone(zone)
    click.echo(f"{line.spec.name} at {at.astimezone(zone):%A %Y-%m-%d %H:%M} "
               f"({line.spec.timezone})")
    overrides = _overrides(line, at)
    line_wide = next((o for o in overrides if o.node is None), None)
    for schedule_id, schedule in line.schedules.items():
        if line_wide is not None:  # the newest line-wide override decides, not the schedule
            state = "OPEN" if line_wide.open else "closed"
            click.echo(f"  {schedule_id}: {state} (override {line_wide.id}), until "
                       f"{line_wide.until.astimezone(zone):%a %Y-%m-%d %H:%M}")
            click.echo(f"    hours: {line.hours_text[schedule_id]}")
            continue
        status = schedule.status(at)
        why = {"schedule": "weekly hours", "special": "special hours for the date",
               "closed_date": "a closed date", "holiday": f"holiday: {status.holiday}"}
        change = schedule.next_change(at)
        until = (f"until {change.astimezone(zone):%a %Y-%m-%d %H:%M}" if change
                 else "with no change ahead")
        click.echo(f"  {schedule_id}: {'OPEN' if status.open else 'closed'} "
                   f"({why[status.reason]}), {until}")
        click.echo(f"    hours: {line.hours_text[schedule_id]}")
    for override in overrides:
        what = f"node {override.node}" if override.node else "whole line"
        state = "open" if override.open else "closed"
        click.echo(f"  override {override.id}: {what} forced {state} until "
                   f"{override.until.astimezone(zone):%a %Y-%m-%d %H:%M}")


@click.command("schema")
@with_appcontext
@click.option("--check", is_flag=True, help="Only check the shipped schema is up to date.")
def schema_command(check: bool) -> None:
    """Write the JSON Schema of menu files (for editors), generated from the loader's model."""
    path = Path(current_app.config["IVR_MENU_DIR"]) / SCHEMA_FILE
    text = menu_schema()
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            raise click.ClickException(f"{path} is out of date: run `flask ivr schema`")
        click.echo(f"{path} is up to date")
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


def menu_schema() -> str:
    """The JSON Schema of a menu file, as text (stable: sorted keys, a final newline)."""
    schema = LineFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "IVR menu file (one line)"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _overrides(line: Line, at: datetime) -> tuple[HoursOverride, ...]:
    """Overrides in force at `at` (none, with a note, when the database is away)."""
    try:
        return overrides.active(db.session(), line.id, at)
    except SQLAlchemyError:
        click.echo("  (overrides unknown: the database is unreachable)")
        return ()
