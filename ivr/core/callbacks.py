"""Callbacks, step 4 of CCO's procedure: pure decisions (no database, no HTTP).

A caller who leaves a queue (a key, or the longest wait) answers three questions on the keypad:
the number to call (the caller ID read back, 1 to confirm, 2 to type another), then the
severity in the line's words. The web layer keeps each answer in the database and asks here
what to say next; the callback list is ordered by severity, then by when the caller first
joined the queue, so nobody loses their place by asking for a call.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

from ivr.core.hours_speech import spoken_time
from ivr.core.lines import Line
from ivr.core.menu_file import CallbacksSpec, QueueNode, VoicemailNode
from ivr.core.moment import Moment
from ivr.core.navigator import Ask, Hangup, Plan, enter, incoming
from ivr.core.prompts import Prompt, spell_digits
from ivr.core.schedule import Schedule

CONFIRM, NUMBER, SEVERITY = "confirm", "number", "severity"
STEPS = (CONFIRM, NUMBER, SEVERITY)
MAX_TRIES = 3  # wrong or missing answers to one question before giving up
NUMBER_SECONDS = 6  # between the digits of a phone number typed from memory
MAX_NUMBER_DIGITS = 15  # E.164's longest
SPOKEN_STEP_MINUTES = 15  # a due time is said rounded up to the quarter hour
HORIZON_DAYS = 400
HOOK = "callback_calls.step"
_NOT_DIGITS = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class Answer:
    """What a caller's answer settles (a number, a severity) and what to say next.

    With `severity` set the request is complete: the web layer stores it and says
    `registered(...)` instead of `plan`.
    """

    plan: Plan
    number: str | None = None
    severity: int | None = None


def offers_callback(line: Line, node_id: str) -> bool:
    """Whether `node_id` turns into a callback (a queue with an offer, a callback message)."""
    node = line.spec.nodes.get(node_id)
    if line.spec.callbacks is None:
        return False
    if isinstance(node, QueueNode):
        return node.callback is not None
    return isinstance(node, VoicemailNode) and node.callback


def recognisable(line: Line, caller: str | None) -> str | None:
    """The number whose pending callback a new call asks about; None: nothing to ask.

    None when the line offers no callbacks or the caller ID cannot be called back.
    """
    if line.spec.callbacks is None:
        return None
    return dialable(caller, line.spec.country)


def dialable(caller: str | None, country: str) -> str | None:
    """The caller ID as E.164 when it can be called back (not anonymous, client:, sip:...)."""
    if not caller or not caller.startswith("+") or len(caller) > 20:
        return None
    return typed_number(caller, country)


def typed_number(digits: str | None, country: str) -> str | None:
    """A number typed on the keypad (or a caller ID) in E.164, for the line's country.

    None if it is not a valid number.
    """
    text = (digits or "")[:32]
    plus = text.startswith("+")
    text = ("+" if plus else "") + _NOT_DIGITS.sub("", text)
    if not 4 <= len(text.lstrip("+")) <= MAX_NUMBER_DIGITS:
        return None
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def start(line: Line, node_id: str, caller: str | None, said: tuple[Prompt, ...] = ()) -> Plan:
    """The first question: confirm the caller ID, or type a number when it cannot be called."""
    said += (line.prompt("devolucion_inicio"),)
    number = dialable(caller, line.spec.country)
    if number is None:
        return ask(line, node_id, NUMBER, 0, said, "callback-number")
    return ask(line, node_id, CONFIRM, 0, said, "callback-confirm", number)


def ask(
    line: Line, node_id: str, step: str, failures: int, said: tuple[Prompt, ...], outcome: str,
    caller_number: str | None = None,
) -> Plan:
    """One question of the callback, inside a <Gather>."""
    values: tuple[tuple[str, str | int], ...] = (("node_id", node_id), ("step", step),
                                                 ("f", failures))
    if step == CONFIRM:
        said += (line.prompt("devolucion_confirmar").format(
            number=spell_digits(caller_number or "")),)
        return Plan(said, Ask(HOOK, values), node_id, outcome)
    if step == NUMBER:
        said += (line.prompt("devolucion_marque_numero"),)
        return Plan(said, Ask(HOOK, values, MAX_NUMBER_DIGITS, NUMBER_SECONDS, "#"), node_id,
                    outcome)
    said += severity_prompts(line)
    return Plan(said, Ask(HOOK, values), node_id, outcome)


def severity_prompts(line: Line) -> tuple[Prompt, ...]:
    """'If it is a critical failure and you cannot operate, press 1', for each level."""
    spec = _spec(line)
    return tuple(line.prompt("devolucion_severidad").format(label=level.label, key=key)
                 for key, level in sorted(spec.severities.items()))


def answered(
    line: Line, node_id: str, step: str, digits: str | None, caller: str | None, failures: int,
    now: Moment,
) -> Answer:
    """The caller answered question `step` (or said nothing)."""
    keys = _NOT_DIGITS.sub("", (digits or "")[:32])
    if step == CONFIRM:
        number = dialable(caller, line.spec.country)
        if keys[:1] == "1" and number is not None:
            return Answer(ask(line, node_id, SEVERITY, 0, (), "callback-number-confirmed"),
                          number=number)
        if keys[:1] == "2" or number is None:
            return Answer(ask(line, node_id, NUMBER, 0, (), "callback-number-other"))
        return _again(line, node_id, step, failures, keys, now, number)
    if step == NUMBER:
        typed = typed_number(keys, line.spec.country) if keys else None
        if typed is None:
            return _again(line, node_id, step, failures, keys, now)
        return Answer(ask(line, node_id, SEVERITY, 0, (), "callback-number-typed"), number=typed)
    if step == SEVERITY and keys[:1] in _spec(line).severities:
        return Answer(Plan((), Hangup(), node_id, "callback-registered"), severity=int(keys[0]))
    return _again(line, node_id, SEVERITY, failures, keys, now)


def _again(
    line: Line, node_id: str, step: str, failures: int, keys: str, now: Moment,
    caller_number: str | None = None,
) -> Answer:
    """A wrong or missing answer: ask again, and after MAX_TRIES say it was not registered."""
    said: tuple[Prompt, ...] = ()
    if keys:
        said = (line.prompt("devolucion_numero_invalido" if step == NUMBER
                            else "opcion_no_valida"),)
    if failures + 1 < MAX_TRIES:
        why = "invalid" if keys else "no-input"
        return Answer(ask(line, node_id, step, failures + 1, said, f"callback-{why}",
                          caller_number))
    return Answer(not_registered(line, node_id, now, said, "devolucion_no_registrada"))


def not_registered(
    line: Line, node_id: str, now: Moment, said: tuple[Prompt, ...] = (),
    prompt_id: str = "devolucion_no_disponible",
) -> Plan:
    """No callback could be kept: say so, then the node's no-answer branch (a message), or bye."""
    said += (line.prompt(prompt_id),)
    node = line.spec.nodes.get(node_id)
    target = getattr(node, "on_no_answer", None) if isinstance(node, QueueNode) else None
    if target is None:
        return Plan(said + (line.prompt("despedida"),), Hangup(), node_id, "callback-not-kept")
    plan = enter(line, target, now, said)
    return Plan(plan.prompts, plan.action, plan.node, f"callback-not-kept:{plan.outcome}")


def registered(
    line: Line, node_id: str, case_number: str | None, due: datetime, now: datetime
) -> Plan:
    """The request is kept: the case number (if any) and when to expect the call, then bye."""
    said: tuple[Prompt, ...] = (line.prompt("devolucion_registrada"),)
    if case_number:
        said += (line.prompt("devolucion_caso").format(number=spell_digits(case_number)),)
    said += (line.prompt("devolucion_cuando").format(when=spoken_due(line, due, now)),
             line.prompt("despedida"))
    return Plan(said, Hangup(), node_id, "callback-registered")


def due_at(line: Line, severity: int, start: datetime) -> datetime:
    """When a callback of `severity` asked at `start` is due: its target in business hours."""
    spec = _spec(line)
    level = spec.severities.get(str(severity)) or spec.severities[max(spec.severities)]
    schedule = line.schedules.get(spec.hours) if spec.hours else None
    return add_business_time(schedule, start, timedelta(hours=level.within_hours))


def add_business_time(schedule: Schedule | None, start: datetime, span: timedelta) -> datetime:
    """`start` plus `span` counted only while `schedule` is open (any hour without one)."""
    if schedule is None:
        return start + span
    local = start.astimezone(schedule.tz)
    left = span.total_seconds() / 60
    day = local.date()
    for _ in range(HORIZON_DAYS):
        for low, high in schedule.hours_on(day):
            begin = max(low, _minute(local)) if day == local.date() else low
            if begin >= high:
                continue
            if high - begin >= left:
                return _wall(day, begin + left, schedule.tz)
            left -= high - begin
        day += timedelta(days=1)
    return start + span  # no opening hours within a year: count plain time


def spoken_due(line: Line, due: datetime, now: datetime) -> str:
    """'hoy antes de las 10 y media de la mañana', 'mañana lunes antes de las ...'."""
    tz = _zone(line)
    local, today = due.astimezone(tz), now.astimezone(tz).date()
    minute = math.ceil((local.hour * 60 + local.minute + local.second / 60)
                       / SPOKEN_STEP_MINUTES) * SPOKEN_STEP_MINUTES
    day = local.date() + timedelta(days=minute // 1440)
    hours = spoken_time(minute % 1440, line.words)
    weekday = line.words["days"]["singular"][day.weekday()]
    if day <= today:
        return line.prompt("devolucion_cuando_hoy").format(hours=hours).text
    if day == today + timedelta(days=1):
        return line.prompt("devolucion_cuando_manana").format(hours=hours, day=weekday).text
    return line.prompt("devolucion_cuando_dia").format(hours=hours,
                                                       day=f"{weekday} {day.day}").text


PENDING_HOOK = "callback_calls.pending"
KEEP, GRAVER, CANCEL = "1", "2", "3"


def pending_offer(
    line: Line, callback: int, severity: int | None, said: tuple[Prompt, ...] = (),
    onward: str | None = None,
) -> Plan:
    """A caller with a pending callback calls again: keep it, make it graver, or cancel it.

    After the choice the call goes on to node `onward` (a case's team), else to the line's menu.
    """
    said += (line.prompt("devolucion_pendiente").format(label=severity_label(line, severity)),)
    values: tuple[tuple[str, str | int], ...] = (("cb", callback),)
    values += (("to", onward),) if onward else ()
    return Plan(said, Ask(PENDING_HOOK, values, 1, 5), "callback",
                "callback-pending-recognised")


def after_pending(
    line: Line, onward: str | None, said: tuple[Prompt, ...], chosen: str, now: Moment
) -> Plan:
    """After the repeat caller's choice: on to `onward` if it is a node, else the line's menu."""
    if onward and onward in line.spec.nodes:
        plan = enter(line, onward, now, said)
    else:
        plan = incoming(line, now)
        plan = Plan(said + plan.prompts, plan.action, plan.node, plan.outcome)
    return Plan(plan.prompts, plan.action, plan.node, f"callback-{chosen}:{plan.outcome}")


def pending_choice(digits: str | None) -> str:
    """What the caller chose for the pending callback: keep (also silence), graver, cancel."""
    key = _NOT_DIGITS.sub("", (digits or "")[:4])[:1]
    return {GRAVER: "graver", CANCEL: "cancel"}.get(key, "keep")


def graver(line: Line, severity: int | None) -> int:
    """One level graver than `severity` (1 stays 1)."""
    levels = sorted(int(k) for k in _spec(line).severities)
    current = severity if severity is not None else levels[-1]
    return max([lvl for lvl in levels if lvl < current], default=levels[0])


def severity_label(line: Line, severity: int | None) -> str:
    """The label of a severity level (for the analyst's whisper and the CLI)."""
    spec = line.spec.callbacks
    level = spec.severities.get(str(severity)) if spec and severity is not None else None
    return level.label if level else ""


def order_key(severity: int | None, joined_at: datetime, ident: int) -> tuple[int, datetime, int]:
    """The callback list's order: gravest first, then who joined the queue first."""
    return (severity if severity is not None else 99, joined_at, ident)


def _spec(line: Line) -> CallbacksSpec:
    """The line's callbacks section (the loader requires it wherever callbacks are offered)."""
    spec = line.spec.callbacks
    assert spec is not None, f"line {line.id} offers callbacks without 'callbacks:'"
    return spec


def _zone(line: Line) -> ZoneInfo:
    """The line's time zone."""
    return ZoneInfo(line.spec.timezone)


def _minute(local: datetime) -> float:
    """Minutes since local midnight."""
    return local.hour * 60 + local.minute + local.second / 60


def _wall(day: date, minutes: float, tz: ZoneInfo) -> datetime:
    """The local wall-clock moment `minutes` after midnight of `day`."""
    return datetime.combine(day, time(0), tzinfo=tz) + timedelta(minutes=minutes)
