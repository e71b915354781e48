"""Menu and prompt files that are not UTF-8 (or not text): a menu error with the file and the
line, never a traceback or a dropped call; live reload keeps the last good menus."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ivr.core.loader import MenuError, load_line
from ivr.web import live_menus
from tests.conftest import CERTICAMARA, Caller

ROOT = Path(__file__).resolve().parents[1]
MENUS, PROMPTS = ROOT / "ivr" / "menus", ROOT / "voice_prompts"


def _latin1(path: Path) -> int:
    """Save `path` as Windows Latin-1 (cp1252: its 'á' become single bytes, as an editor set
    to Western European would write it); return the line of the first such byte."""
    data = path.read_text(encoding="utf-8").encode("cp1252", errors="replace")
    _write(path, data)
    first = next(i for i, byte in enumerate(data) if byte >= 0x80)
    return data.count(b"\n", 0, first) + 1


def _write(path: Path, data: bytes) -> None:
    """Write bytes and move the modification time on (file systems have coarse clocks)."""
    path.write_bytes(data)
    later = time.time() + 5
    os.utime(path, (later, later))


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the shipped menus and prompts the test may spoil."""
    menus, prompts = tmp_path / "menus", tmp_path / "prompts"
    shutil.copytree(MENUS, menus)
    shutil.copytree(PROMPTS, prompts)
    return menus, prompts


def test_latin1_menu_file_is_a_menu_error_at_its_first_bad_byte(
    copies: tuple[Path, Path]
) -> None:
    """The loader names the file, the line of the first byte that is not UTF-8, and the fix."""
    menus, prompts = copies
    line = _latin1(menus / "certicamara.yaml")
    with pytest.raises(MenuError) as refused:
        load_line(menus / "certicamara.yaml", prompts)
    [problem] = refused.value.problems
    assert (problem.file, problem.line) == (str(menus / "certicamara.yaml"), line)
    assert "not UTF-8" in problem.message and "save it as UTF-8" in problem.message


def test_binary_menu_file_is_a_menu_error(copies: tuple[Path, Path]) -> None:
    """NUL bytes (valid UTF-8, not YAML): a menu error, not a traceback."""
    menus, prompts = copies
    _write(menus / "cco.yaml", b"id: cco\nname: \x00\x01\x02\n")
    with pytest.raises(MenuError) as refused:
        load_line(menus / "cco.yaml", prompts)
    [problem] = refused.value.problems
    assert problem.line == 2 and "not a text file" in problem.message


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00", b"name: Caf\xe9\n"])
def test_validate_reports_a_binary_or_latin1_file_in_one_line(
    runner: Any, tmp_path: Path, data: bytes
) -> None:
    """`validate` prints `file:line: message` and exits 1, no traceback."""
    bad = tmp_path / "malo.yaml"
    bad.write_bytes(data)
    result = runner.invoke(args=["ivr", "validate", str(bad)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{bad}:" in result.output and "Traceback" not in result.output
    assert "1 file(s): 1 error(s)" in result.output


def test_latin1_prompt_file_is_a_menu_error_naming_it(copies: tuple[Path, Path]) -> None:
    """A prompt file saved as Latin-1: every line using it fails to load, naming the prompt
    file and its line."""
    menus, prompts = copies
    line = _latin1(prompts / "es" / "servicio.yaml")
    with pytest.raises(MenuError) as refused:
        load_line(menus / "cco.yaml", prompts)
    assert any(f"servicio.yaml:{line}: not UTF-8" in p.message for p in refused.value.problems)


def test_latin1_hours_words_are_a_menu_error(copies: tuple[Path, Path]) -> None:
    """The same for the words the hours are said with."""
    menus, prompts = copies
    line = _latin1(prompts / "es" / "hours.yaml")
    with pytest.raises(MenuError) as refused:
        load_line(menus / "cco.yaml", prompts)
    assert any(f"hours.yaml:{line}: not UTF-8" in p.message for p in refused.value.problems)


@pytest.mark.parametrize("spoil", ["menu", "prompt"])
def test_live_reload_keeps_the_last_good_menus_on_a_latin1_file(
    make_app: Any, copies: tuple[Path, Path], caplog: pytest.LogCaptureFixture, spoil: str
) -> None:
    """A menu or prompt file re-saved as Latin-1 while serving: refused, logged, and calls
    keep being answered by the last good menus (no apology)."""
    menus, prompts = copies
    app: Flask = make_app(IVR_MENU_DIR=str(menus), IVR_PROMPT_DIR=str(prompts))
    _latin1(menus / "certicamara.yaml" if spoil == "menu" else prompts / "es" / "servicio.yaml")
    assert not live_menus.reload_if_changed(app)
    assert any("menu change refused" in r.getMessage() and "not UTF-8" in r.getMessage()
               for r in caplog.records)
    caller = Caller(app.test_client())
    assert "Bienvenido" in caller.call(CERTICAMARA).text
    assert caller.press("25").one("Enqueue").text == "soporte-subasta"
