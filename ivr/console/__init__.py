"""The support center's web console: a Flask blueprint at /console/.

Server-rendered pages (Spanish, through Flask-Babel), accounts and roles, CSRF on every form,
and an audit log.

Webhook signatures and console logins never mix: console pages need a session and never look at
a signature; the console's Twilio callbacks (`hooks`) need a signature and never look at a
session.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from ivr.console import hooks, views

log = logging.getLogger("ivr.console")
LANGUAGES = ("es", "en")


def init_app(app: Flask) -> None:
    """Secret key, cookie settings, CSRF, translations, the console and its Twilio callbacks."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path))
        app.extensions["ivr.secret_key_file"] = Path(app.instance_path) / "secret_key"
    secure = bool(app.config.get("CONSOLE_SECURE_COOKIES", True))
    app.config.update(
        SESSION_COOKIE_NAME="ivr_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the console only: webhooks are signed instead
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        WTF_CSRF_SSL_STRICT=secure,
        BABEL_DEFAULT_LOCALE="es",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
    )
    app.session_interface = WebhooksHaveNoSession()
    app.extensions["ivr.csrf"] = CSRFProtect(app)
    Babel(app, locale_selector=_locale)
    app.register_blueprint(views.bp)
    app.register_blueprint(hooks.bp)


class WebhooksHaveNoSession(SecureCookieSessionInterface):
    """The console's signed-cookie sessions; a webhook (under /voice) gets the null session.

    Twilio sends no cookie, and a webhook never reads a session: opening one for each would
    build a signing serializer and look for a cookie on every call for nothing.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """No session under /voice (Flask gives the null session); elsewhere the cookie's."""
        if request.environ.get("PATH_INFO", "").startswith("/voice"):
            return None
        return super().open_session(app, request)


def _locale() -> str:
    """Spanish unless the browser prefers a language the console has a catalog for."""
    return request.accept_languages.best_match(LANGUAGES, default="es") or "es"


def instance_secret(instance: Path) -> str:
    """SECRET_KEY when the environment gives none: made once in the instance folder, kept.

    Enough for one machine (it survives restarts, every worker reads the same file); several
    machines must share one SECRET_KEY from the environment, or their sessions do not carry.
    """
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
    else:
        key = secrets.token_hex(32)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(key)
    if not key:  # another worker is writing it this instant
        key = path.read_text(encoding="ascii").strip()
    return key


def warn_when_serving(app: Flask) -> None:
    """Warn loudly, as the server starts, when the console's key comes from the instance folder.

    Said when serving, not under every admin command, which signs no session.
    """
    path = app.extensions.get("ivr.secret_key_file")
    if path is not None:
        log.warning("SECRET_KEY is not set: the console signs its sessions with the key in %s. "
                    "Fine for one machine; set SECRET_KEY (the same on every machine) "
                    "otherwise.", path)
