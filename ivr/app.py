"""The application factory: settings, menus, database, webhooks and console."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr import config, console, db
from ivr.admin import call, callbacks_cli, cli, graph, menus, users
from ivr.web import (
    analyst_calls,
    audio,
    call_events,
    callback_calls,
    case_calls,
    helpers,
    live_menus,
    signature,
    voice,
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app: settings, the loaded menus, the webhooks."""
    app = Flask("ivr", instance_relative_config=True)
    # Webhook URLs are the app's own: an odd one ('//') gets TwiML, never a redirect.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.config.from_mapping(
        CLOCK=config.system_clock,
        MONOTONIC=time.monotonic,  # intervals (caches, reloads); tests move it by hand
        **config.from_environment(),
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    _configure_logging(app.config["LOG_LEVEL"])
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        # Flask's documented way to wrap its WSGI app; mypy sees a method being replaced.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)
    signature.init_app(app)  # first: its gate runs before any other request hook
    live_menus.init_app(app)
    db.init_app(app)
    call_events.init_app(app)
    helpers.init_app(app)
    voice.init_app(app)
    for commands in (cli, menus, graph, call, users, callbacks_cli):
        commands.init_app(app)
    app.register_blueprint(voice.bp)
    app.register_blueprint(case_calls.bp)
    app.register_blueprint(callback_calls.bp)
    app.register_blueprint(analyst_calls.bp)
    app.register_blueprint(audio.bp)
    console.init_app(app)
    return app


def _configure_logging(level: str) -> None:
    """Send the service's log lines (one JSON line per webhook) to stderr, once."""
    logger = logging.getLogger("ivr")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
