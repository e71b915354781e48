"""Twilio's callbacks for the calls the console places: signed by Twilio, never a session.

`bridge` is the TwiML the analyst's leg runs once answered (the whisper, then the customer);
`dialed` is its <Dial> action (did the customer answer); `status` the status callback of the
analyst's leg. Each answers valid TwiML whatever arrives.

A call about a callback lands on the callback as the analysts' number does: no answer, busy or
failed puts it back on the list in its place (unreachable after `max_attempts`); an answered
call asks the analyst "1 reached, 2 voicemail" (`told`); an analyst's leg that ends before the
customer was dialled gives the claim back, the attempt uncounted.
"""

from __future__ import annotations

from flask import Blueprint, Response

from ivr import db
from ivr.console.callme import WEB
from ivr.core import analyst_desk as desk
from ivr.core.analyst_desk import minutes_since
from ivr.core.callbacks import severity_label
from ivr.core.lines import Line
from ivr.core.navigator import Ask, CallCustomer, Hangup, Plan
from ivr.core.prompts import Prompt, spell_digits
from ivr.core.twiml import Hook, render, render_bridge, render_empty, render_hangup
from ivr.store import audit, cases, console_calls, users
from ivr.store import callbacks as callback_store
from ivr.store.console_tables import ConsoleCall
from ivr.store.tables import Callback
from ivr.web.helpers import link, log_call, now, param, twiml
from ivr.web.live_menus import get_lines
from ivr.web.signature import twilio_only

bp = Blueprint("console_hooks", __name__, url_prefix="/voice/console")
METHODS = ["GET", "POST"]
FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


@bp.route("/<int:call_id>/bridge", methods=METHODS)
@twilio_only
def bridge(call_id: int) -> Response:
    """The analyst answered: say the case (or the callback), then dial the customer."""
    row = db.attempt(lambda: console_calls.get(db.session(), call_id), "console call unreadable")
    line = get_lines().get(row.line) if row is not None else None
    if row is not None and line is not None and row.callback_id is not None:
        return _bridge_callback(line, row, row.callback_id)
    case = (db.attempt(lambda: cases.find_case(db.session(), row.case_number or ""),
                       "case unreadable") if row is not None and line is not None else None)
    if row is None or line is None or case is None or not case.caller:
        log_call(None, "console", "console-bridge-unknown")
        return twiml(render_hangup())
    whisper = line.prompt("consola_susurro").format(number=spell_digits(case.number),
                                                    level=str(case.level))
    log_call(line.id, "console", "console-bridge")
    return twiml(render_bridge(line, whisper, case.caller, call_id, link))


def _bridge_callback(line: Line, row: ConsoleCall, callback_id: int) -> Response:
    """The whisper of a callback (wait, attempt, case, severity), then its number dialled.

    Only while the callback is still claimed by the analyst who placed the call.
    """
    callback = db.attempt(lambda: callback_store.get(db.session(), callback_id),
                          "callback unreadable")
    if callback is None or not callback.number or not _holds(row, callback):
        log_call(line.id, "console", "console-bridge-callback-gone")
        return twiml(render(line, Plan((line.prompt("analista_sin_pendientes"),), Hangup(),
                                       "console", "console-bridge-callback-gone"), link))
    at = now()
    said: tuple[Prompt, ...] = (
        line.prompt("consola_devolucion"),
        line.prompt("analista_pendiente").format(
            minutes=str(minutes_since(callback.joined_at, at)), attempts=str(callback.attempts)))
    if callback.case_number:
        said += (line.prompt("analista_caso").format(number=spell_digits(callback.case_number)),)
    label = severity_label(line, callback.severity)
    if label:
        said += (line.prompt("analista_gravedad").format(label=label),)
    said += (line.prompt("analista_llamando"),)
    plan = Plan(said, CallCustomer(callback.number, Hook.CONSOLE_DIALED.value,
                                   (("call_id", row.id),)), "console", "console-bridge-callback")
    log_call(line.id, "console", plan.outcome)
    return twiml(render(line, plan, link))


@bp.route("/<int:call_id>/dialed", methods=METHODS)
@twilio_only
def dialed(call_id: int) -> Response:
    """The customer's leg ended: keep how (answered, no-answer, busy...) with the case.

    A callback's: no answer, busy or failed is its outcome now; answered asks the analyst.
    """
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
    line = get_lines().get(row.line) if row is not None else None
    if row is None or row.callback_id is None or line is None:
        return twiml(render_hangup())
    if outcome in ("completed", "answered"):
        return twiml(render(line, Plan((line.prompt("analista_resultado"),),
                                       Ask(Hook.CONSOLE_TOLD.value, (("call_id", row.id),), 1,
                                           desk.KEY_SECONDS),
                                       "console", "console-outcome-asked"), link))
    _keep(line, row, row.callback_id, desk.DIAL_OUTCOMES.get(outcome, "failed"))
    return twiml(render(line, Plan((line.prompt("analista_resultado_guardado"),), Hangup(),
                                   "console", "console-outcome-kept"), link))


@bp.route("/<int:call_id>/told", methods=METHODS)
@twilio_only
def told(call_id: int) -> Response:
    """The analyst said whom the callback reached: 1 the customer (or nothing), 2 a voicemail."""
    row = db.attempt(lambda: console_calls.get(db.session(), call_id), "console call unreadable")
    line = get_lines().get(row.line) if row is not None else None
    if row is None or row.callback_id is None or line is None:
        log_call(None, "console", "console-told-unknown")
        return twiml(render_hangup())
    _keep(line, row, row.callback_id, desk.told_outcome(param("Digits")))
    return twiml(render(line, Plan((line.prompt("analista_resultado_guardado"),), Hangup(),
                                   "console", "console-outcome-kept"), link))


@bp.route("/<int:call_id>/status", methods=METHODS)
@twilio_only
def status(call_id: int) -> Response:
    """The analyst's leg changed status (ringing, in-progress, completed, no-answer...).

    Ended before the customer was dialled (the analyst did not answer, or hung up during the
    whisper): a callback's claim goes back, the attempt uncounted.
    """
    state = (param("CallStatus") or "unknown")[:30]
    row = db.attempt(lambda: console_calls.update(db.session(), call_id, now(), status=state),
                     "console call status NOT STORED")
    log_call(row.line if row is not None else None, "console", f"console-status-{state}")
    if (row is not None and row.callback_id is not None and state in FINAL
            and row.customer_status is None):
        _give_back(row, row.callback_id)
    return twiml(render_empty())


def _claimant(row: ConsoleCall) -> str | None:
    """The claim name of the analyst who placed the console call (None: account gone)."""
    user = db.attempt(lambda: users.find(db.session(), row.analyst), "console user unreadable")
    return f"{WEB}{user.id}" if user is not None else None


def _holds(row: ConsoleCall, callback: Callback) -> bool:
    """Whether the callback is still claimed by the analyst of this console call."""
    return callback.status == "claimed" and callback.claimed_by == _claimant(row)


def _keep(line: Line, row: ConsoleCall, callback_id: int, outcome: str) -> None:
    """Keep a callback's outcome, as the analysts' number does, and audit it.

    A report about a callback no longer claimed by this analyst (cancelled, recorded by hand)
    changes nothing.
    """
    claimant = _claimant(row)
    limit = line.spec.callbacks.max_attempts if line.spec.callbacks else 3

    def record() -> Callback | None:
        """The outcome, if the claim still stands."""
        try:
            return callback_store.record_outcome(db.session(), callback_id, outcome,
                                                 max_attempts=limit, now=now(),
                                                 claimed_by=claimant or "")
        except callback_store.CallbackError:
            return None

    kept = db.attempt(record, f"NOT STORED: outcome {outcome} of callback {callback_id}")
    log_call(line.id, "console", f"callback-{callback_id}-{outcome}"
             if kept is not None else f"callback-{callback_id}-not-claimed")
    if kept is not None:
        db.attempt(lambda: audit.record(
            db.session(), actor=row.analyst, action="callback.outcome",
            target=f"callback:{callback_id}", before={"status": "claimed"},
            after={"outcome": outcome, "status": kept.status, "attempts": kept.attempts,
                   "console_call": row.id, "source": "twilio"}, now=now()),
            "callback outcome NOT AUDITED")


def _give_back(row: ConsoleCall, callback_id: int) -> None:
    """The customer was never dialled: the callback back on the list, the attempt uncounted."""
    claimant = _claimant(row)
    if claimant is None:
        return
    released = db.attempt(lambda: callback_store.release(db.session(), callback_id,
                                                         claimed_by=claimant, now=now()),
                          f"callback {callback_id} NOT given back")
    if released:
        log_call(row.line, "console", f"callback-{callback_id}-given-back")
        db.attempt(lambda: audit.record(
            db.session(), actor=row.analyst, action="callback.release",
            target=f"callback:{callback_id}", before={"status": "claimed"},
            after={"status": "pending", "console_call": row.id, "source": "twilio"},
            now=now()), "callback release NOT AUDITED")
