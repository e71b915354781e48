"""The application factory: settings, the loaded menus, the database, the webhooks."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr import config, db
from ivr.admin import call, callbacks_cli, cli, graph, menus
from ivr.web import (
    analyst_calls,
    audio,
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
        MAX_CONTENT_LENGTH=1024 * 1024,
        CLOCK=config.system_clock,
        **config.from_environment(),
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    _configure_logging(app.config["LOG_LEVEL"])
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops, x_prefix=hops)  # type: ignore[method-assign]
    live_menus.init_app(app)
    db.init_app(app)
    signature.init_app(app)
    helpers.init_app(app)
    voice.init_app(app)
    for commands in (cli, menus, graph, call, callbacks_cli):
        commands.init_app(app)
    app.register_blueprint(voice.bp)
    app.register_blueprint(case_calls.bp)
    app.register_blueprint(callback_calls.bp)
    app.register_blueprint(analyst_calls.bp)
    app.register_blueprint(audio.bp)
    return app


def _configure_logging(level: str) -> None:
    """Send the service's log lines (one JSON line per webhook) to stderr, once."""
    logger = logging.getLogger("ivr")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
