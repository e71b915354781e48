"""The database steps of a call: open or find a case, note a missed call.

Each step degrades without the database, never fails: the caller is told what is true.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ivr import db
from ivr.core import callbacks, case_flow
from ivr.core.lines import Line
from ivr.core.moment import Moment
from ivr.core.navigator import CallerGone, FindCase, OpenCase, Plan, TakeMessage
from ivr.store import cases, missed_calls
from ivr.web import call_events

log = logging.getLogger("ivr.cases")
MAX_STEPS = 4  # a plan reaches at most a look-up and then a new case; more is a bug


def needs_database(plan: Plan) -> bool:
    """Whether `resolve` has anything to do for `plan` (a case to open or find, a missed call)."""
    return isinstance(plan.action, OpenCase | FindCase | TakeMessage | CallerGone)


def resolve(
    line: Line, plan: Plan, call_sid: str | None, caller: str | None, now: Moment
) -> Plan:
    """Carry out `plan`'s database step (if any) and return the plan to render."""
    for _ in range(MAX_STEPS):
        if isinstance(plan.action, OpenCase):
            plan = _open(line, plan.action, call_sid, caller, now)
        elif isinstance(plan.action, FindCase):
            plan = _find(line, plan.action, call_sid, caller, now)
        else:
            if isinstance(plan.action, TakeMessage | CallerGone):
                _note_missed(line, plan.action, call_sid, caller, now)
            return plan
    raise RuntimeError(f"case steps did not settle on line {line.id!r}: {plan!r}")


def _open(
    line: Line, action: OpenCase, call_sid: str | None, caller: str | None, now: Moment
) -> Plan:
    """Issue (or re-issue, for the same call) the case number; None when the store is away.

    With the worker's other new cases of the moment, in one commit (`db.new_cases`)."""
    case = cases.NewCase(call_sid=call_sid, line=line.id, caller=caller, node=action.node,
                         team=case_flow.team_for_new(line, action.node), now=now.at,
                         digits=line.spec.case_digits)
    number = db.attempt(lambda: db.new_cases().issue(db.connection, case),
                        f"case store unavailable: no case number for call {call_sid}")
    return case_flow.opened(line, action.node, number, now)


def _find(
    line: Line, action: FindCase, call_sid: str | None, caller: str | None, now: Moment
) -> Plan:
    """Look the case up and route it (the fallback if it cannot be read); note the call.

    On a line with callbacks, the case's pending callback is read in the same statement. The
    read is the one round trip (on PostgreSQL shared with the worker's other look-ups of the
    moment: `db.look_ups`); the note of the call on the case goes with this worker's next
    batch (`call_events.note_look_up`: written within a second, what a SIGKILL can lose
    documented there), so a look-up never waits for a write, nor for another writer's lock.
    What reads the note (`callbacks.case_of_call`: a callback request's case, the analyst's
    desk) reads it for a call waiting in a queue, which it joins only after Twilio has said
    the case number digit by digit: several seconds after this answer.
    """
    callbacks_of = line.id if line.spec.callbacks else None
    together = db.look_ups(callbacks_of)

    def read() -> tuple[Any]:
        """The case's summary (None: no such case), with the worker's other look-ups.

        Read together with those of the moment where the database takes them together."""
        if together is not None:
            return (together.run(db.connection, action.number),)
        return (cases.summary(db.connection(), action.number, callbacks_of=callbacks_of),)

    found = db.attempt(read, f"case store unavailable: no look-up for call {call_sid}")
    if found is None:
        return case_flow.lookup_unavailable(line, action.node, now)
    row = found[0]
    if row is None:
        return case_flow.found(line, action.node, action.number, None, action.failures, now)
    call_events.note_look_up(current_app, cases.note_values(
        row.id, call_sid=call_sid, caller=caller, node=action.node, outcome="looked-up",
        now=now.at))
    info = case_flow.CaseInfo(row.number, row.status, row.team, row.level)
    pending = _pending_callback(line, row, caller) if callbacks_of is not None else None
    return case_flow.found(line, action.node, action.number, info, action.failures, now,
                           pending)


def _pending_callback(
    line: Line, row: sa.Row[int, str, str, str, int], caller: str | None
) -> case_flow.PendingCallback | None:
    """The case's pending callback, read with the case, unless this call heard of it already.

    A caller recognised by number heard the offer for the first open callback of their
    number when the call came in; the same one is not offered twice.
    """
    if row.callback_id is None:
        return None
    if row.callback_offered_to is not None \
            and row.callback_offered_to == callbacks.dialable(caller, line.spec.country):
        return None
    return case_flow.PendingCallback(row.callback_id, row.callback_severity)


def _note_missed(
    line: Line, action: TakeMessage | CallerGone, call_sid: str | None, caller: str | None,
    now: Moment,
) -> None:
    """Nobody took the call: log it loudly and keep it for admins (a message may follow)."""
    log.warning("missed call on line %s at %s: nobody took call %s", line.id, action.node,
                call_sid)
    db.attempt(lambda: missed_calls.note_missed(
        db.session(), line=line.id, node=action.node, call_sid=call_sid, caller=caller,
        now=now.at), f"NOT STORED: missed call {call_sid}")
