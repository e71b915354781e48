"""Twilio's callbacks for the calls the console places: signed by Twilio, never a session.

`bridge` is the TwiML the analyst's leg runs once answered (the whisper, then the customer);
`dialed` is its <Dial> action (did the customer answer); `status` the status callback of the
analyst's leg. Each answers valid TwiML whatever arrives.
"""

from __future__ import annotations

from flask import Blueprint, Response

from ivr import db
from ivr.core.prompts import spell_digits
from ivr.core.twiml import render_bridge, render_empty, render_hangup
from ivr.store import cases, console_calls
from ivr.web.helpers import link, log_call, now, param, twiml
from ivr.web.live_menus import get_lines
from ivr.web.signature import twilio_only

bp = Blueprint("console_hooks", __name__, url_prefix="/voice/console")
METHODS = ["GET", "POST"]


@bp.route("/<int:call_id>/bridge", methods=METHODS)
@twilio_only
def bridge(call_id: int) -> Response:
    """The analyst answered: say the case and its level, then dial the customer."""
    row = db.attempt(lambda: console_calls.get(db.session(), call_id), "console call unreadable")
    line = get_lines().get(row.line) if row is not None else None
    case = (db.attempt(lambda: cases.find_case(db.session(), row.case_number or ""),
                       "case unreadable") if row is not None and line is not None else None)
    if row is None or line is None or case is None or not case.caller:
        log_call(None, "console", "console-bridge-unknown")
        return twiml(render_hangup())
    whisper = line.prompt("consola_susurro").format(number=spell_digits(case.number),
                                                    level=str(case.level))
    log_call(line.id, "console", "console-bridge")
    return twiml(render_bridge(line, whisper, case.caller, call_id, link))


@bp.route("/<int:call_id>/dialed", methods=METHODS)
@twilio_only
def dialed(call_id: int) -> Response:
    """The customer's leg ended: keep how (answered, no-answer, busy...) with the case."""
    outcome = (param("DialCallStatus") or "unknown")[:30]
    row = db.attempt(lambda: console_calls.update(db.session(), call_id, now(),
                                                  customer_status=outcome),
                     "console call outcome NOT STORED")
    if row is not None and row.case_number:
        number = row.case_number
        found = db.attempt(lambda: cases.summary(db.session(), number), "case unreadable")
        if found is not None:
            db.attempt(lambda: cases.record_call(
                db.session(), found.id, call_sid=param("CallSid"), caller=None,
                node="console", outcome=f"callback-{outcome}", now=now()),
                "console call NOT NOTED on its case")
    log_call(row.line if row is not None else None, "console", f"console-dialed-{outcome}")
    return twiml(render_hangup())


@bp.route("/<int:call_id>/status", methods=METHODS)
@twilio_only
def status(call_id: int) -> Response:
    """The analyst's leg changed status (ringing, in-progress, completed, no-answer...)."""
    state = (param("CallStatus") or "unknown")[:30]
    row = db.attempt(lambda: console_calls.update(db.session(), call_id, now(), status=state),
                     "console call status NOT STORED")
    log_call(row.line if row is not None else None, "console", f"console-status-{state}")
    return twiml(render_empty())
