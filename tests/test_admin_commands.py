"""The admin commands tell the truth: local times labelled with the line's zone, no false
errors, and a broken menu named where it is broken."""

from __future__ import annotations

from typing import Any

from flask import Flask

from ivr import db
from ivr.store import cases, missed_calls
from tests.conftest import Clock


def _run(runner: Any, *args: str) -> str:
    """Run `flask ivr ARGS...`; it must succeed; its output."""
    result = runner.invoke(args=["ivr", *args])
    assert result.exit_code == 0, result.output
    output: str = result.output
    return output


def test_hours_oncall_and_override_print_the_same_local_time(runner: Any, clock: Clock) -> None:
    """At 08:20 UTC (03:20 in Bogotá) every command without --at/--from says 03:20, Bogotá."""
    clock.set("2026-11-29 03:20", "America/Bogota")
    assert f"{clock():%H:%M}" == "08:20"  # the clock answers UTC, as production's does
    hours = _run(runner, "hours", "certicamara")
    oncall = _run(runner, "oncall", "certicamara")
    closed = _run(runner, "override", "close", "certicamara", "--until", "2026-11-29 10:00")
    opened = _run(runner, "override", "open", "cco", "--until", "2026-11-29 10:00")
    assert "Sunday 2026-11-29 03:20 (America/Bogota)" in hours
    assert "at 2026-11-29 03:20 (America/Bogota)" in oncall
    assert "from 2026-11-29 03:20 until 2026-11-29 10:00 (America/Bogota)" in closed
    # Caracas is an hour ahead of Bogotá: 04:20 there at the same moment
    assert "from 2026-11-29 04:20 until 2026-11-29 10:00 (America/Caracas)" in opened
    for output in (hours, oncall, closed, opened):
        assert "08:20" not in output


def test_oncall_turn_is_in_the_line_zone(runner: Any, clock: Clock) -> None:
    """A rotation's turn (since, until) is printed in the line's zone too, labelled."""
    clock.set("2026-12-24 23:00", "America/Caracas")
    output = _run(runner, "oncall", "cco")
    assert "at 2026-12-24 23:00 (America/Caracas)" in output


def test_listings_use_local_time_with_the_zone(app: Flask, runner: Any, clock: Clock) -> None:
    """`override list`, `missed` and `cases list` print local times labelled, never `…Z`."""
    clock.set("2026-11-29 03:20", "America/Bogota")
    _run(runner, "override", "close", "certicamara", "--until", "2026-11-29 10:00")
    with app.app_context():
        case = cases.open_case(db.session(), call_sid="CA1", line="cco", team="centro_soporte",
                               caller="+584141112233", node="nuevo_caso", now=clock())
        missed_calls.note_missed(db.session(), line="certicamara", node="prioridad_1",
                                 call_sid="CA2", caller="+573001234567", now=clock())
    listed = _run(runner, "override", "list")
    assert "2026-11-29 03:20 → 2026-11-29 10:00 (America/Bogota)" in listed
    missed = _run(runner, "missed")
    assert "2026-11-29 03:20 (America/Bogota)" in missed
    case_list = _run(runner, "cases", "list")
    assert f"{case.number}  2026-11-29 04:20 (America/Caracas)" in case_list
    shown = _run(runner, "cases", "show", case.number)
    assert "opened: 2026-11-29 04:20 (America/Caracas)" in shown
    for output in (listed, missed, case_list, shown):
        assert "Z " not in output and "08:20" not in output and "+00:00" not in output
