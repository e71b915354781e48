"""The dashboard's figures, computed from the call events every worker writes (not logs).

Calls per line, per hour and per day, how far callers got, and priority-1 calls answered; and
callbacks by severity against their targets (from the callbacks table).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ivr.core.lines import Line
from ivr.core.menu_file import DialNode, MenuNode, QueueNode
from ivr.core.navigator import CALLER_GONE

DAYS = 7
WAITING = {"menu", "repeat", "invalid"}


@dataclass
class Call:
    """One call's events, in time order."""

    sid: str
    line: str
    events: list[tuple[datetime, str | None, str]] = field(default_factory=list)


@dataclass
class Figures:
    """Everything the dashboard draws, for today and the last DAYS days."""

    today: date
    calls_today: dict[str, int]
    calls_week: dict[str, int]
    per_hour: list[int]
    per_day: list[tuple[date, int]]
    reached: list[tuple[str, int]]
    left_in_queue: int
    left_in_menu: int
    priority_calls: int
    priority_answered: int


def window(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, datetime]:
    """The start of the 7 days, the start of today (local midnight) and now."""
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=DAYS - 1), today, now


def calls_of(rows: Iterable[Any]) -> list[Call]:
    """Group event rows (at, call_sid, line, node, outcome) by call.

    Events with no call or line (an unknown number) are left out.
    """
    calls: dict[str, Call] = {}
    for at, sid, line, node, outcome in rows:
        if not sid or not line:
            continue
        call = calls.setdefault(sid, Call(sid, line))
        call.events.append((at, node, outcome))
    return list(calls.values())


def compute(rows: Iterable[Any], lines: Mapping[str, Line], now: datetime,
            zone: ZoneInfo) -> Figures:
    """The figures of the events in the 7-day window ending `now` (days in `zone`)."""
    week_start, today_start, _ = window(now, zone)
    calls = [c for c in calls_of(rows) if c.events and c.events[0][0] >= week_start]
    today_calls = [c for c in calls if c.events[0][0] >= today_start]
    per_hour = [0] * 24
    for call in today_calls:
        per_hour[call.events[0][0].astimezone(zone).hour] += 1
    days = Counter(c.events[0][0].astimezone(zone).date() for c in calls)
    first = week_start.date()
    reached: Counter[str] = Counter()
    for call in calls:
        for node in {f"{call.line}/{n}" for _, n, _ in call.events if n}:
            reached[node] += 1
    priority = [c for c in calls if _touches_priority(c, lines.get(c.line))]
    return Figures(
        today=today_start.date(),
        calls_today=dict(Counter(c.line for c in today_calls)),
        calls_week=dict(Counter(c.line for c in calls)),
        per_hour=per_hour,
        per_day=[(first + timedelta(days=i), days.get(first + timedelta(days=i), 0))
                 for i in range(DAYS)],
        reached=reached.most_common(),
        left_in_queue=sum(_left_in(c, lines.get(c.line), QueueNode) for c in calls),
        left_in_menu=sum(_left_in(c, lines.get(c.line), MenuNode) for c in calls),
        priority_calls=len(priority),
        priority_answered=sum(any(_is_priority(lines.get(c.line), n) and o == "answered"
                                  for _, n, o in c.events) for c in priority),
    )


def _left_in(call: Call, line: Line | None, kind: type) -> bool:
    """Whether the caller's last event leaves them waiting (or hanging up) in a node of `kind`.

    A menu waiting for keys, a queue they left.
    """
    if line is None:
        return False
    _, node, outcome = call.events[-1]
    if not isinstance(line.spec.nodes.get(node or ""), kind):
        return False
    last = outcome.split(":")[-1]
    return last in WAITING if kind is MenuNode else last in {CALLER_GONE, "queue"}


def _is_priority(line: Line | None, node: str | None) -> bool:
    """Whether `node` is a dial node that rings who is on call (priority 1)."""
    if line is None or not node:
        return False
    spec = line.spec.nodes.get(node)
    return isinstance(spec, DialNode) and any(s.on_call for s in line.chains.get(node, ()))


def _touches_priority(call: Call, line: Line | None) -> bool:
    """Whether the call reached a priority-1 node."""
    return any(_is_priority(line, n) for _, n, _ in call.events)


def per_line_table(figures: Figures) -> list[tuple[str, int, int]]:
    """(line, today, 7 days) rows, busiest first."""
    totals: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line, count in figures.calls_today.items():
        totals[line][0] = count
    for line, count in figures.calls_week.items():
        totals[line][1] = count
    return sorted(((k, v[0], v[1]) for k, v in totals.items()), key=lambda r: -r[2])


@dataclass(frozen=True)
class SeverityFigures:
    """Callbacks of one severity of one line in a window: asked, reached, how fast, how late.

    Times run from the request to the callback's close as done (wall clock, in minutes); the
    target is the level's `within_hours`, counted in business hours, so "late" compares each
    callback with its own due time rather than the minutes with the hours.
    """

    line: str
    severity: int
    label: str
    target_hours: float
    requested: int
    reached: int
    median_minutes: float | None
    max_minutes: float | None
    late: int
    overdue: int


def callback_figures(rows: Iterable[Any], lines: Mapping[str, Line], now: datetime,
                     start: datetime) -> list[SeverityFigures]:
    """Per line and severity, the callbacks asked since `start` (rows are Callback rows).

    Reached: done; late: done after its due time; overdue: still open past its due time.
    """
    groups: defaultdict[tuple[str, int], list[Any]] = defaultdict(list)
    for row in rows:
        if row.requested_at >= start and row.severity is not None:
            groups[(row.line, row.severity)].append(row)
    found = []
    for line_id, line in lines.items():
        spec = line.spec.callbacks
        if spec is None:
            continue
        for key, level in sorted(spec.severities.items()):
            found.append(_severity(line_id, int(key), level.label, level.within_hours,
                                   groups.get((line_id, int(key)), []), now))
    return found


def _severity(line: str, severity: int, label: str, target: float, rows: list[Any],
              now: datetime) -> SeverityFigures:
    """The figures of one severity's callbacks."""
    done = [r for r in rows if r.status == "done"]
    minutes = sorted((r.updated_at - r.requested_at).total_seconds() / 60 for r in done)
    return SeverityFigures(
        line=line, severity=severity, label=label, target_hours=target, requested=len(rows),
        reached=len(done), median_minutes=statistics.median(minutes) if minutes else None,
        max_minutes=minutes[-1] if minutes else None,
        late=sum(1 for r in done if r.due_at is not None and r.updated_at > r.due_at),
        overdue=sum(1 for r in rows if r.status in ("pending", "claimed")
                    and r.due_at is not None and r.due_at < now))


def duration(minutes: float | None) -> str:
    """'45 min', '2 h 05 min', '—'."""
    if minutes is None:
        return "—"
    whole = round(minutes)
    return f"{whole} min" if whole < 60 else f"{whole // 60} h {whole % 60:02d} min"
