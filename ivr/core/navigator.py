"""Where a call goes next: pure decisions over a loaded line, the time and what the caller did.

Nothing here knows HTTP or TwiML. Each function returns a `Plan`: what to say, then one action
(listen for keys in a menu, dial, queue, play hold music, or hang up). `ivr.twiml` renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ivr.core.lines import Line
from ivr.core.menu_file import (
    AnnouncementNode,
    CaseLookupNode,
    DialNode,
    HangupNode,
    MenuNode,
    NewCaseNode,
    Node,
    QueueNode,
    Target,
    VoicemailNode,
)
from ivr.core.moment import Moment
from ivr.core.prompts import Prompt, spell_digits
from ivr.core.wait_speech import wait_prompts

MAX_KEYS = 32  # more keys than any menu path or case number: the rest is noise
ANSWERED = frozenset({"completed", "answered"})
QUEUE_DONE = frozenset({"bridged", "hangup"})
_NOT_KEYS = re.compile(r"[^0-9*#]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
CALLER_GONE = "caller-hung-up"
CHAIN_MAX_SECONDS = 4 * 3600  # a chain's start older than this in a URL is not believed
_ANNOTATION = re.compile(r"\s*\([^)]*\)")  # "Día de San José (observado)": not said aloud


@dataclass(frozen=True)
class Gather:
    """Play a menu inside a <Gather>; `failures` counts wrong or missing keys so far."""

    node: str
    failures: int = 0


@dataclass(frozen=True)
class Dial:
    """Ring one step of a dial node's chain: these targets at once, for `timeout` seconds."""

    node: str
    step: int
    targets: tuple[Target, ...]
    timeout: int
    case: str | None = None
    started: int = 0  # when the chain began (Unix minute start): who is on call is fixed then


@dataclass(frozen=True)
class Enqueue:
    """Put the caller in a queue node's queue."""

    node: str


@dataclass(frozen=True)
class Hold:
    """While the caller waits in a queue: the wait message and hold music.

    Inside a one-key <Gather> when the queue offers a callback on `callback_key`.
    """

    node: str
    callback_key: str | None = None


@dataclass(frozen=True)
class Ask:
    """Listen for keys in a <Gather> whose action is the webhook `hook` with the route `values`.

    `hook` is a `twiml.Hook` value; silence is sent there too, with no Digits.
    """

    hook: str
    values: tuple[tuple[str, str | int], ...]
    num_digits: int = 1
    timeout: int = 5
    finish_on_key: str = ""


@dataclass(frozen=True)
class BridgeQueue:
    """An analyst takes the caller at the front of a queue node's queue (`<Dial><Queue>`).

    The dial's action is the analyst webhook `hook` with `values`.
    """

    node: str
    hook: str
    values: tuple[tuple[str, str | int], ...]


@dataclass(frozen=True)
class JoinRoom:
    """Into the conference room of an analyst and the one caller taken (`<Dial><Conference>`).

    With `hook`, the dial's action is that webhook with `values` (the analyst's side).
    """

    room: str
    hook: str | None = None
    values: tuple[tuple[str, str | int], ...] = ()


@dataclass(frozen=True)
class CallCustomer:
    """An analyst calls a customer back, the line's number as caller ID."""

    number: str
    hook: str
    values: tuple[tuple[str, str | int], ...]


@dataclass(frozen=True)
class Leave:
    """Take the caller out of the queue (waited too long)."""


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class CallerGone:
    """The caller hung up before anyone took the call: kept as a missed call, then the end."""

    node: str


@dataclass(frozen=True)
class TakeMessage:
    """Record a message for nobody-answered calls (kept as a missed call first)."""

    node: str


@dataclass(frozen=True)
class OpenCase:
    """Ask the case store for this call's case (the web layer does, then `case_flow.opened`)."""

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
    """Look up case `number` (the web layer does, then `case_flow.found`)."""

    node: str
    number: str
    failures: int = 0


Action = (
    Gather | Dial | Enqueue | Hold | Leave | Hangup | OpenCase | ReadCase | RecordCase | AskCase
    | FindCase | TakeMessage | CallerGone | Ask | BridgeQueue | JoinRoom | CallCustomer
)


@dataclass(frozen=True)
class Plan:
    """What the caller hears, then what happens; `node` and `outcome` go to the call log.

    `case_number`: the case number it reads out, where the same plan for another case
    differs only in that number (a found case's; "" otherwise): a hint that its document can
    be written from one template for all of them."""

    prompts: tuple[Prompt, ...]
    action: Action
    node: str
    outcome: str
    case_number: str = ""


def incoming(line: Line, now: Moment) -> Plan:
    """A new call: the welcome, then the start node."""
    welcome = (line.prompt(line.spec.welcome),) if line.spec.welcome else ()
    return enter(line, line.spec.start, now, welcome)


def enter(
    line: Line, node_id: str, now: Moment, said: tuple[Prompt, ...] = (),
    case: str | None = None,
) -> Plan:
    """Go into `node_id`: check its hours, then play, ring, queue or hang up."""
    seen: set[str] = set()
    while node_id not in seen:
        seen.add(node_id)
        node = line.spec.nodes.get(node_id)
        if node is None:
            return _goodbye(line, said, node_id, "unknown-node")
        closed = _closed(line, node_id, node, now)
        if closed is not None:
            said += closed
            if not node.after_hours:
                return _goodbye(line, said, node_id, "closed")
            node_id = node.after_hours
            continue
        if isinstance(node, MenuNode):
            return Plan(said, Gather(node_id), node_id, "menu")
        if isinstance(node, DialNode):
            said += _optional(line, node.prompt)
            started = int(now.at.timestamp()) // 60 * 60
            return Plan(said, _dial_step(line, node_id, 0, started, case, now), node_id, "dial")
        if isinstance(node, VoicemailNode):
            return Plan(said + (line.prompt(node.prompt),), TakeMessage(node_id), node_id,
                        "voicemail")
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


def rescue(line: Line, now: datetime) -> Plan:
    """A webhook failed and Twilio asked the fallback URL: say sorry, then the safest people.

    From the file alone (the in-hours node's schedule; overrides live in the database, which
    may be what failed): its support node in hours, its on-call chain after.
    """
    sorry = (line.prompt("disculpa_fallo"),)
    plan = line.rescue
    if plan is None:
        return _goodbye(line, (line.prompt("error_tecnico"),), line.spec.start, "fallback-none")
    in_hours = plan.schedule is None or plan.schedule.status(now).open
    node = plan.in_hours if in_hours else plan.after_hours
    entered = enter(line, node, Moment(now, ()), sorry)
    return Plan(entered.prompts, entered.action, entered.node, f"fallback-{entered.outcome}")


def press(line: Line, node_id: str, digits: str | None, failures: int, now: Moment) -> Plan:
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
        if key == line.spec.back_key:  # ("none" is no key at all)
            plan = enter(line, line.parents.get(node_id, node_id), now)
            return Plan(plan.prompts, plan.action, plan.node, f"back:{plan.outcome}")
        target = menu.options.get(key)
        if target is None:
            invalid = (line.prompt("opcion_no_valida"),)
            return failed(line, node_id, failures, now, invalid, "invalid")
        more = position + 1 < len(keys)
        next_menu = line.menu(target)
        if more and next_menu is not None and _open(line, target, next_menu, now):
            node_id, menu, failures = target, next_menu, 0
            continue
        return enter(line, target, now)
    return Plan((), Gather(node_id, failures), node_id, "menu")


def dial_ended(
    line: Line, node_id: str, step: int, status: str | None, bridged: str | None, now: Moment,
    case: str | None = None, started: int | None = None, caller_gone: bool = False,
) -> Plan:
    """A <Dial> step ended: done if a person took the call, else the next step or no-answer.

    `caller_gone`: the caller hung up while it rang (Twilio's CallStatus is then
    "completed"); nobody took the call, and there is no one left to ring for.

    With screening, only a bridged call counts: a voicemail or a callee who did not accept
    answered the leg but was never connected (Twilio's DialBridged is "false").
    """
    node = line.spec.nodes.get(node_id)
    if not isinstance(node, DialNode):
        return enter(line, line.spec.start, now)
    taken = bridged == "true" or (bridged is None and status in ANSWERED)
    if taken:
        return Plan((), Hangup(), node_id, "answered")
    if caller_gone:
        return Plan((), CallerGone(node_id), node_id, CALLER_GONE)
    chain = line.chains[node_id]
    why = f"{status or 'unknown'}{'-not-accepted' if status in ANSWERED else ''}"
    if 0 <= step < len(chain) - 1:
        # The chain keeps the rotation as it stood when it began: a hand-off between two
        # steps must not ring the same person twice and skip the other.
        now_s = int(now.at.timestamp())
        began = started if started and now_s - CHAIN_MAX_SECONDS <= started <= now_s else now_s
        return Plan((), _dial_step(line, node_id, step + 1, began // 60 * 60, case,
                                       now), node_id,
                    f"no-answer:{why}")
    plan = _nobody(line, node_id, node.on_no_answer, now)
    return Plan(plan.prompts, plan.action, plan.node, f"chain-failed:{why}:{plan.outcome}")


def message_taken(
    line: Line, node_id: str, got_audio: bool, now: Moment, kept: bool = True
) -> Plan:
    """After the voice message: thanks if it was kept, then the next node or goodbye.

    The thanks only if it was kept; the truth if it could not be."""
    node = line.spec.nodes.get(node_id)
    if not isinstance(node, VoicemailNode):
        return enter(line, line.spec.start, now)
    said = (line.prompt("mensaje_guardado" if kept else "mensaje_no_guardado"),) \
        if got_audio else ()
    taken = "message-taken" if kept else "message-lost"
    if node.next is None:
        return _goodbye(line, said, node_id, taken if got_audio else "no-message")
    plan = enter(line, node.next, now, said)
    return Plan(plan.prompts, plan.action, plan.node, f"{taken}:{plan.outcome}")


def screen_prompt(line: Line, node_id: str, case: str | None) -> Prompt:
    """What the person called hears before the caller is put through."""
    node = line.spec.nodes.get(node_id)
    prompt_id = node.screen if isinstance(node, DialNode) and node.screen else "filtro"
    text = line.prompt(prompt_id).format(line=line.spec.name).text
    if case:
        text += " " + line.prompt("filtro_caso").format(number=spell_digits(case)).text
    return Prompt(prompt_id, text)


def screen_seconds(line: Line, node_id: str) -> int:
    """How long the person called has to accept."""
    node = line.spec.nodes.get(node_id)
    return node.screen_seconds if isinstance(node, DialNode) else 10


def screen_answered(digits: str | None) -> bool:
    """Whether the person called accepted the call (pressed 1)."""
    return (digits or "")[:1] == "1"


def _dial_step(
    line: Line, node_id: str, step: int, started: int, case: str | None, now: Moment
) -> Dial:
    """The targets of one step, with who was on call when the chain `started`."""
    node = line.spec.nodes[node_id]
    assert isinstance(node, DialNode)
    spec = line.chains[node_id][step]
    if spec.on_call is not None:
        order = now.rotation(line, spec.on_call).order(datetime.fromtimestamp(started, UTC))
        contact = order[min(spec.next, len(order) - 1)]
        # the number was checked when the file loaded: no need to parse it again per call
        targets: tuple[Target, ...] = (
            Target.model_construct(number=contact.number, extension=None, sip=None,
                                   label=contact.role),)
    else:
        targets = tuple(spec.targets or ())
    return Dial(node_id, step, targets, spec.timeout or node.timeout, case, started)


def queue_ended(line: Line, node_id: str, result: str | None, now: Moment) -> Plan:
    """The caller left the queue: done if connected, else the queue's no-answer branch."""
    node = line.spec.nodes.get(node_id)
    if not isinstance(node, QueueNode):
        return enter(line, line.spec.start, now)
    if result == "hangup":  # gave up waiting: nobody took the call
        return Plan((), CallerGone(node_id), node_id, CALLER_GONE)
    if result in QUEUE_DONE:
        return Plan((), Hangup(), node_id, f"queue-{result}")
    return _nobody(line, node_id, node.on_no_answer, now)


def waiting(
    line: Line, node_id: str, queue_seconds: str | None, position: str | None = None,
    average: str | None = None,
) -> Plan:
    """The caller is waiting in a queue: what they hear, or out after the longest wait.

    Their place and wait, the wait message and music (and the callback offer).
    """
    node = line.spec.nodes.get(node_id)
    if not isinstance(node, QueueNode):
        return Plan((), Leave(), node_id, "leave-unknown-node")
    waited = parse_count(queue_seconds, limit=86_400, width=6)
    if waited >= node.max_wait:
        return Plan((), Leave(), node_id, "leave-max-wait")
    said = wait_prompts(line, parse_count(position, limit=9999, width=4),
                        parse_count(average, limit=86_400, width=6), waited)
    said += (line.prompt(node.wait_prompt or "espera"),)
    offer = node.callback
    if offer is None:
        return Plan(said, Hold(node_id), node_id, "hold")
    long_wait = waited >= offer.offer_after
    said += (line.prompt("devolucion_oferta_larga" if long_wait else "devolucion_oferta")
             .format(key=offer.key),)
    return Plan(said, Hold(node_id, offer.key), node_id, "hold-callback-offered")


def parse_count(text: str | None, limit: int = 99, width: int = 3) -> int:
    """Read a small counter from a URL or parameter; garbage (or '²') counts as 0."""
    if not text or len(text) > width or not _ASCII_DIGITS.fullmatch(text):
        return 0
    return min(int(text), limit)


def _open(line: Line, node_id: str, menu: MenuNode, now: Moment) -> bool:
    """Whether a menu is open now (a menu without hours always is, unless overridden)."""
    return _closed(line, node_id, menu, now) is None


def _closed(line: Line, node_id: str, node: Node, now: Moment) -> tuple[Prompt, ...] | None:
    """None when the node is open; else what to say about it being closed."""
    override = now.override_for(node_id, bool(node.hours))
    if override is not None:
        return None if override.open else (line.prompt("cerrado_temporalmente"),)
    schedule = line.schedules.get(node.hours) if node.hours else None
    if schedule is None:
        return None
    status = schedule.status(now.at)
    if status.open:
        return None
    return _closed_prompts(line, node.hours or "", node.closed_prompt, status.holiday)


def failed(
    line: Line, node_id: str, failures: int, now: Moment, said: tuple[Prompt, ...], why: str
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


def _nobody(line: Line, node_id: str, on_no_answer: str | None, now: Moment) -> Plan:
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
