"""An IVR (phone menu) service for Twilio: menu trees as data, business hours, signed webhooks.

The package itself imports nothing heavy: the core modules (menu model, schedules, rotations,
navigator, check digits) load without Flask or a database; `create_app` brings those in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app (see `ivr.app.create_app`)."""
    from ivr.app import create_app as factory

    return factory(test_config)
