"""The admin commands tell the truth: local times labelled with the line's zone, no false
errors, and a broken menu named where it is broken."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import FlaskGroup

from ivr import db
from ivr.store import cases, missed_calls
from ivr.web import signature
from tests.conftest import Clock

ROOT = Path(__file__).resolve().parents[1]


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


def test_admin_commands_log_no_error_without_an_auth_token(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """validate, hours and --help need no token: no ERROR (and no 403 warning) about it."""
    with caplog.at_level(logging.INFO, logger="ivr"):
        runner = make_app(TWILIO_AUTH_TOKEN="").test_cli_runner()
        for args in (["ivr", "--help"], ["ivr", "validate"], ["ivr", "hours", "cco"]):
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
            assert "TWILIO_AUTH_TOKEN" not in result.output
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_call_without_a_token_says_so_once_as_its_own_error(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """`call` signs requests, so it needs the token: one error, the command's own, exit 1."""
    runner = make_app(TWILIO_AUTH_TOKEN="").test_cli_runner()
    result = runner.invoke(args=["ivr", "call", "+57 601 744 2727", "--keys", "1"])
    assert result.exit_code == 1
    assert result.output.count("TWILIO_AUTH_TOKEN is not set") == 1, result.output
    assert result.output.startswith("Error: TWILIO_AUTH_TOKEN is not set")
    assert "TWILIO_AUTH_TOKEN" not in caplog.text


def test_serving_without_a_token_logs_the_error(make_app: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """The WSGI entry point (what gunicorn loads) says every webhook will answer 403."""
    app = make_app(TWILIO_AUTH_TOKEN="")
    assert "TWILIO_AUTH_TOKEN" not in caplog.text
    signature.warn_when_serving(app)
    [record] = [r for r in caplog.records if "TWILIO_AUTH_TOKEN" in r.getMessage()]
    assert record.levelno == logging.ERROR and "403" in record.getMessage()


def test_wsgi_entry_point_warns_and_a_command_does_not(tmp_path: Path) -> None:
    """As a fresh clone runs them: `.venv/bin/flask ... ivr validate` prints no ERROR line,
    and loading `wsgi:app` (as gunicorn does) does."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IVR_", "TWILIO_", "FLASK_")) and k != "DATABASE_URL"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    flask = Path(sys.executable).with_name("flask")
    command = subprocess.run([str(flask), "--app", "ivr", "ivr", "validate"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert command.returncode == 0, command.stderr
    assert "ERROR" not in command.stderr + command.stdout
    served = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert served.returncode == 0, served.stderr
    assert "ERROR ivr.signature TWILIO_AUTH_TOKEN is not set" in served.stderr


def _flask(make_app: Any, **config: Any) -> Callable[..., Result]:
    """`flask ARGS...` as the shell runs it: the app is made once the command has started
    (where a broken menu does not stop it), with the test's settings."""
    group = FlaskGroup(create_app=lambda: make_app(**config), load_dotenv=False,
                       set_debug_flag=False)

    def run(*args: str) -> Result:
        """Invoke the command line."""
        return CliRunner().invoke(group, list(args))

    return run


@pytest.fixture
def broken_menus(tmp_path: Path) -> Path:
    """A copy of the shipped menus where certicamara.yaml names a node that does not exist."""
    menus = tmp_path / "menus"
    shutil.copytree(ROOT / "ivr" / "menus", menus)
    path = menus / "certicamara.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("      5: subasta",
                                                             "      5: subastaa"),
                    encoding="utf-8")
    return menus


@pytest.mark.parametrize("args", [
    ["hours", "cco"], ["oncall", "cco"], ["graph", "cco"],
    ["override", "close", "cco", "--until", "2026-12-01 18:00"],
    ["call", "+58 212 471 3239", "--keys", "1"],
])
def test_a_broken_menu_is_named_by_the_commands_that_need_the_menus(
    make_app: Any, broken_menus: Path, args: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Not `no line 'cco'; lines: ` but the file, the line in it, and what is wrong."""
    result = _flask(make_app, IVR_MENU_DIR=str(broken_menus))("ivr", *args)
    assert result.exit_code == 1, result.output
    assert "no line '" not in result.output
    assert "the menus did not load" in result.output
    assert f"{broken_menus / 'certicamara.yaml'}:" in result.output
    assert "subastaa" in result.output
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_commands_that_need_no_menus_work_with_a_broken_one(
    make_app: Any, broken_menus: Path
) -> None:
    """Cases and overrides already stored can still be listed while a menu is being fixed."""
    flask = _flask(make_app, IVR_MENU_DIR=str(broken_menus))
    assert "no overrides" in flask("ivr", "override", "list").output
    assert "no cases" in flask("ivr", "cases", "list").output
    validate = flask("ivr", "validate")
    assert validate.exit_code == 1 and "subastaa" in validate.output


def _user_docs() -> dict[str, str]:
    """The README and docs/, as a user's clone has them."""
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths}


def test_docs_write_commands_that_run_from_the_clone_as_written() -> None:
    """`flask` alone may be a system one without the project's packages: always the venv's."""
    for name, text in _user_docs().items():
        bare = [m.start() for m in re.finditer(r"flask --app", text)
                if text[max(0, m.start() - 10):m.start()] != ".venv/bin/"]
        assert not bare, f"{name}: `flask --app` without .venv/bin/ at {bare}"


def test_docs_point_at_nothing_outside_the_clone() -> None:
    """No `../shared/...`: the customer's documents are named by what they are."""
    for name, text in _user_docs().items():
        assert "../" not in text, f"{name} points outside the repository"
