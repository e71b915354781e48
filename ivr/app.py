"""The application factory: settings, menus, database, webhooks and console."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr import config, console, db, log_buffer
from ivr.admin import call, callbacks_cli, cli, graph, menus, users
from ivr.web import (
    analyst_calls,
    audio,
    call_events,
    callback_calls,
    case_calls,
    fast_lane,
    helpers,
    live_menus,
    signature,
    voice,
)


class IvrFlask(Flask):
    """Flask, with its coroutine check remembered per function.

    Flask asks, for every hook and view of every request, whether the function is a
    coroutine (`inspect`, five times per webhook); the answer never changes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """A Flask app with an empty memory of functions already checked."""
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """The sync version of `func`, worked out on its first call."""
        sync = self._sync.get(func)
        if sync is None:
            if len(self._sync) > 10_000:  # bound methods made per call would otherwise pile up
                self._sync.clear()
            sync = self._sync[func] = super().ensure_sync(func)
        return sync


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app: settings, the loaded menus, the webhooks."""
    app = IvrFlask("ivr", instance_relative_config=True)
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
    _configure_logging(app.config["LOG_LEVEL"], app.config["IVR_LOG_FLUSH_SECONDS"])
    if app.config["IVR_FAST_LANE"]:
        # In front of Flask (inside ProxyFix): the hot webhooks answered from memory.
        app.wsgi_app = fast_lane.FastLane(  # type: ignore[method-assign]
            app, app.wsgi_app)
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


def _configure_logging(level: str, every: float) -> None:
    """Send the service's log lines (one JSON line per webhook) to stderr, once, in batches.

    Written at most `every` seconds after they happen, warnings and errors at once
    (`ivr.log_buffer`: what a SIGKILL can lose).
    """
    logger = logging.getLogger("ivr")
    logger.setLevel(level)
    if not logger.handlers:
        handler = log_buffer.BufferedStreamHandler(every=every)
        handler.setFormatter(log_buffer.LineFormatter())
        logger.addHandler(handler)
