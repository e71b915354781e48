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
