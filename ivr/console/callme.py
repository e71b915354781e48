""""Call me, then the customer": the console calls the analyst, then the customer.

It rings the analyst's phone through Twilio's REST API; when they answer they hear the case and
its level, then the customer is dialled with the line's number as caller ID. How it ends comes
back by status callback (`hooks`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, url_for

from ivr import db
from ivr.console import twilio_api
from ivr.core.lines import Line
from ivr.core.twiml import Hook
from ivr.store import audit, console_calls
from ivr.store.console_tables import ConsoleCall, ConsoleUser
from ivr.store.tables import Case
from ivr.web.helpers import now

log = logging.getLogger("ivr.console")


class CallMeError(RuntimeError):
    """The call could not be placed (and why, for the analyst)."""


def public(hook: Hook, **values: int) -> str:
    """An absolute URL of ours that Twilio can reach (PUBLIC_BASE_URL when set)."""
    base: str | None = current_app.config.get("PUBLIC_BASE_URL")
    given: dict[str, Any] = dict(values)
    if base:
        return base + url_for(hook.value, **given)
    return url_for(hook.value, _external=True, **given)


def place(user: ConsoleUser, line: Line, case: Case) -> ConsoleCall:
    """Ring the analyst, then (once they answer) the customer; return the call as stored."""
    if not user.phone:
        raise CallMeError("su perfil no tiene teléfono")
    if not case.caller or not case.caller.startswith("+"):
        raise CallMeError("el caso no tiene un número de cliente al que llamar")
    if not line.spec.numbers:
        raise CallMeError("la línea no tiene número para identificarse")
    row = console_calls.start(db.session(), line=line.id, case_number=case.number,
                              analyst=user.username, now=now())
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
        log.error("console call %s for case of line %s failed: %s", row.id, line.id,
                  type(e).__name__)
        raise CallMeError("Twilio no aceptó la llamada") from e
    console_calls.placed(db.session(), row.id, call.sid, now())
    audit.record(db.session(), actor=user.username, action="call.place",
                 target=f"case:{case.number}", before=None,
                 after={"console_call": row.id, "call_sid": call.sid}, now=now())
    return row
