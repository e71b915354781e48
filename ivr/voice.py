"""The webhooks Twilio calls during a call: a thin layer over `navigator` and `twiml`."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ivr import navigator
from ivr.phone import normalize_called
from ivr.signature import twilio_only
from ivr.webhook import answer, apology, directory, now, param, unknown_line

bp = Blueprint("voice", __name__, url_prefix="/voice")
log = logging.getLogger("ivr.calls")
METHODS = ["GET", "POST"]


@bp.route("", methods=METHODS)
@twilio_only
def incoming() -> Response:
    """A new call: the line is the one that answers the `To` number."""
    line = directory().for_number(normalize_called(param("To")))
    if line is None:
        return unknown_line()
    return answer(line, navigator.incoming(line, now()))


@bp.route("/<line_id>/menu/<node_id>", methods=METHODS)
@twilio_only
def menu(line_id: str, node_id: str) -> Response:
    """Keys pressed in a menu (or none: the <Gather> timed out)."""
    line = directory().get(line_id)
    if line is None:
        return unknown_line()
    failures = navigator.parse_count(request.args.get("f"))
    return answer(line, navigator.press(line, node_id, param("Digits"), failures, now()))


@bp.route("/<line_id>/dial/<node_id>", methods=METHODS)
@twilio_only
def dial(line_id: str, node_id: str) -> Response:
    """A <Dial> ended: answered, or on to the next person."""
    line = directory().get(line_id)
    if line is None:
        return unknown_line()
    raw_index = request.args.get("t", "0")
    index = -1 if raw_index == "-1" else navigator.parse_count(raw_index)
    plan = navigator.dial_ended(line, node_id, index, param("DialCallStatus"), now())
    return answer(line, plan)


@bp.route("/<line_id>/queue/<node_id>", methods=METHODS)
@twilio_only
def queue(line_id: str, node_id: str) -> Response:
    """The caller left a queue: connected, hung up, or waited too long."""
    line = directory().get(line_id)
    if line is None:
        return unknown_line()
    return answer(line, navigator.queue_ended(line, node_id, param("QueueResult"), now()))


@bp.route("/<line_id>/wait/<node_id>", methods=METHODS)
@twilio_only
def wait(line_id: str, node_id: str) -> Response:
    """What a caller waiting in a queue hears."""
    line = directory().get(line_id)
    if line is None:
        return unknown_line()
    return answer(line, navigator.waiting(line, node_id, param("QueueTime")))


def init_app(app: Flask) -> None:
    """Under /voice every error becomes TwiML: a 500 makes Twilio hang up on the caller."""

    @app.errorhandler(Exception)
    def _failure(error: Exception) -> Response | HTTPException:
        """An apology the caller hears; elsewhere (and for 403) the usual error."""
        on_call = request.path.startswith("/voice")
        if isinstance(error, HTTPException):
            if error.code == 403 or not on_call:
                return error
            return apology("not-found" if error.code in (404, 405) else f"http-{error.code}")
        log.exception("webhook failed: %s %s", request.method, request.path)
        return apology("error") if on_call else InternalServerError()
