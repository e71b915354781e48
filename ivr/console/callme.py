""""Call me, then the customer": the console calls the analyst, then the customer.

It rings the analyst's phone through Twilio's REST API; when they answer they hear the case and
its level, then the customer is dialled with the line's number as caller ID. How it ends comes
back by status callback (`hooks`). From a callback the analyst claimed, the same call: the
whisper tells the callback, and its reports land on the callback too.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, url_for

from ivr import db
from ivr.core.lines import Line
from ivr.core.twiml import Hook
from ivr.store import audit, console_calls
from ivr.store.console_tables import ConsoleCall, ConsoleUser
from ivr.store.tables import Callback, Case
from ivr.web import twilio_api
from ivr.web.helpers import now

log = logging.getLogger("ivr.console")
WEB = "web:"  # a callback claimed from the console (a phone analyst's claim is its id)


class CallMeError(RuntimeError):
    """The call could not be placed (and why, for the analyst)."""


def public(hook: Hook, **values: int) -> str:
    """An absolute URL of ours that Twilio can reach (PUBLIC_BASE_URL when set)."""
    base: str | None = current_app.config.get("PUBLIC_BASE_URL")
    given: dict[str, Any] = dict(values)
    if base:
        return base + url_for(hook.value, **given)
    return url_for(hook.value, _external=True, **given)


def claimant(user: ConsoleUser) -> str:
    """How the callbacks table names a console account's claims ('web:ID'; phones: the id)."""
    return f"{WEB}{user.id}"


def place(user: ConsoleUser, line: Line, case: Case) -> ConsoleCall:
    """Ring the analyst, then (once they answer) the customer; return the call as stored."""
    if not case.caller or not case.caller.startswith("+"):
        raise CallMeError("el caso no tiene un número de cliente al que llamar")
    return _ring(user, line, f"case:{case.number}", case_number=case.number)


def place_callback(user: ConsoleUser, line: Line, callback: Callback) -> ConsoleCall:
    """The same for a callback this analyst has claimed: its Twilio reports land on it."""
    if (callback.status, callback.claimed_by) != ("claimed", claimant(user)):
        raise CallMeError("la devolución no está tomada por usted")
    if not callback.number:
        raise CallMeError("la devolución no tiene número al que llamar")
    return _ring(user, line, f"callback:{callback.id}", case_number=callback.case_number,
                 callback_id=callback.id)


def _ring(user: ConsoleUser, line: Line, target: str, *, case_number: str | None,
          callback_id: int | None = None) -> ConsoleCall:
    """Ask Twilio to ring the analyst's phone; keep the call, its SID and an audit entry."""
    if not user.phone:
        raise CallMeError("su perfil no tiene teléfono")
    if not line.spec.numbers:
        raise CallMeError("la línea no tiene número para identificarse")
    row = console_calls.start(db.session(), line=line.id, case_number=case_number,
                              callback_id=callback_id, analyst=user.username, now=now())
    try:
        call = twilio_api.client().calls.create(
            to=user.phone,
            from_=line.spec.numbers[0],
            url=public(Hook.CONSOLE_BRIDGE, call_id=row.id),
            status_callback=public(Hook.CONSOLE_STATUS, call_id=row.id),
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        )
    except Exception as e:  # the library raises its own errors and the transport's
        console_calls.failed(db.session(), row.id, now())
        log.error("console call %s for %s of line %s failed: %s", row.id,
                  target.split(":")[0], line.id, type(e).__name__)
        raise CallMeError("Twilio no aceptó la llamada") from e
    console_calls.placed(db.session(), row.id, call.sid, now())
    audit.record(db.session(), actor=user.username, action="call.place", target=target,
                 before=None, after={"console_call": row.id, "call_sid": call.sid}, now=now())
    return row
