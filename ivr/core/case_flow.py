"""Case numbers on the phone: pure decisions, like `navigator`, for the two case nodes.

The web layer talks to the database between two decisions: `navigator` plans `OpenCase` or
`FindCase`, the web layer asks the store, and hands the answer (or None when the database is
away) to a function here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ivr.core import callbacks, check_digit
from ivr.core.lines import Line
from ivr.core.menu_file import CaseLookupNode, NewCaseNode
from ivr.core.moment import Moment
from ivr.core.navigator import FindCase, Plan, ReadCase, RecordCase, enter, failed
from ivr.core.prompts import Prompt, spell_digits

MAX_REPEATS = 3
_DIGITS = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class CaseInfo:
    """What a call needs to know about a case."""

    number: str
    status: str
    team: str
    level: int


def opened(line: Line, node_id: str, number: str | None, now: Moment) -> Plan:
    """The store gave this call's case number (None: the database is away)."""
    node = _new_case(line, node_id)
    if node is None:
        return enter(line, line.spec.start, now)
    if number is None:
        plan = enter(line, node.next, now, (line.prompt("caso_no_disponible"),))
        return Plan(plan.prompts, plan.action, plan.node, f"case-unavailable:{plan.outcome}")
    return Plan(read_prompts(line, node, number), ReadCase(node_id, number), node_id,
                "case-opened")


def read_prompts(line: Line, node: NewCaseNode, number: str) -> tuple[Prompt, ...]:
    """'Your case number is 3, 0, 3, ...', then how to hear it again."""
    return (
        line.prompt("caso_numero").format(number=spell_digits(number)),
        line.prompt("caso_repetir").format(key=node.repeat_key),
    )


def renumbered(line: Line, plan: Plan, number: str) -> Plan | None:
    """The same read-back plan for another number; None if `plan` is not one.

    A read-back is a `ReadCase` as `opened` and a repeat make it."""
    action = plan.action
    if not isinstance(action, ReadCase):
        return None
    node = _new_case(line, action.node)
    if node is None or plan != Plan(read_prompts(line, node, action.number), action, plan.node,
                                    plan.outcome):
        return None
    return Plan(read_prompts(line, node, number), replace(action, number=number), plan.node,
                plan.outcome)


def after_reading(
    line: Line, node_id: str, number: str, digits: str | None, repeats: int, now: Moment
) -> Plan:
    """After the number was read: again on the repeat key, else record or go on."""
    node = _new_case(line, node_id)
    if node is None or not check_digit.is_valid(number, len(number)):
        return enter(line, line.spec.start, now)
    if digits and digits[:1] == node.repeat_key and repeats < MAX_REPEATS:
        return Plan(read_prompts(line, node, number), ReadCase(node_id, number, repeats + 1),
                    node_id, "case-repeat")
    if node.record:
        return Plan((line.prompt(node.record_prompt),), RecordCase(node_id, number), node_id,
                    "case-record")
    return _onward(line, node, number, (), now, "case-read")


def recorded(line: Line, node_id: str, number: str, kept: bool, now: Moment) -> Plan:
    """The description was recorded and kept with the case (or not): on to the next step.

    'Your description was saved' is said only when it was: a caller who hears it will not
    repeat it to the analyst.
    """
    node = _new_case(line, node_id)
    if node is None:
        return enter(line, line.spec.start, now)
    said = (line.prompt("caso_descripcion_guardada"),) if kept else ()
    return _onward(line, node, number, said, now, "case-recorded")


def entered(line: Line, node_id: str, digits: str | None, failures: int, now: Moment) -> Plan:
    """The caller typed a case number: refuse a bad check digit before asking the database."""
    node = _lookup(line, node_id)
    if node is None:
        return enter(line, line.spec.start, now)
    number = _DIGITS.sub("", (digits or "")[:32])
    if not number:
        return failed(line, node_id, failures, now, (), "no-input")
    if not check_digit.is_valid(number, line.spec.case_digits):
        return failed(line, node_id, failures, now, (line.prompt("caso_numero_invalido"),),
                      "case-mistyped")
    return Plan((), FindCase(node_id, number, failures), node_id, "case-lookup")


@dataclass(frozen=True)
class PendingCallback:
    """A callback still pending for a case: its id and severity."""

    id: int
    severity: int | None


def found(
    line: Line, node_id: str, number: str, case: CaseInfo | None, failures: int, now: Moment,
    pending: PendingCallback | None = None,
) -> Plan:
    """The store answered a look-up: read the status and route, or ask again.

    A case with a pending callback: the caller is told so and chooses (keep, graver, cancel)
    before going on to the case's team.
    """
    if _lookup(line, node_id) is None:
        return enter(line, line.spec.start, now)
    if case is None:
        return failed(line, node_id, failures, now, (line.prompt("caso_no_encontrado"),),
                      "case-not-found")
    said: tuple[Prompt, ...] = (_found_prompt(line, case.number),)
    status = line.prompts.get(f"caso_estado_{case.status}")  # a status no prompt names: skip
    said += (status,) if status else ()
    if pending is not None and line.spec.callbacks is not None:
        plan = callbacks.pending_offer(line, pending.id, pending.severity, said,
                                       team_of(line, case))
    else:
        plan = enter(line, team_of(line, case), now, said)
    # A pending callback's offer names the callback: its document is that case's alone.
    return Plan(plan.prompts, plan.action, plan.node, f"case-found:{plan.outcome}",
                case.number if pending is None else "")


def _found_prompt(line: Line, number: str) -> Prompt:
    """The prompt that names the case found, its number read digit by digit."""
    return line.prompt("caso_encontrado").format(number=spell_digits(number))


def found_renumbered(line: Line, plan: Plan, number: str) -> Plan | None:
    """The same found-case plan for another case number; None if `plan` is not one.

    A found case's plan says its number in its first prompt only (`found`)."""
    if not plan.case_number or not plan.prompts \
            or plan.prompts[0] != _found_prompt(line, plan.case_number):
        return None
    return replace(plan, prompts=(_found_prompt(line, number), *plan.prompts[1:]),
                   case_number=number)


def lookup_unavailable(line: Line, node_id: str, now: Moment) -> Plan:
    """The database is away: say so, and go to the look-up's fallback (usually the team)."""
    node = _lookup(line, node_id)
    target = node.fallback if node else line.spec.start
    plan = enter(line, target, now, (line.prompt("caso_consulta_no_disponible"),))
    return Plan(plan.prompts, plan.action, plan.node, f"case-unavailable:{plan.outcome}")


def team_of(line: Line, case: CaseInfo) -> str:
    """Where a case belongs now: its escalation level's node, else the team that opened it."""
    node = line.spec.escalation.get(case.level) if case.level > 1 else None
    if node is None and case.level > 1 and line.spec.escalation:
        node = line.spec.escalation[max(line.spec.escalation)]
    target = node or case.team
    return target if target in line.spec.nodes else line.spec.fallback or line.spec.start


def team_for_new(line: Line, node_id: str) -> str:
    """The team a new case from `node_id` belongs to."""
    node = _new_case(line, node_id)
    return (node.team or node.next) if node else line.spec.start


def _onward(
    line: Line, node: NewCaseNode, number: str, said: tuple[Prompt, ...], now: Moment,
    outcome: str,
) -> Plan:
    """The new-case node is done: on to its next step (who answers hears the case number)."""
    case = number if check_digit.is_valid(number, line.spec.case_digits) else None
    plan = enter(line, node.next, now, said, case=case)
    return Plan(plan.prompts, plan.action, plan.node, f"{outcome}:{plan.outcome}")


def _new_case(line: Line, node_id: str) -> NewCaseNode | None:
    """The new-case node `node_id`, or None."""
    node = line.spec.nodes.get(node_id)
    return node if isinstance(node, NewCaseNode) else None


def _lookup(line: Line, node_id: str) -> CaseLookupNode | None:
    """The case look-up node `node_id`, or None."""
    node = line.spec.nodes.get(node_id)
    return node if isinstance(node, CaseLookupNode) else None
