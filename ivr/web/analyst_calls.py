"""The analysts' number (`analysts:` in a line's file): login, then callers and callbacks.

Its Twilio number's voice URL is /voice/LINE/analyst. Callers and callbacks are claimed
atomically in the database; a claimed caller is taken out of Twilio's queue by the REST API
(that very call) into a conference room the analyst joins after the whisper.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from ivr import db
from ivr.core import analyst_desk as desk
from ivr.core import navigator
from ivr.core.lines import Line
from ivr.core.menu_file import AnalystsSpec, QueueNode
from ivr.core.navigator import Plan
from ivr.core.twiml import Hook
from ivr.store import analysts
from ivr.store import callbacks as callback_store
from ivr.web import twilio_api
from ivr.web.helpers import answer, for_line, log_call, moment, now, param, unknown_line
from ivr.web.signature import twilio_only

bp = Blueprint("analyst_calls", __name__, url_prefix="/voice")
METHODS = ["GET", "POST"]


@bp.route("/<line_id>/analyst", methods=METHODS)
@twilio_only
@for_line
def incoming(line: Line) -> Response:
    """An analyst calls: ask for the code."""
    if line.spec.analysts is None:
        return unknown_line()
    return answer(line, desk.ask_code(line), moment(line))


@bp.route("/<line_id>/join/<node_id>", methods=METHODS)
@twilio_only
@for_line
def join(line: Line, node_id: str) -> Response:
    """A caller an analyst took (dequeued by the REST API): into their conference room."""
    caller = desk.call_sid(request.args.get("t")) or desk.call_sid(param("CallSid"))
    if caller is None:
        return unknown_line()
    return answer(line, desk.join(node_id, caller), moment(line))


@bp.route("/<line_id>/analyst/<step>", methods=METHODS)
@twilio_only
@for_line
def step(line: Line, step: str) -> Response:
    """One step of an analyst's call."""
    spec, at = line.spec.analysts, moment(line)
    if spec is None or step not in desk.STEPS:
        return unknown_line()
    failures = navigator.parse_count(request.args.get("f"))
    if step == desk.CODE:
        return answer(line, desk.ask_pin(line, desk.keys(param("Digits")), failures), at)
    if step == desk.PIN:
        return answer(line, _login(line, spec, failures), at)
    analyst = navigator.parse_count(request.args.get("a"), limit=2**31, width=10)
    if not analyst or db.attempt(lambda: analysts.get(db.session(), analyst),
                                 "analyst unreadable") is None:
        return answer(line, desk.ask_code(line), at)  # not logged in (or removed): log in
    return answer(line, _logged_in(line, step, analyst), at)


def _login(line: Line, spec: AnalystsSpec, failures: int) -> Plan:
    """Check the code (from our URL) and the PIN typed."""
    code = desk.keys(request.args.get("c"))
    pin = desk.keys(param("Digits"))
    result = db.attempt(lambda: analysts.login(
        db.session(), line=line.id, code=code, pin=pin, now=now(),
        max_failures=spec.max_pin_failures, lockout=timedelta(minutes=spec.lockout_minutes)),
        f"analyst login of call {param('CallSid')} impossible")
    if result is None:
        return Plan((line.prompt("analista_no_disponible"),), navigator.Hangup(), "analyst",
                    "analyst-db-away")
    if result.analyst_id is None:
        return desk.login_failed(line, failures, result.outcome == "locked")
    log_call(line.id, "analyst", f"analyst-{result.analyst_id}-logged-in")
    return desk.menu(line, result.analyst_id)


def _logged_in(line: Line, step: str, analyst: int) -> Plan:
    """The menu, a claim, or the outcome of a callback."""
    if step == desk.MENU:
        chosen = desk.choice(param("Digits"))
        if chosen == "caller":
            return _next_caller(line, analyst)
        if chosen == "callback":
            return _next_callback(line, analyst)
        return desk.menu(line, analyst)
    callback = navigator.parse_count(request.args.get("cb"), limit=2**31, width=10)
    if step == desk.DIALED and callback:
        plan, outcome = desk.dialed(line, analyst, callback, param("DialCallStatus"))
        if outcome is not None:
            _keep_outcome(line, callback, outcome)
        return plan
    if step == desk.OUTCOME and callback:
        _keep_outcome(line, callback, desk.told_outcome(param("Digits")))
        return desk.menu(line, analyst, (line.prompt("analista_resultado_guardado"),),
                         "callback-outcome-kept")
    return desk.menu(line, analyst)  # after a bridged caller: the next one


def _next_caller(line: Line, analyst: int) -> Plan:
    """Claim the caller who has waited longest in the line's queues, and take that very call.

    The claimed call is dequeued by Twilio's REST API into a room the analyst then joins; one
    gone from Twilio's queue (404) is marked left and the next is claimed (MAX_TAKES in all,
    none started after TAKE_SECONDS).
    Without credentials, or when the API fails: `<Dial><Queue>` (Twilio's front caller).
    """
    at = now()
    clock = current_app.config.get("MONOTONIC", time.monotonic)
    started = clock()
    for _ in range(desk.MAX_TAKES):
        if clock() - started > desk.TAKE_SECONDS:
            break
        claimed = db.attempt(lambda: (_claim_caller(line, analyst),), "queue claim impossible")
        if claimed is None:  # the database failed: not "nobody waits"
            return desk.nobody(line, analyst, "analista_no_disponible")
        found = claimed[0]
        if found is None:
            return desk.nobody(line, analyst, "analista_nadie_espera")
        node, call_sid, queue_sid, case, joined = found
        taken = _dequeue(line, node, call_sid, queue_sid)
        if taken == twilio_api.GONE:
            _gone(line, node, call_sid, at)
            continue
        room = desk.room(call_sid) if taken == twilio_api.DEQUEUED else None
        return desk.take_caller(line, analyst, node, case, joined, at, room)
    return desk.nobody(line, analyst, "analista_no_tomado")  # others may still wait


def _gone(line: Line, node: str, call_sid: str, at: datetime) -> None:
    """A claimed caller was no longer in Twilio's queue: their wait is over."""
    db.attempt(lambda: callback_store.left_queue(db.connection(), call_sid, at),
               f"queue exit of call {call_sid} not noted")
    log_call(line.id, node, f"claimed-caller-{call_sid}-gone")


def _claim_caller(
    line: Line, analyst: int
) -> tuple[str, str, str | None, str | None, datetime] | None:
    """The claimed caller's node, CallSid, QueueSid, case and join time."""
    row = callback_store.claim_waiting(db.connection(), line=line.id, analyst=str(analyst))
    if row is None:
        return None
    return (row.node, row.call_sid, desk.queue_sid(row.queue_sid),
            callback_store.case_of_call(db.session(), row.call_sid), row.joined_at)


def _dequeue(line: Line, node: str, call_sid: str, queue_sid: str | None) -> str:
    """Ask Twilio to send this very call to the join webhook (DEQUEUED, GONE or FAILED)."""
    spec = line.spec.nodes.get(node)
    if (not twilio_api.configured() or desk.call_sid(call_sid) is None
            or not isinstance(spec, QueueNode)):
        return twilio_api.FAILED
    taken = twilio_api.dequeue(call_sid, queue_sid, spec.queue,
                               _absolute(Hook.ANALYST_JOIN, line_id=line.id, node_id=node,
                                         t=call_sid))
    if taken == twilio_api.FAILED:
        log_call(line.id, node, f"dequeue-of-{call_sid}-failed-dial-queue")
    return taken


def _absolute(hook: Hook, /, **values: Any) -> str:
    """An absolute URL of ours (the REST API needs one): PUBLIC_BASE_URL when set."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if base:
        return str(base) + url_for(hook.value, **values)
    return url_for(hook.value, _external=True, **values)


def _next_callback(line: Line, analyst: int) -> Plan:
    """Claim the next callback (gravest, then earliest in line) and call the customer."""
    at = now()

    ident = db.attempt(lambda: (callback_store.claim_next(
        db.connection(), line=line.id, analyst=str(analyst), now=at),), "callback claim impossible")
    if ident is None:  # the database failed: not "nothing pending"
        return desk.nobody(line, analyst, "analista_no_disponible")
    if ident[0] is None:
        return desk.nobody(line, analyst, "analista_sin_pendientes")
    claimed = ident[0]
    row = db.attempt(lambda: callback_store.get(db.session(), claimed), "callback unreadable")
    if row is None or not row.number:  # claimed but unusable: back in its place, untried
        db.attempt(lambda: callback_store.release(db.session(), claimed, claimed_by=str(analyst),
                                                  now=at),
                   f"callback {claimed} left claimed")
        return desk.nobody(line, analyst, "analista_no_disponible" if row is None
                           else "analista_sin_pendientes")
    return desk.call_back(line, analyst, row.id, row.number, row.case_number, row.severity,
                          row.attempts, row.joined_at, at)


def _keep_outcome(line: Line, callback: int, outcome: str) -> None:
    """Keep how the call back went (back on the list, done, or unreachable)."""
    limit = line.spec.callbacks.max_attempts if line.spec.callbacks else 3
    db.attempt(lambda: callback_store.record_outcome(db.session(), callback, outcome,
                                                     max_attempts=limit, now=now()),
               f"NOT STORED: outcome {outcome} of callback {callback}")
    log_call(line.id, "analyst", f"callback-{callback}-{outcome}")
