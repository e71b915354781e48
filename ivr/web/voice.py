"""The webhooks Twilio calls during a call: a thin layer over `navigator` and `twiml`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ivr import db
from ivr.core import analyst_desk, callbacks, navigator, transcripts
from ivr.core.lines import Line
from ivr.core.menu_file import QueueNode
from ivr.core.twiml import render_empty, render_message, render_screen, render_screen_result
from ivr.store import callbacks as callback_store
from ivr.store import missed_calls
from ivr.web import callback_calls
from ivr.web.helpers import (
    answer,
    answer_from_memory,
    apology,
    case_param,
    for_line,
    link,
    log_call,
    moment,
    now,
    param,
    twilio_recording,
    twiml,
    unknown_line,
)
from ivr.web.live_menus import get_lines
from ivr.web.signature import twilio_only

bp = Blueprint("voice", __name__, url_prefix="/voice")
log = logging.getLogger("ivr.calls")
METHODS = ["GET", "POST"]


@bp.route("", methods=METHODS)
@twilio_only
def incoming() -> Response:
    """A new call: the line is the one that answers the `To` number."""
    line = get_lines().for_called(param("To"))
    if line is None:
        return unknown_line()
    at = moment(line)
    repeat = callback_calls.recognised(line, at)
    return answer(line, repeat or navigator.incoming(line, at), at)


@bp.route("/fallback", methods=METHODS)
@twilio_only
def fallback() -> Response:
    """Twilio's retry of a webhook of ours that failed or timed out: people, from memory alone.

    The number's "Primary handler fails" URL: an apology and the line's `fallback_url` people,
    with no database and no file read.
    """
    line = get_lines().for_called(param("To"))
    if line is None:
        return unknown_line()
    return answer_from_memory(line, navigator.rescue(line, now()))


@bp.route("/<line_id>/menu/<node_id>", methods=METHODS)
@twilio_only
@for_line
def menu(line: Line, node_id: str) -> Response:
    """Keys pressed in a menu (or none: the <Gather> timed out)."""
    at = moment(line)
    failures = navigator.parse_count(request.args.get("f"))
    return answer(line, navigator.press(line, node_id, param("Digits"), failures, at), at)


@bp.route("/<line_id>/dial/<node_id>", methods=METHODS)
@twilio_only
@for_line
def dial(line: Line, node_id: str) -> Response:
    """A <Dial> step ended: someone took the call, or on to the next step."""
    at = moment(line)
    step = navigator.parse_count(request.args.get("s"))
    started = navigator.parse_count(request.args.get("t0"), limit=2**40, width=12)
    gone = param("CallStatus") == "completed"
    plan = navigator.dial_ended(line, node_id, step, param("DialCallStatus"),
                                param("DialBridged"), at, case_param(), started, gone)
    return answer(line, plan, at)


@bp.route("/<line_id>/screen/<node_id>", methods=METHODS)
@twilio_only
def screen(line_id: str, node_id: str) -> Response:
    """The person called answered: tell them who calls, and wait for 1 to accept."""
    line = get_lines().get(line_id)
    if line is None:
        return twiml(render_screen_result(False))
    whisper = navigator.screen_prompt(line, node_id, case_param())
    seconds = navigator.screen_seconds(line, node_id)
    log_call(line.id, node_id, "screening")
    return twiml(render_screen(line, node_id, whisper, seconds, link))


@bp.route("/<line_id>/screen/<node_id>/answer", methods=METHODS)
@twilio_only
def screen_answer(line_id: str, node_id: str) -> Response:
    """1 connects the call; anything else (or silence, or a voicemail) ends this leg only."""
    accepted = navigator.screen_answered(param("Digits"))
    log_call(line_id, node_id, "screen-accepted" if accepted else "screen-declined")
    return twiml(render_screen_result(accepted))


@bp.route("/<line_id>/queue/<node_id>", methods=METHODS)
@twilio_only
@for_line
def queue(line: Line, node_id: str) -> Response:
    """The caller left a queue: connected, hung up, waited too long or asked for a call."""
    at, result, call_sid = moment(line), param("QueueResult"), param("CallSid")
    if call_sid:
        db.attempt(lambda: callback_store.left_queue(db.connection(), call_sid, at.at),
                   f"queue exit of call {call_sid} not noted")
    if result == "leave" and callbacks.offers_callback(line, node_id):
        return answer(line, callback_calls.begin(line, node_id, at), at)
    taken = analyst_desk.call_sid(call_sid)
    if result == "redirected" and taken:  # dequeued by an analyst (REST): into their room
        return answer(line, analyst_desk.join(node_id, taken), at)
    return answer(line, navigator.queue_ended(line, node_id, result, at), at)


@bp.route("/<line_id>/wait/<node_id>", methods=METHODS)
@twilio_only
@for_line
def wait(line: Line, node_id: str) -> Response:
    """What a caller waiting in a queue hears: place, wait, message, music.

    It notes when the caller first joined, so that a callback keeps the place.
    """
    call_sid, at = param("CallSid"), moment(line)
    if call_sid:
        db.attempt(lambda: callback_store.joined_queue(
            db.connection(), call_sid=call_sid, line=line.id, node=node_id, now=at.at,
            queue_sid=analyst_desk.queue_sid(param("QueueSid"))),
            f"queue join of call {call_sid} not noted")
    plan = navigator.waiting(line, node_id, param("QueueTime"), param("QueuePosition"),
                             param("AvgQueueTime"))
    return answer(line, plan, at)


@bp.route("/<line_id>/wait/<node_id>/key", methods=METHODS)
@twilio_only
@for_line
def wait_key(line: Line, node_id: str) -> Response:
    """A key pressed while waiting: the callback key leaves the queue, any other goes on.

    After the callback key, the <Enqueue> action asks the questions.
    """
    at = moment(line)
    node = line.spec.nodes.get(node_id)
    key = node.callback.key if isinstance(node, QueueNode) and node.callback else None
    if key is not None and (param("Digits") or "")[:1] == key:
        return answer(line, navigator.Plan((), navigator.Leave(), node_id, "callback-asked"), at)
    plan = navigator.waiting(line, node_id, param("QueueTime"))
    return answer(line, plan, at)


@bp.route("/<line_id>/message/<node_id>", methods=METHODS)
@twilio_only
@for_line
def message(line: Line, node_id: str) -> Response:
    """The voice message was recorded (or not): keep it, then goodbye or the next node."""
    url, call_sid, at = param("RecordingUrl"), param("CallSid"), moment(line)
    kept = False
    if url and call_sid and twilio_recording(url, call_sid):
        seconds = navigator.parse_count(param("RecordingDuration"), limit=86_400, width=6)
        # The URL is in the failure's log line (ERROR): someone can still fetch the message.
        kept = db.attempt(lambda: missed_calls.attach_recording(
            db.session(), line=line.id, node=node_id, call_sid=call_sid, caller=param("From"),
            url=url, seconds=seconds, now=at.at),
            f"NOT STORED: voice message {url} of call {call_sid}") is not None
    if kept and callbacks.offers_callback(line, node_id):
        # the message becomes a callback: its severity asked the same way as in a queue
        said = (line.prompt("mensaje_guardado"),)
        return answer(line, callback_calls.begin(line, node_id, at, said), at,
                      stop_transcription=node_id)
    return answer(line, navigator.message_taken(line, node_id, bool(url), at, kept), at,
                  stop_transcription=node_id)


@bp.route("/<line_id>/message/<node_id>/transcribed", methods=METHODS)
@twilio_only
def message_transcribed(line_id: str, node_id: str) -> Response:
    """A sentence of a voice message, transcribed in Spanish (a callback outside the call)."""
    call_sid, event = param("CallSid"), param("TranscriptionEvent")
    text = transcripts.final_text(event, param("Final"), request.values.get("TranscriptionData"))
    if call_sid and text is not None:
        db.attempt(lambda: missed_calls.append_transcription(
            db.session(), line=line_id[:40], node=node_id[:40], call_sid=call_sid,
            caller=param("From"), text=text, now=now()),
            f"NOT STORED: transcription of call {call_sid}")
    log_call(line_id, node_id, event or "transcription-unknown")
    return twiml(render_empty())


def init_app(app: Flask) -> None:
    """Under /voice every error becomes TwiML: a 500 makes Twilio hang up on the caller."""

    @app.errorhandler(Exception)
    def _failure(error: Exception) -> Response | HTTPException:
        """An apology the caller hears; elsewhere (and for 403) the usual error."""
        on_call = request.path.startswith("/voice")
        if isinstance(error, HTTPException):
            if error.code == 403 or not on_call:
                return error
            if error.code == 413:
                return _too_large()
            return _safely(lambda: apology(
                "not-found" if error.code in (404, 405) else f"http-{error.code}"))
        log.exception("webhook failed: %s", json.dumps(f"{request.method} {request.path}"))
        return _safely(lambda: apology("error")) if on_call else InternalServerError()


def _too_large() -> Response:
    """A body over IVR_MAX_BODY_BYTES: 413 with a TwiML apology, its parameters never read.

    413 rather than 200: Twilio's parameters are a few kilobytes, so no call sends this; the
    status says plainly that the request was refused, and the body is still valid TwiML.
    """
    log.warning("refused a body over %d bytes: %s", app_limit(),
                json.dumps(f"{request.method} {request.path}"[:300]))
    response = _spoken_apology()
    response.status_code = 413
    return response


def app_limit() -> int:
    """The largest body a webhook reads (IVR_MAX_BODY_BYTES)."""
    limit: int = current_app.config["IVR_MAX_BODY_BYTES"]
    return limit


def _spoken_apology() -> Response:
    """The technical-problem prompt and goodbye, from memory, reading nothing of the request."""
    line = get_lines().any_line()
    if line is None:
        return twiml(render_empty())
    prompt = line.prompt("error_tecnico")
    return twiml(render_message(prompt.text, line.spec.voice, line.spec.say_language))


def _safely(respond: Callable[[], Response]) -> Response:
    """Run an error answer; if it fails too (a body that cannot be parsed), a bare apology."""
    try:
        return respond()
    except Exception as e:  # noqa: BLE001 - the last line of defence answers TwiML
        log.error("the error answer failed too (%s): %s", type(e).__name__,
                  json.dumps(f"{request.method} {request.path}"[:300]))
        return _spoken_apology()
