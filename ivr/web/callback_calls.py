"""The webhooks of a callback request: the caller's number, then the severity (step 4)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ivr import db
from ivr.core import callbacks, navigator
from ivr.core.lines import Line
from ivr.core.moment import Moment
from ivr.core.navigator import Plan
from ivr.core.prompts import Prompt
from ivr.store import callbacks as store
from ivr.web.helpers import answer, for_line, moment, param
from ivr.web.signature import twilio_only

bp = Blueprint("callback_calls", __name__, url_prefix="/voice")
METHODS = ["GET", "POST"]
MAX_NODE_ID = 64  # longer than any node id: the rest is not read


def begin(line: Line, node_id: str, at: Moment, said: tuple[Prompt, ...] = ()) -> Plan:
    """The caller left the queue (or a message) for a callback: open the request, ask."""
    call_sid = param("CallSid")
    kept = call_sid and db.attempt(lambda: store.start_request(
        db.session(), call_sid=call_sid, line=line.id, node=node_id, now=at.at),
        f"NOT STORED: callback request of call {call_sid}")
    if not kept:
        return callbacks.not_registered(line, node_id, at, said)
    return callbacks.start(line, node_id, param("From"), said)


@bp.route("/<line_id>/callback/<node_id>/<step>", methods=METHODS)
@twilio_only
@for_line
def step(line: Line, node_id: str, step: str) -> Response:
    """An answer to one question of the callback (or silence)."""
    at = moment(line)
    if step not in callbacks.STEPS or not callbacks.offers_callback(line, node_id):
        return answer(line, navigator.enter(line, line.spec.start, at), at)
    failures = navigator.parse_count(request.args.get("f"))
    reply = callbacks.answered(line, node_id, step, param("Digits"), param("From"), failures, at)
    return answer(line, _settle(line, node_id, reply, at), at)


def _settle(line: Line, node_id: str, reply: callbacks.Answer, at: Moment) -> Plan:
    """Keep what the answer settled; the last one puts the request on the list."""
    call_sid = param("CallSid") or ""
    number = reply.number
    if number is not None:
        saved = db.attempt(lambda: store.set_number(db.session(), call_sid, number, at.at),
                           f"NOT STORED: callback number of call {call_sid}")
        if not saved:
            return callbacks.not_registered(line, node_id, at)
    severity = reply.severity
    if severity is None:
        return reply.plan
    due = callbacks.due_at(line, severity, at.at)
    row = db.attempt(lambda: store.complete(db.connection(), call_sid, severity, due, at.at),
                     f"NOT STORED: callback severity of call {call_sid}")
    if row is None:
        return callbacks.not_registered(line, node_id, at)
    return callbacks.registered(line, node_id, row.case_number, due, at.at)


def recognised(line: Line, at: Moment) -> Plan | None:
    """A caller whose callback is pending calls again: the offer, or None.

    None: no callbacks on this line, a withheld ID, nothing pending, or the database away.
    """
    number = callbacks.recognisable(line, param("From"))
    if number is None:
        return None
    row = db.attempt(lambda: store.pending_for(db.session(), line=line.id, number=number),
                     "pending callbacks unreadable")
    return callbacks.pending_offer(line, row.id, row.severity) if row is not None else None


@bp.route("/<line_id>/callback/pending", methods=METHODS)
@twilio_only
@for_line
def pending(line: Line) -> Response:
    """The repeat caller chose: keep (or nothing), graver, or cancel; then on (`to`: a node).

    Recognised at the incoming call, the line's menu follows; recognised by a case looked up,
    the case's team.
    """
    at = moment(line)
    ident = navigator.parse_count(request.args.get("cb"), limit=2**31, width=10)
    chosen = callbacks.pending_choice(param("Digits"))
    said = _apply(line, ident, chosen, at) if ident and line.spec.callbacks else ()
    onward = request.args.get("to", "")[:MAX_NODE_ID]
    return answer(line, callbacks.after_pending(line, onward, said, chosen, at), at)


def _apply(line: Line, ident: int, chosen: str, at: Moment) -> tuple[Prompt, ...]:
    """Carry out the repeat caller's choice; what to tell them (nothing if it failed)."""
    def work() -> bool:
        """The change, in the database."""
        session = db.session()
        row = store.get(session, ident)
        if row is None or row.line != line.id or row.status not in ("pending", "claimed"):
            return False
        if chosen == "cancel":
            store.close(session, ident, "cancelled", at.at)
        elif chosen == "graver":
            severity = callbacks.graver(line, row.severity)
            store.change_severity(session, ident, severity,
                                  callbacks.due_at(line, severity, at.at), at.at)
        return True

    if not db.attempt(work, f"NOT STORED: {chosen} of callback {ident}"):
        return ()
    return (line.prompt("devolucion_cancelada" if chosen == "cancel"
                        else "devolucion_conservada"),)
