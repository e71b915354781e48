"""The database steps of a call: open or find a case, and degrade, never fail, without one."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from ivr import db
from ivr.core import case_flow
from ivr.core.lines import Line
from ivr.core.moment import Moment
from ivr.core.navigator import FindCase, OpenCase, Plan, TakeMessage
from ivr.store import cases, missed_calls

log = logging.getLogger("ivr.cases")
MAX_STEPS = 4  # a plan reaches at most a look-up and then a new case; more is a bug


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
            if isinstance(plan.action, TakeMessage):
                _note_missed(line, plan.action, call_sid, caller, now)
            return plan
    raise RuntimeError(f"case steps did not settle on line {line.id!r}: {plan!r}")


def _open(
    line: Line, action: OpenCase, call_sid: str | None, caller: str | None, now: Moment
) -> Plan:
    """Issue (or re-issue, for the same call) the case number; None when the store is away."""
    number: str | None
    try:
        number = cases.issue_number(
            db.connection(), call_sid=call_sid, line=line.id, caller=caller, node=action.node,
            team=case_flow.team_for_new(line, action.node), now=now.at,
            digits=line.spec.case_digits,
        )
    except SQLAlchemyError:
        log.exception("case store unavailable: no case number for call %s", call_sid)
        db.reset()
        number = None
    return case_flow.opened(line, action.node, number, now)


def _find(
    line: Line, action: FindCase, call_sid: str | None, caller: str | None,
    now: Moment,
) -> Plan:
    """Look the case up, note the call on it, and route it (the fallback if the store is away)."""
    try:
        session = db.connection()
        row = cases.summary(session, action.number)
        info = None
        if row is not None:
            info = case_flow.CaseInfo(row.number, row.status, row.team, row.level)
            cases.record_call(session, row.id, call_sid=call_sid, caller=caller,
                                   node=action.node, outcome="looked-up", now=now.at)
    except SQLAlchemyError:
        log.exception("case store unavailable: cannot look up case for call %s", call_sid)
        db.reset()
        return case_flow.lookup_unavailable(line, action.node, now)
    return case_flow.found(line, action.node, action.number, info, action.failures, now)


def _note_missed(
    line: Line, action: TakeMessage, call_sid: str | None, caller: str | None, now: Moment
) -> None:
    """Nobody took the call: log it loudly and keep it for admins (the message follows)."""
    log.warning("missed call on line %s: nobody took %s from %s", line.id, call_sid, caller)
    try:
        missed_calls.note_missed(db.session(), line=line.id, node=action.node,
                                  call_sid=call_sid, caller=caller, now=now.at)
    except SQLAlchemyError:
        log.exception("missed call %s not stored: database unavailable", call_sid)
        db.reset()
