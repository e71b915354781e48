"""What is legal in a menu file but probably a mistake: warnings for `flask ivr validate`."""

from __future__ import annotations

from collections import deque
from datetime import date, timedelta

from ivr.core.lines import Line
from ivr.core.loader import Problem
from ivr.core.menu_file import MenuNode
from ivr.core.menu_tree import prompt_refs
from ivr.core.schedule import Schedule

MAX_OPTIONS = 9
SECONDS_PER_WORD = 0.4  # Polly's Spanish voices say about 150 words a minute
MAX_PROMPT_SECONDS = 25
MAX_KEY_PRESSES = 3
MAX_CLOSED_DAYS = 14
LOOK_AHEAD_DAYS = 365


def warnings(line: Line, today: date) -> list[Problem]:
    """Every warning about `line`, each at its place in the file."""
    return [
        *_many_options(line),
        *_long_prompts(line),
        *_deep_destinations(line),
        *_long_closures(line, today),
    ]


def _warn(line: Line, path: tuple[str | int, ...], message: str) -> Problem:
    """A warning at the line of `path`."""
    where = ".".join(str(p) for p in path)
    return Problem(line.file, line.source.line_of(path), f"warning: {where}: {message}")


def _many_options(line: Line) -> list[Problem]:
    """A menu with more options than a caller can keep in mind."""
    return [
        _warn(line, ("nodes", node_id, "options"), f"{len(node.options)} options; callers "
              f"remember few: more than {MAX_OPTIONS} is too many, split it into sub-menus")
        for node_id, node in line.spec.nodes.items()
        if isinstance(node, MenuNode) and len(node.options) > MAX_OPTIONS
    ]


def _long_prompts(line: Line) -> list[Problem]:
    """A prompt that takes longer than ~25 seconds to say."""
    out = []
    for path, prompt_id in prompt_refs(line.spec):
        seconds = spoken_seconds(line.prompt(prompt_id).text)
        if seconds > MAX_PROMPT_SECONDS:
            out.append(_warn(line, path, f"prompt {prompt_id!r} takes about {seconds:.0f} s to "
                                         f"say (over {MAX_PROMPT_SECONDS} s): shorten it"))
    return out


def spoken_seconds(text: str) -> float:
    """About how long a text takes to say."""
    return len(text.split()) * SECONDS_PER_WORD


def key_presses(line: Line) -> dict[str, int]:
    """The fewest key presses that reach each node from the start."""
    best = {line.spec.start: 0}
    todo = deque([line.spec.start])
    while todo:
        node_id = todo.popleft()
        node = line.spec.nodes[node_id]
        for link in node.links():
            cost = best[node_id] + (0 if link.automatic else 1)
            if link.target in line.spec.nodes and cost < best.get(link.target, 1 << 30):
                best[link.target] = cost
                # a link that costs no key goes first, so counts stay minimal (0-1 BFS)
                todo.appendleft(link.target) if link.automatic else todo.append(link.target)
    return best


def _deep_destinations(line: Line) -> list[Problem]:
    """A destination only reached after four or more key presses."""
    presses = key_presses(line)
    return [
        _warn(line, ("nodes", node_id), f"reached only after {count} key presses; callers "
              f"give up: bring it within {MAX_KEY_PRESSES}")
        for node_id, count in presses.items()
        if count > MAX_KEY_PRESSES and not isinstance(line.spec.nodes[node_id], MenuNode)
    ]


def _long_closures(line: Line, today: date) -> list[Problem]:
    """A schedule closed for more than 14 days in a row in the coming year."""
    out = []
    for schedule_id, schedule in line.schedules.items():
        run = longest_closure(schedule, today, LOOK_AHEAD_DAYS)
        if run is not None and (run[1] - run[0]).days + 1 > MAX_CLOSED_DAYS:
            days = (run[1] - run[0]).days + 1
            out.append(_warn(line, ("schedules", schedule_id), f"closed {days} days in a row, "
                             f"{run[0]} to {run[1]}: is that meant?"))
    return out


def longest_closure(schedule: Schedule, start: date, days: int) -> tuple[date, date] | None:
    """The longest run of whole days the schedule is closed, from `start` on, or None."""
    longest: tuple[date, date] | None = None
    run_start: date | None = None
    for offset in range(days + 1):
        day = start + timedelta(days=offset)
        closed = offset < days and not _opens_on(schedule, day)
        if closed and run_start is None:
            run_start = day
        elif not closed and run_start is not None:
            end = day - timedelta(days=1)
            if longest is None or (end - run_start) > (longest[1] - longest[0]):
                longest = (run_start, end)
            run_start = None
    return longest


def _opens_on(schedule: Schedule, day: date) -> bool:
    """Whether the schedule opens at all on `day` (its local date)."""
    return bool(schedule.hours_on(day))
