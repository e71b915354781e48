"""How the layers are wired: the list of webhooks, the admin commands, what the simulator hears."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from ivr.admin.simulator import Script, Simulator
from ivr.core.twiml import Hook
from tests.conftest import CERTICAMARA


def test_every_hook_is_a_route_and_every_webhook_a_hook(app: Flask) -> None:
    """`Hook` is the one list of webhook endpoints: each is served, and no other one is."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {hook.value for hook in Hook} <= endpoints
    webhooks = {rule.endpoint for rule in app.url_map.iter_rules()
                if rule.rule.startswith("/voice/")}
    assert webhooks <= {hook.value for hook in Hook}


def test_each_admin_module_registers_its_commands(runner: Any) -> None:
    """`flask ivr` lists the commands of every admin module, each registered by its init_app."""
    result = runner.invoke(args=["ivr", "--help"])
    assert result.exit_code == 0, result.output
    for name in ("validate", "hours", "schema", "graph", "call", "cases", "override", "oncall",
                 "missed", "db"):
        assert f"  {name} " in result.output, name


def test_simulator_hears_node_and_outcome_with_the_call_log_silenced(app: Flask) -> None:
    """The simulator learns where each webhook took the call from the service, not its log."""
    logging.disable(logging.CRITICAL)  # no log record is even made
    try:
        transcript = Simulator(app, Script(["25"])).run(CERTICAMARA)
    finally:
        logging.disable(logging.NOTSET)
    assert transcript.ok
    assert any("⇒ subasta (queue)" in line for line in transcript.lines), transcript.text


def test_every_module_class_and_function_says_what_it_is_in_one_line() -> None:
    """Docstrings in one style: each has one; its summary is one line ending in a full stop."""
    import ast
    from pathlib import Path

    wrong = []
    for path in sorted(Path(__file__).resolve().parents[1].joinpath("ivr").rglob("*.py")):
        if "versions" in path.parts:
            continue  # Alembic's generated migrations keep Alembic's header
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                              | ast.AsyncFunctionDef):
                continue
            name = f"{path.name}:{getattr(node, 'name', '<module>')}"
            text = ast.get_docstring(node, clean=True)
            if text is None:
                wrong.append(f"{name}: no docstring")
                continue
            lines = text.splitlines()
            if not lines[0].rstrip().endswith((".", "?")) or (len(lines) > 1 and lines[1]):
                wrong.append(f"{name}: summary is not one line ending in a full stop")
    assert wrong == []
