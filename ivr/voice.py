"""The webhooks Twilio calls during a call: a thin layer over `navigator` and `twiml`."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from flask import Blueprint, Flask, Response, current_app, request, url_for
from werkzeug.exceptions import HTTPException

from ivr import navigator
from ivr.lines import Directory, Line
from ivr.navigator import Plan
from ivr.phone import normalize_called
from ivr.signature import twilio_only
from ivr.twiml import render, render_message

bp = Blueprint("voice", __name__, url_prefix="/voice")
log = logging.getLogger("ivr.calls")
METHODS = ["GET", "POST"]
MAX_PARAM = 256


class FlaskUrls:
    """The webhook URLs of this app, relative so that Twilio resolves them on its own host."""

    def menu(self, line: str, node: str, failures: int) -> str:
        """The menu's <Gather> action."""
        return url_for("voice.menu", line_id=line, node_id=node, f=failures)

    def dial(self, line: str, node: str, index: int) -> str:
        """The <Dial> action."""
        return url_for("voice.dial", line_id=line, node_id=node, t=index)

    def queue(self, line: str, node: str) -> str:
        """The <Enqueue> action."""
        return url_for("voice.queue", line_id=line, node_id=node)

    def wait(self, line: str, node: str) -> str:
        """The <Enqueue> waitUrl."""
        return url_for("voice.wait", line_id=line, node_id=node)

    def audio(self, language: str, filename: str) -> str:
        """A recorded prompt, served by this app."""
        return url_for("audio.prompt", language=language, filename=filename)


URLS = FlaskUrls()


@bp.route("", methods=METHODS)
@twilio_only
def incoming() -> Response:
    """A new call: the line is the one that answers the `To` number."""
    line = _directory().for_number(normalize_called(_param("To")))
    if line is None:
        return _unknown_line()
    return _answer(line, navigator.incoming(line, _now()))


@bp.route("/<line_id>/menu/<node_id>", methods=METHODS)
@twilio_only
def menu(line_id: str, node_id: str) -> Response:
    """Keys pressed in a menu (or none: the <Gather> timed out)."""
    line = _directory().get(line_id)
    if line is None:
        return _unknown_line()
    failures = navigator.parse_count(request.args.get("f"))
    return _answer(line, navigator.press(line, node_id, _param("Digits"), failures, _now()))


@bp.route("/<line_id>/dial/<node_id>", methods=METHODS)
@twilio_only
def dial(line_id: str, node_id: str) -> Response:
    """A <Dial> ended: answered, or on to the next person."""
    line = _directory().get(line_id)
    if line is None:
        return _unknown_line()
    raw_index = request.args.get("t", "0")
    index = -1 if raw_index == "-1" else navigator.parse_count(raw_index)
    plan = navigator.dial_ended(line, node_id, index, _param("DialCallStatus"), _now())
    return _answer(line, plan)


@bp.route("/<line_id>/queue/<node_id>", methods=METHODS)
@twilio_only
def queue(line_id: str, node_id: str) -> Response:
    """The caller left a queue: connected, hung up, or waited too long."""
    line = _directory().get(line_id)
    if line is None:
        return _unknown_line()
    return _answer(line, navigator.queue_ended(line, node_id, _param("QueueResult"), _now()))


@bp.route("/<line_id>/wait/<node_id>", methods=METHODS)
@twilio_only
def wait(line_id: str, node_id: str) -> Response:
    """What a caller waiting in a queue hears."""
    line = _directory().get(line_id)
    if line is None:
        return _unknown_line()
    return _answer(line, navigator.waiting(line, node_id, _param("QueueTime")))


@bp.errorhandler(Exception)
def _failure(error: Exception) -> Response | HTTPException:
    """Whatever went wrong, the caller hears an apology, never 'an application error'."""
    if isinstance(error, HTTPException) and error.code == 403:
        return error
    log.exception("webhook failed: %s %s", request.method, request.path)
    return _apology("error")


def init_app(app: Flask) -> None:
    """Answer unknown webhook URLs (stale links, typos) with TwiML too."""

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _not_found(error: HTTPException) -> Response | HTTPException:
        """Under /voice, a polite message; elsewhere, the usual error page."""
        if request.path.startswith("/voice"):
            return _apology("not-found")
        return error


def _answer(line: Line, plan: Plan) -> Response:
    """Render `plan`, and log one line about this webhook."""
    _log(line.id, plan.node, plan.outcome)
    return _twiml(render(line, plan, URLS))


def _unknown_line() -> Response:
    """A number (or URL) no line claims: a short polite message, then goodbye."""
    prompt_id, outcome = navigator.unknown_line()
    return _message(prompt_id, outcome)


def _apology(outcome: str) -> Response:
    """Something failed inside the service: apologise and end the call cleanly."""
    return _message("error_tecnico", outcome)


def _message(prompt_id: str, outcome: str) -> Response:
    """Say one service prompt in the voice of the default (or first) line, then hang up."""
    _log(None, None, outcome)
    line = _any_line()
    prompt = line.prompt(prompt_id)
    return _twiml(render_message(prompt.text, line.spec.voice, line.spec.say_language))


def _any_line() -> Line:
    """The default line, else the first loaded one (for messages that belong to no line)."""
    directory = _directory()
    default = directory.get(directory.default_line or "")
    return default or next(iter(directory.lines.values()))


def _log(line: str | None, node: str | None, outcome: str) -> None:
    """One structured line per webhook: call, line, node, outcome."""
    log.info(json.dumps({
        "event": "webhook",
        "path": request.path[:MAX_PARAM],
        "call": _param("CallSid"),
        "line": line,
        "node": node,
        "outcome": outcome,
    }, ensure_ascii=False))


def _twiml(document: str) -> Response:
    """A 200 response carrying a TwiML document."""
    return Response(document, status=200, mimetype="text/xml")


def _param(name: str) -> str | None:
    """A Twilio parameter, cut to a sane length (garbage is the navigator's to judge)."""
    value = request.values.get(name)
    return value[:MAX_PARAM] if value is not None else None


def _directory() -> Directory:
    """The loaded lines."""
    directory: Directory = current_app.extensions["ivr.lines"]
    return directory


def _now() -> datetime:
    """The current time from the app's clock (the system clock unless a test injects one)."""
    now: datetime = current_app.config["CLOCK"]()
    return now
