"""Admins' tools for menu files: validate (errors and warnings), hours, schema, live reload."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from flask import Flask

from ivr.admin.menu_warnings import warnings
from ivr.admin.menus import menu_schema
from ivr.core.loader import load_line
from ivr.web import live_menus
from tests.conftest import CERTICAMARA, Caller, Clock, Monotonic

ROOT = Path(__file__).resolve().parents[1]
MENUS, PROMPTS = ROOT / "ivr" / "menus", ROOT / "voice_prompts"

BASE = """\
id: prueba
name: Línea de prueba
numbers: ["+57 601 744 2728"]
country: CO
timezone: America/Bogota
start: principal
schedules:
  semana:
    weekly:
      mon-fri: "08:00-17:00"
nodes:
  principal:
    type: menu
    prompt: cco_principal
    hours: semana
    after_hours: cerrado
    options:
      1: uno
  uno:
    type: menu
    prompt: cco_principal
    options:
      1: dos
  dos:
    type: menu
    prompt: cco_principal
    options:
      1: tres
  tres:
    type: menu
    prompt: cco_principal
    options:
      1: fin
  fin:
    type: hangup
    prompt: despedida
  cerrado:
    type: hangup
"""


def _line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of `text` containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _warnings_for(tmp_path: Path, text: str, today: date = date(2026, 11, 27)) -> list[str]:
    """The warnings of a menu file with this text."""
    path = tmp_path / "prueba.yaml"
    path.write_text(text, encoding="utf-8")
    return [str(w) for w in warnings(load_line(path, PROMPTS), today)]


def test_shipped_menus_have_no_warnings() -> None:
    """The lines we ship are clean."""
    for path in sorted(MENUS.glob("*.yaml")):
        assert warnings(load_line(path, PROMPTS), date(2026, 11, 27)) == []


def test_destination_four_keys_deep(tmp_path: Path) -> None:
    """A destination only reached after four key presses is flagged at its node."""
    found = _warnings_for(tmp_path, BASE)
    path = tmp_path / "prueba.yaml"
    assert found == [f"{path}:{_line_of(BASE, '  fin:')}: warning: nodes.fin: reached only "
                     "after 4 key presses; callers give up: bring it within 3"]


def test_menu_with_ten_options(tmp_path: Path) -> None:
    """Ten options in one menu is more than callers keep in mind."""
    options = "".join(f"      {k}: fin\n" for k in "0123456789")
    text = BASE.replace("    options:\n      1: uno\n", "    options:\n      1: uno\n"
                        + options.replace("      1: fin\n", ""))
    found = _warnings_for(tmp_path, text)
    assert any(f":{_line_of(text, 'options:')}: warning: nodes.principal.options: 10 options"
               in w for w in found)


def test_long_prompt(tmp_path: Path) -> None:
    """A prompt that takes over 25 seconds to say is flagged where it is used."""
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS, prompts)
    (prompts / "es" / "largo.yaml").write_text("largo: " + "palabra " * 80 + "\n",
                                                encoding="utf-8")
    text = BASE.replace("prompt: despedida", "prompt: largo")
    path = tmp_path / "prueba.yaml"
    path.write_text(text, encoding="utf-8")
    found = [str(w) for w in warnings(load_line(path, prompts), date(2026, 11, 27))]
    assert any(f":{_line_of(text, 'prompt: largo')}: warning: nodes.fin.prompt: prompt 'largo' "
               "takes about 32 s" in w for w in found)


def test_closed_more_than_two_weeks(tmp_path: Path) -> None:
    """A schedule closed for more than 14 days in a row in the coming year is flagged."""
    closed = "".join(f"      - 2027-01-{d:02d}\n" for d in range(4, 23))
    text = BASE.replace('      mon-fri: "08:00-17:00"\n',
                        '      mon-fri: "08:00-17:00"\n    closed_dates:\n' + closed)
    found = _warnings_for(tmp_path, text)
    # New Year's Day (a Friday), the weekend, the closed weekdays, the next weekend: 24 days.
    assert any(f":{_line_of(text, '  semana:')}: warning: schedules.semana: closed 24 days in "
               "a row, 2027-01-01 to 2027-01-24" in w for w in found)


def test_validate_command_prints_file_line_and_exits_1(
    runner: Any, tmp_path: Path
) -> None:
    """`flask ivr validate FILE` prints each problem as file:line: message and exits 1."""
    bad = tmp_path / "mala.yaml"
    text = BASE.replace("      1: uno\n", "      1: uno\n      2: nadie\n")
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["ivr", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:{_line_of(text, '2: nadie')}: nodes.principal.options.2: no node 'nadie'" \
        in result.output
    assert "1 file(s): 1 error(s)" in result.output


def test_validate_command_on_the_shipped_menus(runner: Any) -> None:
    """With no files it checks the whole menu folder."""
    result = runner.invoke(args=["ivr", "validate"])
    assert result.exit_code == 0 and "2 file(s): 0 error(s), 0 warning(s)" in result.output


def test_validate_old_colombian_number_suggests_the_new_one(runner: Any, tmp_path: Path) -> None:
    """The hint an admin needs most: the pre-2021 Bogotá format, with the new one."""
    text = BASE.replace('"+57 601 744 2728"', '"(571) 7442728"')
    path = tmp_path / "vieja.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["ivr", "validate", str(path)])
    assert f"{path}:{_line_of(text, '(571)')}:" in result.output
    assert "'+57 601 7442728'" in result.output


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-12-01 10:00", ["soporte: OPEN (weekly hours), until Tue 2026-12-01 19:00"]),
        ("2026-12-08 10:00", ["soporte: closed (holiday: La Inmaculada Concepción), "
                              "until Wed 2026-12-09 07:00"]),
        ("2026-11-28 13:00", ["soporte: closed (weekly hours), until Mon 2026-11-30 07:00",
                              "pqrsa: closed (weekly hours), until Mon 2026-11-30 07:00"]),
    ],
)
def test_hours_command(runner: Any, when: str, expected: list[str]) -> None:
    """`flask ivr hours LINE --at ...`: open or closed, why, and until when."""
    result = runner.invoke(args=["ivr", "hours", "certicamara", "--at", when])
    assert result.exit_code == 0, result.output
    for text in expected:
        assert text in result.output


def test_hours_command_shows_overrides(runner: Any, clock: Clock) -> None:
    """An override in force is shown with the hours."""
    clock.set("2026-12-01 10:00", "America/Bogota")
    runner.invoke(args=["ivr", "override", "close", "certicamara", "--until", "2026-12-01 12:00"])
    result = runner.invoke(args=["ivr", "hours", "certicamara"])
    assert "override 1: whole line forced closed until Tue 2026-12-01 12:00" in result.output


def test_shipped_json_schema_is_up_to_date() -> None:
    """The schema editors use is generated from the same model the loader uses."""
    assert (MENUS / "menu.schema.json").read_text(encoding="utf-8") == menu_schema()


def _as_json(value: Any) -> Any:
    """YAML data as an editor's YAML plugin sees it (keys are strings, dates are text)."""
    if isinstance(value, dict):
        return {str(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


@pytest.mark.parametrize("path", sorted(MENUS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_menus_pass_the_json_schema(path: Path) -> None:
    """What the loader accepts, an editor checking with the schema accepts too."""
    schema = json.loads((MENUS / "menu.schema.json").read_text(encoding="utf-8"))
    data = _as_json(yaml.safe_load(path.read_text(encoding="utf-8")))
    jsonschema.validate(data, schema)
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=menu.schema.json")


def test_json_schema_catches_a_misspelt_key() -> None:
    """An editor flags a misspelt key while it is typed."""
    schema = json.loads((MENUS / "menu.schema.json").read_text(encoding="utf-8"))
    data = _as_json(yaml.safe_load((MENUS / "cco.yaml").read_text(encoding="utf-8")))
    data["nodes"]["principal"]["optons"] = data["nodes"]["principal"].pop("options")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


# Live reload


@pytest.fixture
def live(make_app: Any, tmp_path: Path) -> tuple[Flask, Path]:
    """An app serving a copy of the shipped menus from a folder the test may edit."""
    menus = tmp_path / "menus"
    shutil.copytree(MENUS, menus)
    return make_app(IVR_MENU_DIR=str(menus)), menus


def _touch(path: Path, text: str) -> None:
    """Write a file and move its modification time on (file systems have coarse clocks)."""
    path.write_text(text, encoding="utf-8")
    later = time.time() + 5
    os.utime(path, (later, later))


def test_live_reload_picks_up_a_good_change(live: tuple[Flask, Path]) -> None:
    """An edited menu is served without a restart."""
    app, menus = live
    caller = Caller(app.test_client())
    assert "Bienvenido" in caller.call(CERTICAMARA).text
    text = (menus / "certicamara.yaml").read_text(encoding="utf-8")
    _touch(menus / "certicamara.yaml", text.replace("welcome: certicamara_bienvenida",
                                                    "welcome: cco_bienvenida"))
    assert live_menus.reload_if_changed(app)
    assert "CCO Apoyo Empresarial" in caller.call(CERTICAMARA).text


def test_live_reload_refuses_a_bad_change_and_keeps_serving(
    live: tuple[Flask, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """A change that fails validation is logged; the last good menu keeps answering."""
    app, menus = live
    text = (menus / "certicamara.yaml").read_text(encoding="utf-8")
    _touch(menus / "certicamara.yaml", text.replace("      5: subasta", "      5: subastaa"))
    assert not live_menus.reload_if_changed(app)
    assert any("menu change refused" in r.getMessage() and "subastaa" in r.getMessage()
               for r in caplog.records)
    caller = Caller(app.test_client())
    caller.call(CERTICAMARA)
    assert caller.press("25").one("Enqueue").text == "soporte-subasta"


def test_live_reload_is_checked_as_requests_arrive(
    make_app: Any, tmp_path: Path, monotonic: Monotonic
) -> None:
    """With IVR_RELOAD_SECONDS, a webhook itself notices the change (no signal needed), once
    the interval has passed and not before."""
    menus = tmp_path / "menus"
    shutil.copytree(MENUS, menus)
    app = make_app(IVR_MENU_DIR=str(menus), IVR_RELOAD_SECONDS=2)
    text = (menus / "cco.yaml").read_text(encoding="utf-8")
    _touch(menus / "cco.yaml", text.replace("welcome: cco_bienvenida",
                                            "welcome: certicamara_bienvenida"))
    monotonic.advance(1.9)
    assert "Certicámara" not in Caller(app.test_client()).call("+582124713239").text
    monotonic.advance(0.1)
    assert "Certicámara" in Caller(app.test_client()).call("+582124713239").text


def test_reload_seconds_0_turns_live_reload_off(
    make_app: Any, tmp_path: Path, monotonic: Monotonic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IVR_RELOAD_SECONDS=0 (from the environment): a changed file is never looked at."""
    from ivr import config

    monkeypatch.setenv("IVR_RELOAD_SECONDS", "0")
    assert config.from_environment()["IVR_RELOAD_SECONDS"] == 0
    menus = tmp_path / "menus"
    shutil.copytree(MENUS, menus)
    app = make_app(IVR_MENU_DIR=str(menus))
    text = (menus / "cco.yaml").read_text(encoding="utf-8")
    _touch(menus / "cco.yaml", text.replace("welcome: cco_bienvenida",
                                            "welcome: certicamara_bienvenida"))
    monotonic.advance(3600)
    assert "Certicámara" not in Caller(app.test_client()).call("+582124713239").text


def test_invalid_menu_stops_the_service_from_starting(make_app: Any, tmp_path: Path) -> None:
    """Serving refuses to start on an invalid menu rather than serve half of it."""
    menus = tmp_path / "menus"
    shutil.copytree(MENUS, menus)
    (menus / "cco.yaml").write_text("id: [\n", encoding="utf-8")
    with pytest.raises(Exception, match="cco.yaml:"):
        make_app(IVR_MENU_DIR=str(menus))


def test_misspelt_placeholder_is_refused_at_load(tmp_path: Path) -> None:
    """{holday} would fail on every holiday call: it fails when the menus load instead."""
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS, prompts)
    service = prompts / "es" / "servicio.yaml"
    service.write_text(service.read_text(encoding="utf-8").replace("{holiday}", "{holday}"),
                       encoding="utf-8")
    with pytest.raises(Exception, match=r"prompt 'festivo' uses \{holday\}"):
        load_line(MENUS / "certicamara.yaml", prompts)


def test_unquoted_hash_back_key_is_refused(tmp_path: Path) -> None:
    """`back_key: #` is a YAML comment: refused with the fix, not silently no back key."""
    path = tmp_path / "prueba.yaml"
    text = BASE.replace("start: principal\n", "start: principal\nback_key: #\n")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Exception, match=r"prueba.yaml:\d+: back_key: back_key is empty"):
        load_line(path, PROMPTS)


def test_recordings_are_picked_up_by_live_reload(tmp_path: Path, make_app: Any) -> None:
    """A new recording of a prompt is played (<Play>) without a restart."""
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS, prompts)
    menus = tmp_path / "menus2"
    shutil.copytree(MENUS, menus)
    app = make_app(IVR_MENU_DIR=str(menus), IVR_PROMPT_DIR=str(prompts))
    caller = Caller(app.test_client())
    assert not caller.call(CERTICAMARA).all("Play")
    (prompts / "es" / "audio").mkdir()
    _touch(prompts / "es" / "audio" / "certicamara_bienvenida.mp3", "ID3")
    assert live_menus.reload_if_changed(app)
    play = caller.call(CERTICAMARA).one("Play")
    assert play.text == "/audio/es/certicamara_bienvenida.mp3"
    response = app.test_client().get(play.text)
    assert response.status_code == 200
    response.close()


def test_hours_command_says_closed_when_an_override_closes_the_line(
    runner: Any, clock: Clock
) -> None:
    """An admin's closure decides the headline, not the weekly hours it overrides."""
    clock.set("2026-12-24 09:00", "America/Bogota")
    runner.invoke(args=["ivr", "override", "close", "certicamara", "--from", "2026-12-24 14:00",
                        "--until", "2026-12-26 07:00"])
    result = runner.invoke(args=["ivr", "hours", "certicamara", "--at", "2026-12-24 15:00"])
    assert "soporte: closed (override 1), until Sat 2026-12-26 07:00" in result.output


def test_a_missing_start_is_one_error_not_eleven(tmp_path: Path) -> None:
    """A typo in start: reports that, not every node as unreachable as well."""
    path = tmp_path / "prueba.yaml"
    path.write_text(BASE.replace("start: principal", "start: principl"), encoding="utf-8")
    with pytest.raises(Exception) as raised:
        load_line(path, PROMPTS)
    assert len(raised.value.problems) == 1  # type: ignore[attr-defined]
    assert "no node 'principl' (did you mean 'principal'?)" in str(raised.value)
