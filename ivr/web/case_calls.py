"""The webhooks of the case nodes: the number read back, the description recorded, a look-up."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ivr import db
from ivr.core import case_flow, navigator, transcripts
from ivr.core.lines import Line
from ivr.core.twiml import render_empty
from ivr.store import cases
from ivr.web.helpers import (
    answer,
    case_param,
    for_line,
    log_call,
    moment,
    now,
    param,
    twilio_recording,
    twiml,
)
from ivr.web.live_menus import get_lines
from ivr.web.signature import twilio_only

bp = Blueprint("case_calls", __name__, url_prefix="/voice")
METHODS = ["GET", "POST"]


@bp.route("/<line_id>/case/<node_id>/read", methods=METHODS)
@twilio_only
@for_line
def read(line: Line, node_id: str) -> Response:
    """After the case number was read: the repeat key says it again, anything else goes on."""
    repeats = navigator.parse_count(request.args.get("r"))
    number = case_param(line.spec.case_digits) or ""
    at = moment(line)
    plan = case_flow.after_reading(line, node_id, number, param("Digits"), repeats, at)
    return answer(line, plan, at)


@bp.route("/<line_id>/case/<node_id>/recorded", methods=METHODS)
@twilio_only
@for_line
def recorded(line: Line, node_id: str) -> Response:
    """The caller's description was recorded (or not): keep it with the case, go on."""
    url, number = param("RecordingUrl"), case_param(line.spec.case_digits)
    kept = bool(url and number and twilio_recording(url, param("CallSid"))
                and _keep_recording(number, url, param("RecordingDuration"), node_id))
    at = moment(line)
    return answer(line, case_flow.recorded(line, node_id, number or "", kept, at), at,
                  stop_transcription=node_id)


@bp.route("/<line_id>/case/<node_id>/transcribed", methods=METHODS)
@twilio_only
def transcribed(line_id: str, node_id: str) -> Response:
    """A sentence of a description, transcribed in Spanish (outside the call, as it is said)."""
    line = get_lines().get(line_id)
    number = case_param(line.spec.case_digits) if line is not None else None
    event = param("TranscriptionEvent")
    text = transcripts.final_text(event, param("Final"), request.values.get("TranscriptionData"))
    if number is not None and text is not None:
        db.attempt(lambda: cases.append_transcription(db.connection(), number, text, now()),
                   f"NOT STORED: transcription of a case of call {param('CallSid')}")
    log_call(line_id, node_id, event or "transcription-unknown")
    return twiml(render_empty())


@bp.route("/<line_id>/case/<node_id>/entry", methods=METHODS)
@twilio_only
@for_line
def entry(line: Line, node_id: str) -> Response:
    """A case number typed on the keypad (or nothing)."""
    failures = navigator.parse_count(request.args.get("f"))
    at = moment(line)
    return answer(line, case_flow.entered(line, node_id, param("Digits"), failures, at), at)


def _keep_recording(number: str, url: str, duration: str | None, node_id: str) -> bool:
    """Store the recording's URL with the case and note the call; False if it was not kept."""
    seconds = navigator.parse_count(duration, limit=86_400, width=6) if duration else None

    def keep() -> bool:
        """Attach the recording, then note the call on the case."""
        session = db.session()
        case = cases.attach_recording(session, number, url=url[:500], seconds=seconds, now=now())
        if case is not None:
            cases.record_call(session, case, call_sid=param("CallSid"), caller=param("From"),
                              node=node_id, outcome="recorded", now=now())
        return case is not None

    return bool(db.attempt(keep, f"NOT STORED: recording {url} of call {param('CallSid')}"))
