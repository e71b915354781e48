"""The analysts' number: pure decisions for a call from an analyst (login, menu, whispers).

An analyst logs in with a code and a PIN on the keypad, then presses 1 to take the caller who
has waited longest in a queue (hearing the case and the wait first: the whisper `<Queue url>`
cannot give, since it plays to the caller), or 2 to take the next callback (hearing the case,
the severity and the wait, then the customer is dialled with the line's number). The web layer
checks PINs and claims callers in the database and asks here what to say.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from ivr.core.callbacks import severity_label
from ivr.core.lines import Line
from ivr.core.navigator import Ask, BridgeQueue, CallCustomer, Hangup, JoinRoom, Plan
from ivr.core.prompts import Prompt, spell_digits

HOOK = "analyst_calls.step"
CODE, PIN, MENU, BRIDGED, DIALED, OUTCOME = "code", "pin", "menu", "bridged", "dialed", "outcome"
STEPS = (CODE, PIN, MENU, BRIDGED, DIALED, OUTCOME)
MAX_TRIES = 3  # wrong logins (or silences) in one call before it ends
KEY_SECONDS = 6
MAX_CODE_DIGITS = 8
DIAL_OUTCOMES = {"no-answer": "no-answer", "busy": "busy", "failed": "failed",
                 "canceled": "no-answer"}
_DIGITS = re.compile(r"[^0-9]")
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
_QUEUE_SID = re.compile(r"QU[0-9a-fA-F]{32}")
ROOM_PREFIX = "take-"
MAX_TAKES = 3  # callers gone from Twilio's queue (404) skipped before "nobody waits"
TAKE_SECONDS = 8.0  # no new claim after this long in one webhook (Twilio waits 15 s at most)


def keys(digits: str | None, limit: int = MAX_CODE_DIGITS) -> str:
    """The digits typed (anything else dropped), at most `limit`."""
    return _DIGITS.sub("", (digits or "")[:32])[:limit]


def ask_code(line: Line, failures: int = 0, said: tuple[Prompt, ...] = ()) -> Plan:
    """Ask for the analyst code, ended by #."""
    return Plan(said + (line.prompt("analista_codigo"),),
                Ask(HOOK, (("step", CODE), ("f", failures)), MAX_CODE_DIGITS, KEY_SECONDS, "#"),
                "analyst", "analyst-code")


def ask_pin(line: Line, code: str, failures: int) -> Plan:
    """Ask for the PIN, ended by #; the code typed travels in our signed URL."""
    if not code:
        return login_failed(line, failures, locked=False)
    return Plan((line.prompt("analista_clave"),),
                Ask(HOOK, (("step", PIN), ("c", code), ("f", failures)), MAX_CODE_DIGITS,
                    KEY_SECONDS, "#"), "analyst", "analyst-pin")


def login_failed(line: Line, failures: int, locked: bool) -> Plan:
    """A wrong code or PIN: again, until MAX_TRIES; a locked code ends the call."""
    if locked:
        return Plan((line.prompt("analista_bloqueado"),), Hangup(), "analyst", "analyst-locked")
    said = (line.prompt("analista_incorrecto"),)
    if failures + 1 >= MAX_TRIES:
        return Plan(said, Hangup(), "analyst", "analyst-login-failed")
    plan = ask_code(line, failures + 1, said)
    return Plan(plan.prompts, plan.action, "analyst", "analyst-login-wrong")


def menu(line: Line, analyst: int, said: tuple[Prompt, ...] = (), outcome: str = "analyst-menu"
         ) -> Plan:
    """1: the next caller waiting; 2: the next callback."""
    return Plan(said + (line.prompt("analista_menu"),),
                Ask(HOOK, (("step", MENU), ("a", analyst)), 1, KEY_SECONDS), "analyst", outcome)


def choice(digits: str | None) -> str | None:
    """What the analyst chose in the menu: 'caller', 'callback', or nothing."""
    return {"1": "caller", "2": "callback"}.get(keys(digits, 1))


def nobody(line: Line, analyst: int, prompt_id: str) -> Plan:
    """Nobody to take: say so, and the menu again."""
    return menu(line, analyst, (line.prompt(prompt_id),), "analyst-nobody")


def take_caller(
    line: Line, analyst: int, node: str, case: str | None, joined_at: datetime, now: datetime,
    room: str | None = None,
) -> Plan:
    """The whisper (the wait, the case), then the caller.

    With `room`: the claimed caller was dequeued into that conference room, the analyst joins
    it. Without: the caller at the front of Twilio's queue (usually, not always, the claimed one).
    """
    said: tuple[Prompt, ...] = (
        line.prompt("analista_cliente").format(minutes=str(minutes_since(joined_at, now))),)
    if case:
        said += (line.prompt("analista_caso").format(number=spell_digits(case)),)
    values: tuple[tuple[str, str | int], ...] = (("step", BRIDGED), ("a", analyst))
    if room is not None:
        return Plan(said, JoinRoom(room, HOOK, values), node, "analyst-takes-claimed-caller")
    return Plan(said, BridgeQueue(node, HOOK, values), node, "analyst-takes-caller")


def call_sid(value: str | None) -> str | None:
    """A Twilio CallSid (CA + 32 hex digits), else None."""
    return value if value and _CALL_SID.fullmatch(value) else None


def queue_sid(value: str | None) -> str | None:
    """A Twilio QueueSid (QU + 32 hex digits), else None."""
    return value if value and _QUEUE_SID.fullmatch(value) else None


def room(caller_sid: str) -> str:
    """The conference room where an analyst takes this caller: named by CallSid, no number."""
    return ROOM_PREFIX + caller_sid


def join(node: str, caller_sid: str) -> Plan:
    """The caller taken by an analyst goes into their room (the analyst may come first)."""
    return Plan((), JoinRoom(room(caller_sid)), node, "caller-joins-analyst")


def call_back(
    line: Line, analyst: int, callback: int, number: str, case: str | None, severity: int | None,
    attempts: int, joined_at: datetime, now: datetime,
) -> Plan:
    """The whisper (the case, the severity, the wait), then the customer is dialled."""
    said: tuple[Prompt, ...] = (line.prompt("analista_pendiente").format(
        minutes=str(minutes_since(joined_at, now)), attempts=str(attempts)),)
    if case:
        said += (line.prompt("analista_caso").format(number=spell_digits(case)),)
    label = severity_label(line, severity)
    if label:
        said += (line.prompt("analista_gravedad").format(label=label),)
    said += (line.prompt("analista_llamando"),)
    return Plan(said, CallCustomer(number, HOOK, (("step", DIALED), ("a", analyst),
                                                  ("cb", callback))),
                "analyst", "analyst-calls-back")


def dialed(line: Line, analyst: int, callback: int, status: str | None) -> tuple[Plan, str | None]:
    """The call to the customer ended: an outcome to keep now, or a question to the analyst.

    The question: whether a person or a voicemail answered (Twilio cannot tell without
    answering-machine detection).
    """
    if status in ("completed", "answered"):
        return (Plan((line.prompt("analista_resultado"),),
                     Ask(HOOK, (("step", OUTCOME), ("a", analyst), ("cb", callback)), 1,
                         KEY_SECONDS), "analyst", "analyst-outcome-asked"), None)
    outcome = DIAL_OUTCOMES.get(status or "", "failed")
    return menu(line, analyst, (line.prompt("analista_resultado_guardado"),),
                f"callback-{outcome}"), outcome


def told_outcome(digits: str | None) -> str:
    """1: the customer was reached; 2: a voicemail answered (nothing: reached, the usual)."""
    return "voicemail" if keys(digits, 1) == "2" else "reached"


def minutes_since(start: datetime, now: datetime) -> int:
    """Whole minutes waited, at least 1 (never 'zero minutes')."""
    return max(1, math.floor((now - start).total_seconds() / 60))
