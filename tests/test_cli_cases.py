"""The admins' case commands: list, show, change status, close, export."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Flask

from ivr import db
from ivr.store import cases
from tests.conftest import Clock


def _open(app: Flask, clock: Clock, call_sid: str) -> str:
    """A case opened by a call; returns its number."""
    with app.app_context():
        case = cases.open_case(db.session(), call_sid=call_sid, line="cco",
                                    team="centro_soporte", caller="+584141112233",
                                    node="nuevo_caso", now=clock())
        return case.number


def test_list_show_status_close_export(app: Flask, clock: Clock, runner: Any) -> None:
    """The whole admin round: list, show with calls, move to in progress, close, export."""
    first, second = _open(app, clock, "CA1"), _open(app, clock, "CA2")
    listing = runner.invoke(args=["ivr", "cases", "list"])
    assert listing.exit_code == 0 and first in listing.output and second in listing.output

    shown = runner.invoke(args=["ivr", "cases", "show", first])
    assert shown.exit_code == 0
    assert "centro_soporte" in shown.output and "opened" in shown.output and "CA1" in shown.output

    moved = runner.invoke(args=["ivr", "cases", "status", first, "in_progress", "--level", "2"])
    assert moved.exit_code == 0 and "in_progress, level 2" in moved.output
    assert runner.invoke(args=["ivr", "cases", "close", second]).exit_code == 0
    only_open = runner.invoke(args=["ivr", "cases", "list", "--status", "closed"])
    assert second in only_open.output and first not in only_open.output

    exported = runner.invoke(args=["ivr", "cases", "export"])
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert {(r["number"], r["status"], r["level"]) for r in rows} == {
        (first, "in_progress", "2"), (second, "closed", "1")}


def test_unknown_case_or_status_fails_with_a_message(app: Flask, runner: Any) -> None:
    """A number that does not exist or a status that does not exist: exit 1 or 2, a message."""
    result = runner.invoke(args=["ivr", "cases", "show", "12345678"])
    assert result.exit_code == 1 and "no case '12345678'" in result.output
    result = runner.invoke(args=["ivr", "cases", "status", "12345678", "done"])
    assert result.exit_code == 2 and "done" in result.output
    result = runner.invoke(args=["ivr", "cases", "close", "12345678"])
    assert result.exit_code == 1 and "no case" in result.output


def test_db_upgrade_is_idempotent(app: Flask, runner: Any) -> None:
    """`flask ivr db upgrade` on an up-to-date database says so and changes nothing."""
    result = runner.invoke(args=["ivr", "db", "upgrade"])
    assert result.exit_code == 0 and "up to date" in result.output
