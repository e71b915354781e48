"""Where a call goes next: pure decisions over a loaded line, the time and what the caller did.

Nothing here knows HTTP or TwiML. Each function returns a `Plan`: what to say, then one action
(listen for keys in a menu, dial, queue, play hold music, or hang up). `ivr.twiml` renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ivr.lines import Line
from ivr.menu_model import (
    AnnouncementNode,
    CaseLookupNode,
    DialNode,
    HangupNode,
    MenuNode,
    NewCaseNode,
    QueueNode,
)
from ivr.prompts import Prompt

MAX_KEYS = 32  # more keys than any menu path or case number: the rest is noise
ANSWERED = frozenset({"completed", "answered"})
QUEUE_DONE = frozenset({"bridged", "hangup"})
_NOT_KEYS = re.compile(r"[^0-9*#]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_ANNOTATION = re.compile(r"\s*\([^)]*\)")  # "Día de San José (observado)": not said aloud


@dataclass(frozen=True)
class Gather:
    """Play a menu inside a <Gather>; `failures` counts wrong or missing keys so far."""

    node: str
    failures: int = 0


@dataclass(frozen=True)
class Dial:
    """Ring a dial node's targets: one of them (`index`), or all at once (`index` = -1)."""

    node: str
    index: int = 0


@dataclass(frozen=True)
class Enqueue:
    """Put the caller in a queue node's queue."""

    node: str


@dataclass(frozen=True)
class Hold:
    """While the caller waits in a queue: the wait message and hold music."""

    node: str


@dataclass(frozen=True)
class Leave:
    """Take the caller out of the queue (waited too long)."""


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class OpenCase:
    """Ask the case store for this call's case (the web layer does, then calls `cases`)."""

    node: str


@dataclass(frozen=True)
class ReadCase:
    """Read a case number back inside a one-key <Gather> (the repeat key says it again)."""

    node: str
    number: str
    repeats: int = 0


@dataclass(frozen=True)
class RecordCase:
    """Record the caller's description of the problem for case `number`."""

    node: str
    number: str


@dataclass(frozen=True)
class AskCase:
    """Listen for a case number typed on the keypad, ended by #."""

    node: str
    failures: int = 0


@dataclass(frozen=True)
class FindCase:
    """Look up case `number` (the web layer does, then calls `cases.case_found`)."""

    node: str
    number: str
    failures: int = 0


Action = (
    Gather | Dial | Enqueue | Hold | Leave | Hangup | OpenCase | ReadCase | RecordCase | AskCase
    | FindCase
)


@dataclass(frozen=True)
class Plan:
    """What the caller hears, then what happens; `node` and `outcome` go to the call log."""

    prompts: tuple[Prompt, ...]
    action: Action
    node: str
    outcome: str


def incoming(line: Line, now: datetime) -> Plan:
    """A new call: the welcome, then the start node."""
    welcome = (line.prompt(line.spec.welcome),) if line.spec.welcome else ()
    return enter(line, line.spec.start, now, welcome)


def unknown_line() -> tuple[str, str]:
    """The prompt id and outcome for a call to a number no line answers."""
    return "linea_desconocida", "unknown-line"


def enter(line: Line, node_id: str, now: datetime, said: tuple[Prompt, ...] = ()) -> Plan:
    """Go into `node_id`: check its hours, then play, ring, queue or hang up."""
    seen: set[str] = set()
    while node_id not in seen:
        seen.add(node_id)
        node = line.spec.nodes.get(node_id)
        if node is None:
            return _goodbye(line, said, node_id, "unknown-node")
        schedule = line.schedules.get(node.hours) if node.hours else None
        if schedule is not None:
            status = schedule.status(now)
            if not status.open:
                said += _closed_prompts(line, node.hours or "", node.closed_prompt,
                                        status.holiday)
                if not node.after_hours:
                    return _goodbye(line, said, node_id, "closed")
                node_id = node.after_hours
                continue
        if isinstance(node, MenuNode):
            return Plan(said, Gather(node_id), node_id, "menu")
        if isinstance(node, DialNode):
            said += _optional(line, node.prompt)
            index = 0 if node.ring == "in_turn" else -1
            return Plan(said, Dial(node_id, index), node_id, "dial")
        if isinstance(node, QueueNode):
            return Plan(said + _optional(line, node.prompt), Enqueue(node_id), node_id, "queue")
        if isinstance(node, AnnouncementNode):
            said += (line.prompt(node.prompt),)
            if node.say_hours:
                said += (_hours_prompt(line, node.say_hours),)
            if node.next is None:
                return Plan(said, Hangup(), node_id, "announcement")
            node_id = node.next
            continue
        if isinstance(node, HangupNode):
            return Plan(said + _optional(line, node.prompt), Hangup(), node_id, "hangup")
        if isinstance(node, NewCaseNode):
            return Plan(said + _optional(line, node.prompt), OpenCase(node_id), node_id, "case")
        if isinstance(node, CaseLookupNode):
            return Plan(said, AskCase(node_id), node_id, "ask-case")
    # A loop of automatic links is refused when the file loads; this is the last guard.
    return _goodbye(line, said, node_id, "loop")


def press(line: Line, node_id: str, digits: str | None, failures: int, now: datetime) -> Plan:
    """The caller pressed `digits` (or nothing) in menu `node_id` after `failures` failures."""
    menu = line.menu(node_id)
    if menu is None:
        return enter(line, line.spec.start, now)
    keys = _NOT_KEYS.sub("?", (digits or "")[:MAX_KEYS])
    if not keys:
        return failed(line, node_id, failures, now, (), "no-input")
    for position, key in enumerate(keys):
        if key == "*":
            return Plan((), Gather(node_id, failures), node_id, "repeat")
        if key == line.spec.back_key:
            plan = enter(line, line.parents.get(node_id, node_id), now)
            return Plan(plan.prompts, plan.action, plan.node, f"back:{plan.outcome}")
        target = menu.options.get(key)
        if target is None:
            invalid = (line.prompt("opcion_no_valida"),)
            return failed(line, node_id, failures, now, invalid, "invalid")
        more = position + 1 < len(keys)
        next_menu = line.menu(target)
        if more and next_menu is not None and _open(line, next_menu, now):
            node_id, menu, failures = target, next_menu, 0
            continue
        return enter(line, target, now)
    return Plan((), Gather(node_id, failures), node_id, "menu")


def dial_ended(line: Line, node_id: str, index: int, status: str | None, now: datetime) -> Plan:
    """A <Dial> finished with `status`: done if answered, else the next target or the fallback."""
    node = line.spec.nodes.get(node_id)
    if not isinstance(node, DialNode):
        return enter(line, line.spec.start, now)
    if status in ANSWERED:
        return Plan((), Hangup(), node_id, "answered")
    if node.ring == "in_turn" and 0 <= index < len(node.targets) - 1:
        return Plan((), Dial(node_id, index + 1), node_id, f"no-answer:{status or 'unknown'}")
    return _nobody(line, node_id, node.on_no_answer, now)


def queue_ended(line: Line, node_id: str, result: str | None, now: datetime) -> Plan:
    """The caller left the queue: done if connected, else the queue's no-answer branch."""
    node = line.spec.nodes.get(node_id)
    if not isinstance(node, QueueNode):
        return enter(line, line.spec.start, now)
    if result in QUEUE_DONE:
        return Plan((), Hangup(), node_id, f"queue-{result}")
    return _nobody(line, node_id, node.on_no_answer, now)


def waiting(line: Line, node_id: str, queue_seconds: str | None) -> Plan:
    """The caller is waiting in a queue: hold music, or out after the node's longest wait."""
    node = line.spec.nodes.get(node_id)
    if not isinstance(node, QueueNode):
        return Plan((), Leave(), node_id, "leave-unknown-node")
    waited = parse_count(queue_seconds, limit=86_400, width=6)
    if waited >= node.max_wait:
        return Plan((), Leave(), node_id, "leave-max-wait")
    prompt = line.prompt(node.wait_prompt or "espera")
    return Plan((prompt,), Hold(node_id), node_id, "hold")


def parse_count(text: str | None, limit: int = 99, width: int = 3) -> int:
    """Read a small counter from a URL or parameter; garbage (or '²') counts as 0."""
    if not text or len(text) > width or not _ASCII_DIGITS.fullmatch(text):
        return 0
    return min(int(text), limit)


def _open(line: Line, menu: MenuNode, now: datetime) -> bool:
    """Whether a menu is open now (a menu without hours always is)."""
    schedule = line.schedules.get(menu.hours) if menu.hours else None
    return schedule is None or schedule.status(now).open


def failed(
    line: Line, node_id: str, failures: int, now: datetime, said: tuple[Prompt, ...], why: str
) -> Plan:
    """One more wrong or missing entry: ask again, or the fallback after too many."""
    node = line.spec.nodes.get(node_id)
    if not isinstance(node, MenuNode | CaseLookupNode):
        return enter(line, line.spec.start, now, said)
    limit = node.max_failures or line.spec.max_failures
    failures += 1
    if failures < limit:
        again: Action = Gather(node_id, failures)
        if isinstance(node, CaseLookupNode):
            again = AskCase(node_id, failures)
        return Plan(said, again, node_id, why)
    fallback = node.fallback or line.spec.fallback
    if fallback is None or fallback == node_id:
        return _goodbye(line, said, node_id, f"{why}-limit")
    plan = enter(line, fallback, now, said)
    return Plan(plan.prompts, plan.action, plan.node, f"fallback:{plan.outcome}")


def _nobody(line: Line, node_id: str, on_no_answer: str | None, now: datetime) -> Plan:
    """Nobody took the call: say so, then the node's no-answer branch or goodbye."""
    said = (line.prompt("nadie_disponible"),)
    if on_no_answer is None:
        return _goodbye(line, said, node_id, "no-answer")
    plan = enter(line, on_no_answer, now, said)
    return Plan(plan.prompts, plan.action, plan.node, f"no-answer:{plan.outcome}")


def _closed_prompts(
    line: Line, schedule_id: str, closed_prompt: str | None, holiday: str | None
) -> tuple[Prompt, ...]:
    """'We are closed (today is a holiday)', then the hours, said from the schedule itself."""
    if closed_prompt:
        first = line.prompt(closed_prompt)
    elif holiday:
        first = line.prompt("festivo").format(holiday=_ANNOTATION.sub("", holiday))
    else:
        first = line.prompt("fuera_de_horario")
    return first, _hours_prompt(line, schedule_id)


def _hours_prompt(line: Line, schedule_id: str) -> Prompt:
    """The sentence that says a schedule's hours."""
    return line.prompt("horario").format(hours=line.hours_text[schedule_id])


def _optional(line: Line, prompt_id: str | None) -> tuple[Prompt, ...]:
    """The prompt `prompt_id` as a one-item tuple, or nothing."""
    return (line.prompt(prompt_id),) if prompt_id else ()


def _goodbye(line: Line, said: tuple[Prompt, ...], node_id: str, outcome: str) -> Plan:
    """Say goodbye and hang up."""
    return Plan(said + (line.prompt("despedida"),), Hangup(), node_id, outcome)
