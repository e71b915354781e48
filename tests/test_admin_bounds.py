"""Admin commands bound every option and turn database errors into one line with exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ivr import db
from ivr.store import overrides

HUGE = "9" * 23


def _refused(result: Any, code: int, says: str) -> None:
    """A usage (2) or command (1) error: one message, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert says in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args", [
    ["override", "cancel", HUGE],
    ["override", "cancel", "0"],
    ["cases", "list", "--limit", HUGE],
    ["cases", "list", "--limit", "0"],
    ["missed", "--limit", HUGE],
])
def test_numbers_out_of_range_are_usage_errors(runner: Any, args: list[str]) -> None:
    """Ids and limits beyond what the database holds are refused before it is asked."""
    _refused(runner.invoke(args=["ivr", *args]), 2, "is not in the range")


@pytest.mark.parametrize("args", [
    ["call", "+58 212 471 3239", "--at", "9999-12-31 23:59"],
    ["hours", "cco", "--at", "9999-12-31 23:59"],
    ["oncall", "cco", "--at", "9999-12-31 23:59"],
    ["override", "close", "cco", "--until", "9999-12-31 23:59"],
    ["override", "open", "cco", "--from", "0001-01-01 00:00", "--until", "2027-01-01 00:00"],
])
def test_dates_too_far_are_usage_errors(runner: Any, args: list[str]) -> None:
    """A date the calendar arithmetic cannot reach (year 10000 in UTC) is refused, not a crash."""
    _refused(runner.invoke(args=["ivr", *args]), 2, "give a date between 1900 and 9998")


@pytest.mark.parametrize(("length", "stored"), [(200, True), (201, False)])
def test_reason_longer_than_the_column_is_refused_on_both_engines(
    make_app: Any, store_url: str, length: int, stored: bool
) -> None:
    """200 characters are kept whole; 201 are refused with a message (PostgreSQL refused them
    with a traceback, SQLite kept them silently)."""
    app: Flask = make_app(DATABASE_URL=store_url)
    result = app.test_cli_runner().invoke(args=[
        "ivr", "override", "close", "cco", "--until", "2026-12-31 18:00", "--reason",
        "r" * length])
    if stored:
        assert result.exit_code == 0, result.output
    else:
        _refused(result, 2, f"{length} characters; at most 200")
    with app.app_context():
        rows = overrides.listing(db.session(), app.config["CLOCK"](), everything=True)
    assert [len(r.reason or "") for r in rows] == ([length] if stored else [])


@pytest.mark.parametrize("args", [
    ["cases", "list"], ["cases", "show", "12345678"], ["missed"], ["override", "list"],
    ["override", "cancel", "1"], ["forget", "+584141112233", "--yes"],
])
def test_database_errors_are_one_line_and_exit_1(
    make_app: Any, tmp_path: Path, args: list[str]
) -> None:
    """The database cannot be opened: each command says so in one line, exit status 1."""
    app: Flask = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/x.db")
    result = app.test_cli_runner().invoke(args=["ivr", *args])
    _refused(result, 1, "Error: database error (OperationalError): unable to open database")
    assert len(result.output.strip().splitlines()) == 1
