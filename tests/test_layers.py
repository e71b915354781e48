"""The layers you see in the folders hold: the core is pure, the store knows no web, and
nothing imports the layer above it. Checked for every module, not for a hand-kept list."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ivr"
# What each layer may import of the project (besides itself); the top-level modules
# (`ivr.app`, `ivr.config`, `ivr.db`) wire the layers together and belong to none.
MAY_IMPORT = {
    "core": {"ivr.core"},
    "store": {"ivr.core", "ivr.store"},
    "web": {"ivr.core", "ivr.store", "ivr.web", "ivr.db", "ivr.config"},
    "admin": {"ivr.core", "ivr.store", "ivr.web", "ivr.admin", "ivr.db", "ivr.config"},
    # the console draws the menus with the admin layer's diagrams (the same SVG as `graph`)
    "console": {"ivr.core", "ivr.store", "ivr.web", "ivr.console", "ivr.db", "ivr.config",
                "ivr.admin.diagrams"},
}


def modules(layer: str) -> list[str]:
    """The dotted names of every module under `ivr/<layer>/` (migrations excluded)."""
    names = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code (absolute names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def loaded_after_import(
    names: list[str], watched: tuple[str, ...], root: Path = ROOT
) -> list[str]:
    """Import `names` in a fresh interpreter (from `root`); return which of `watched` loaded."""
    code = (f"import importlib, sys\nfor name in {names!r}: importlib.import_module(name)\n"
            f"print(','.join(m for m in {watched!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root)
    return [m for m in out.stdout.strip().split(",") if m]


def test_every_layer_has_modules() -> None:
    """The layers exist as packages (a typo in a folder name would make the checks vacuous)."""
    for layer in MAY_IMPORT:
        assert len(modules(layer)) > 1, layer


def test_importing_the_whole_core_loads_no_web_or_database_library() -> None:
    """Every module under ivr.core, imported in a fresh interpreter: no Flask, no database."""
    watched = ("flask", "werkzeug", "sqlalchemy", "alembic", "click", "ivr.web", "ivr.store",
               "ivr.admin", "ivr.db")
    assert loaded_after_import(modules("core"), watched) == []


def test_importing_the_store_loads_no_flask() -> None:
    """Every module under ivr.store, imported in a fresh interpreter: no Flask, no web layer."""
    watched = ("flask", "werkzeug", "ivr.web", "ivr.admin")
    assert loaded_after_import(modules("store"), watched) == []


@pytest.mark.parametrize("layer", list(MAY_IMPORT))
def test_no_layer_imports_a_layer_above_it(layer: str) -> None:
    """Each module's `ivr` imports stay within what its layer may use (migrations too)."""
    allowed = MAY_IMPORT[layer]
    wrong = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in imports_of(path):
            if not name.startswith("ivr."):
                continue  # `from ivr import x` is checked as `ivr.x`
            if not any(name == a or name.startswith(a + ".") for a in allowed):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_the_check_fails_when_a_core_module_imports_flask(tmp_path: Path) -> None:
    """A copy of the package whose `core/phone.py` imports Flask is caught (the check can fail)."""
    shutil.copytree(PACKAGE, tmp_path / "ivr", ignore=shutil.ignore_patterns("__pycache__"))
    phone = tmp_path / "ivr" / "core" / "phone.py"
    phone.write_text(phone.read_text(encoding="utf-8") + "\nimport flask  # noqa\n",
                     encoding="utf-8")
    assert loaded_after_import(modules("core"), ("flask",), tmp_path) == ["flask"]
