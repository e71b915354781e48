"""Load menu files into lines: validate everything, name the file and line of every problem."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
import yaml

from ivr.core.hours_speech import describe_week, load_words
from ivr.core.lines import (
    ANALYST_PROMPTS,
    CALLBACK_PROMPTS,
    CASE_PROMPTS,
    SYSTEM_PROMPTS,
    Directory,
    GatherTiming,
    Line,
    Rescue,
)
from ivr.core.menu_file import (
    DialNode,
    LineFile,
    Link,
    MenuNode,
    Model,
    NodeBase,
    QueueNode,
    VoicemailNode,
)
from ivr.core.menu_tree import node_links, prompt_refs, walk
from ivr.core.prompts import Prompt, load_catalog
from ivr.core.rotation import Contact, Handoff, Override, Rotation
from ivr.core.schedule import Schedule, build_calendar, build_weekly, parse_intervals
from ivr.core.wall_clock import WEEKDAYS
from ivr.core.yaml_source import Path_, Source, SourceError, load_source

# How a menu listens (see docs/menus.md, "Time on the phone"): a menu whose keys all lead to
# an end waits only for one key; a menu with sub-menus also takes the next level's key typed
# ahead, at the cost of a short wait for that second key: 1 s (Twilio's shortest timeout),
# which still catches "25" pressed in one go (two keys about a third of a second apart).
TYPE_AHEAD = 2
FIRST_KEY_SECONDS = 5
NEXT_KEY_SECONDS = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a menu file, at a line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        """Format as `file:line: message`, the form editors and CI logs link to."""
        return f"{self.file}:{self.line}: {self.message}"


class MenuError(ValueError):
    """A menu file (or several) that must not be served; lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        """Keep the problems; the message lists them one per line."""
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_directory(
    menu_dir: Path, prompt_dir: Path, default_line: str | None = None
) -> Directory:
    """Load every `*.yaml` in `menu_dir`; raise MenuError listing all problems of all files."""
    files = sorted(menu_dir.glob("*.yaml"))
    if not files:
        raise MenuError([Problem(str(menu_dir), 0, "no menu files (*.yaml) here")])
    lines, by_number, problems = load_files(files, prompt_dir)
    if default_line and default_line not in lines and not problems:
        problems.append(Problem(str(menu_dir), 0, f"default line {default_line!r} is not loaded"))
    if problems:
        raise MenuError(problems)
    return Directory(lines, by_number, default_line)


def load_files(
    paths: list[Path], prompt_dir: Path
) -> tuple[dict[str, Line], dict[str, Line], list[Problem]]:
    """Load each file; return the good lines by id and by number, and every problem found.

    Two files claiming one id or one number is a problem too.
    """
    problems: list[Problem] = []
    lines: dict[str, Line] = {}
    by_number: dict[str, Line] = {}
    for path in paths:
        try:
            line = load_line(path, prompt_dir)
        except MenuError as e:
            problems.extend(e.problems)
            continue
        problems.extend(_clashes(line, lines, by_number))
        lines[line.id] = line
        by_number.update((n, line) for n in line.spec.numbers)
    return lines, by_number, problems


def _clashes(line: Line, lines: Mapping[str, Line], by_number: Mapping[str, Line]) -> list[Problem]:
    """Refuse a line id or a number that another file already claims."""
    clashing = [(i, n) for i, n in enumerate(line.spec.numbers) if n in by_number]
    if line.id not in lines and not clashing:
        return []
    line_of = load_source(Path(line.file)).line_of  # loaded just before: read it for its lines
    problems = []
    if line.id in lines:
        problems.append(Problem(line.file, line_of(("id",)), f"line id {line.id!r} is also "
                                                             f"used by {lines[line.id].file}"))
    for i, number in clashing:
        problems.append(Problem(line.file, line_of(("numbers", i)), f"number {number} is also "
                                f"answered by {by_number[number].file}"))
    return problems


def load_line(path: Path, prompt_dir: Path) -> Line:
    """Load and check one menu file; raise MenuError naming every problem's line."""
    try:
        source = load_source(path)
    except SourceError as e:
        raise MenuError([Problem(e.file, e.line, e.message)]) from e
    except OSError as e:
        raise MenuError([Problem(str(path), 0, f"cannot read: {e}")]) from e
    spec = _validate_model(source)
    checker = _Checker(source, spec, prompt_dir)
    line = checker.build()
    if checker.problems:
        raise MenuError(checker.problems)
    assert line is not None
    return line


def _validate_model(source: Source) -> LineFile:
    """Validate the document against the file model, mapping each error to its line."""
    data = source.data
    if not isinstance(data, dict):
        raise MenuError([Problem(source.file, 1, "a menu file must be a mapping (id:, nodes:...)")])
    country = data.get("country") if isinstance(data.get("country"), str) else "ZZ"
    try:
        context = {"country": country, "timezone": data.get("timezone")}
        return LineFile.model_validate(data, context=context)
    except pydantic.ValidationError as e:
        raise MenuError([_problem_from(source, err) for err in e.errors()]) from e


def _problem_from(source: Source, error: Any) -> Problem:
    """Turn one pydantic error into a problem at the line of the key it is about."""
    path: Path_ = ()
    for part in error["loc"]:
        key = part if isinstance(part, int) else str(part)
        if (*path, key) in source.lines:
            path = (*path, key)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        unknown = str(error["loc"][-1])
        message = f"unknown key {unknown!r}" + _did_you_mean(unknown, _FIELD_NAMES)
    elif error["type"] == "union_tag_invalid":
        tag = (error.get("ctx") or {}).get("tag")
        message = f"unknown node type {tag!r}; use one of {', '.join(_NODE_TYPES)}"
        if (*path, "type") in source.lines:
            path = (*path, "type")
    elif error["type"] == "missing":
        message = f"missing required key {str(error['loc'][-1])!r}"
    where = ".".join(str(p) for p in path)
    return Problem(source.file, source.line_of(path), f"{where}: {message}" if where else message)


def _all_field_names() -> tuple[str, ...]:
    """Every key the menu format knows, for 'did you mean' hints."""
    names: set[str] = set()
    for model in Model.__subclasses__() + NodeBase.__subclasses__():
        names.update(model.model_fields)
    return tuple(sorted(names))


_FIELD_NAMES = _all_field_names()
_NODE_TYPES = tuple(
    typing.get_args(model.model_fields["type"].annotation)[0]  # each node class's Literal
    for model in NodeBase.__subclasses__()
)


def _did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """A ' (did you mean ...?)' hint, or nothing when no choice is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Checker:
    """The checks that need the whole file: links, prompts, schedules, reachability, loops."""

    def __init__(self, source: Source, spec: LineFile, prompt_dir: Path) -> None:
        """Check `spec`, read from `source`, against the prompts in `prompt_dir`."""
        self.source, self.spec, self.prompt_dir = source, spec, prompt_dir
        self.problems: list[Problem] = []

    def error(self, path: Path_, message: str) -> None:
        """Record a problem at the line of `path`."""
        where = ".".join(str(p) for p in path)
        self.problems.append(Problem(self.source.file, self.source.line_of(path),
                                     f"{where}: {message}"))

    def build(self) -> Line | None:
        """Run every check and assemble the line (None when a check failed)."""
        prompts = self._prompts()
        tz = self._zone(self.spec.timezone, ("timezone",))
        schedules, hours_text = self._schedules(tz)
        rotations = self._rotations(tz)
        self._callbacks()
        self._links()
        self._back_key()
        self._reachable()
        self._no_automatic_loop()
        rescue = self._rescue(schedules)
        if self.problems:
            return None
        return Line(
            spec=self.spec,
            file=self.source.file,
            schedules=schedules,
            hours_text=hours_text,
            prompts=prompts,
            parents=_menu_parents(self.spec),
            timing=_gather_timing(self.spec),
            rotations=rotations,
            source=self.source,
            chains={node_id: tuple(node.chain()) for node_id, node in self.spec.nodes.items()
                    if isinstance(node, DialNode)},
            rescue=rescue,
            words=self._words(),
        )

    def _rescue(self, schedules: dict[str, Schedule]) -> Rescue | None:
        """Check `fallback_url` (people at both ends) and keep what the fallback needs."""
        spec = self.spec.fallback_url
        if spec is None:
            return None
        nodes = self.spec.nodes
        for key, target in (("in_hours", spec.in_hours), ("after_hours", spec.after_hours)):
            path: Path_ = ("fallback_url", key)
            node = nodes.get(target)
            if node is None:
                self.error(path, f"no node {target!r}{_did_you_mean(target, list(nodes))}")
            elif key == "in_hours" and not isinstance(node, QueueNode | DialNode):
                self.error(path, f"{target!r} is a {node.type} node; a caller whose webhook "
                                 "failed goes to people: name a queue or dial node")
            elif key == "after_hours" and (not isinstance(node, DialNode) or node.hours):
                self.error(path, f"{target!r} must ring people at any hour: name a dial node "
                                 "without 'hours' (the on-call chain)")
        hours = getattr(nodes.get(spec.in_hours), "hours", None)
        return Rescue(spec.in_hours, spec.after_hours, schedules.get(hours) if hours else None)

    def _words(self) -> dict[str, Any]:
        """The words times are said with (read before, in `_schedules`: known to load)."""
        return load_words(self.prompt_dir / self.spec.language / "hours.yaml")

    def _callbacks(self) -> None:
        """A node that offers callbacks needs the line's `callbacks:` (levels, hours)."""
        spec = self.spec.callbacks
        if spec is not None and spec.hours and spec.hours not in self.spec.schedules:
            hint = _did_you_mean(spec.hours, list(self.spec.schedules))
            self.error(("callbacks", "hours"), f"no schedule {spec.hours!r}{hint}")
        for node_id, node in self.spec.nodes.items():
            offers = (isinstance(node, QueueNode) and node.callback is not None) or (
                isinstance(node, VoicemailNode) and node.callback)
            if offers and spec is None:
                self.error(("nodes", node_id, "callback"), "callbacks need the line's "
                           "'callbacks:' (severity levels and their due times)")

    def _prompts(self) -> dict[str, Prompt]:
        """Load the line's language and check that every prompt it names exists."""
        try:
            catalog = load_catalog(self.prompt_dir, self.spec.language)
        except (ValueError, OSError) as e:
            self.error(("language",), str(e))
            return {}
        uses_cases = any(n.type in ("new_case", "case_lookup") for n in self.spec.nodes.values())
        uses_callbacks = self.spec.callbacks is not None
        for prompt_id in (SYSTEM_PROMPTS + (CASE_PROMPTS if uses_cases else ())
                          + (CALLBACK_PROMPTS if uses_callbacks else ())
                          + (ANALYST_PROMPTS if self.spec.analysts is not None else ())):
            if prompt_id not in catalog:
                self.error(("language",), f"voice_prompts/{self.spec.language} lacks the "
                                          f"service prompt {prompt_id!r}")
        catalog = self._overridden(catalog)
        for path, prompt_id in prompt_refs(self.spec):
            if prompt_id not in catalog:
                hint = _did_you_mean(prompt_id, list(catalog))
                self.error(path, f"no prompt {prompt_id!r} in voice_prompts/"
                                 f"{self.spec.language}{hint}")
        return catalog

    def _overridden(self, catalog: dict[str, Prompt]) -> dict[str, Prompt]:
        """The line's own wording of service prompts (`prompts: {festivo: cco_feriado}`)."""
        own = dict(catalog)
        for service_id, prompt_id in self.spec.prompts.items():
            path: Path_ = ("prompts", service_id)
            if service_id not in SYSTEM_PROMPTS + CASE_PROMPTS:
                hint = _did_you_mean(service_id, list(SYSTEM_PROMPTS + CASE_PROMPTS))
                self.error(path, f"{service_id!r} is not a service prompt{hint}")
            elif prompt_id not in catalog:
                self.error(path, f"no prompt {prompt_id!r} in voice_prompts/"
                                 f"{self.spec.language}{_did_you_mean(prompt_id, list(catalog))}")
            else:
                own[service_id] = catalog[prompt_id]
        return own

    def _schedules(self, line_tz: ZoneInfo | None) -> tuple[dict[str, Schedule], dict[str, str]]:
        """Build each schedule (time zone, holidays) and the sentence that says its hours."""
        schedules: dict[str, Schedule] = {}
        texts: dict[str, str] = {}
        try:
            words = load_words(self.prompt_dir / self.spec.language / "hours.yaml")
        except (OSError, ValueError, yaml.YAMLError) as e:
            self.error(("language",), f"cannot read the words hours are said with: {e}")
            return schedules, texts
        for sched_id, spec in self.spec.schedules.items():
            path: Path_ = ("schedules", sched_id)
            tz = self._zone(spec.timezone, (*path, "timezone")) if spec.timezone else line_tz
            try:
                countries = spec.holidays if spec.holidays is not None else [self.spec.country]
                calendar = build_calendar(countries, spec.subdivision, self.spec.language)
                _fill_calendar(calendar)
            except (ValueError, NotImplementedError) as e:
                self.error((*path, "holidays"), str(e))
                continue
            if tz is None:
                continue
            weekly = build_weekly(spec.weekly)
            schedules[sched_id] = Schedule(
                tz=tz,
                weekly=weekly,
                holidays=calendar,
                closed_dates=frozenset(spec.closed_dates),
                special={d: parse_intervals(h) for d, h in spec.special.items()},
            )
            try:
                texts[sched_id] = describe_week(weekly, words)
            except (KeyError, ValueError, TypeError) as e:
                self.error(("language",), f"hours.yaml cannot say schedule {sched_id!r}: {e}")
        for node_id, node in self.spec.nodes.items():
            for key in ("hours", "say_hours"):
                ref = getattr(node, key, None)
                if ref and ref not in self.spec.schedules:
                    hint = _did_you_mean(ref, list(self.spec.schedules))
                    self.error(("nodes", node_id, key), f"no schedule {ref!r}{hint}")
        return schedules, texts

    def _rotations(self, tz: ZoneInfo | None) -> dict[str, Rotation]:
        """Build each on-call rotation, and check that every chain step names one."""
        rotations: dict[str, Rotation] = {}
        for rotation_id, spec in self.spec.on_call.items():
            path: Path_ = ("on_call", rotation_id)
            roles = [c.role for c in spec.contacts]
            overrides = []
            for i, item in enumerate(spec.overrides):
                if item.contact not in roles:
                    self.error((*path, "overrides", i, "contact"), f"no contact {item.contact!r}"
                               f" in this rotation{_did_you_mean(item.contact, roles)}")
                elif tz is not None:
                    overrides.append(Override(item.start.replace(tzinfo=tz),
                                              item.until.replace(tzinfo=tz),
                                              roles.index(item.contact)))
            if tz is None or len(overrides) != len(spec.overrides):
                continue
            handoff = None
            if spec.handoff is not None:
                hours, minutes = (int(x) for x in spec.handoff.time.split(":"))
                weekday = WEEKDAYS.index(spec.handoff.weekday) if spec.handoff.weekday else 0
                handoff = Handoff(spec.handoff.every, weekday, hours * 60 + minutes)
            rotations[rotation_id] = Rotation(
                contacts=tuple(Contact(c.role, c.number) for c in spec.contacts),
                tz=tz, handoff=handoff, anchor=spec.start, overrides=tuple(overrides),
            )
        for node_id, node in self.spec.nodes.items():
            for i, step in enumerate(node.steps or [] if isinstance(node, DialNode) else []):
                if step.on_call and step.on_call not in self.spec.on_call:
                    hint = _did_you_mean(step.on_call, list(self.spec.on_call))
                    self.error(("nodes", node_id, "steps", i, "on_call"),
                               f"no on_call rotation {step.on_call!r}{hint}")
        return rotations

    def _zone(self, name: str | None, path: Path_) -> ZoneInfo | None:
        """Return the time zone `name`, or record an error naming it."""
        try:
            return ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            self.error(path, f"unknown time zone {name!r}; use an IANA name like "
                             "'America/Bogota'")
            return None

    def _links(self) -> None:
        """Every node a link names must exist; after_hours needs hours."""
        nodes = self.spec.nodes
        for path, target in _links(self.spec):
            if target not in nodes:
                self.error(path, f"no node {target!r}{_did_you_mean(target, list(nodes))}")
        for node_id, node in nodes.items():
            if node.after_hours and not node.hours:
                self.error(("nodes", node_id, "after_hours"),
                           "after_hours is only used with 'hours'; add hours or remove it")

    def _back_key(self) -> None:
        """The key that goes back must not also be a menu option."""
        back = self.spec.back_key
        for node_id, node in self.spec.nodes.items():
            if isinstance(node, MenuNode) and back in node.options:
                self.error(("nodes", node_id, "options", back),
                           f"key {back!r} is the line's back_key; use another key or change "
                           "back_key")

    def _reachable(self) -> None:
        """Every node must be reachable from `start` (an unreachable node is a forgotten one)."""
        if self.spec.start not in self.spec.nodes:
            return  # the missing start is the error; everything "unreachable" follows from it
        starts = [self.spec.start, *self.spec.escalation.values()]
        seen = {reached.node_id for reached in walk(self.spec, starts)}
        for node_id in self.spec.nodes:
            if node_id not in seen:
                self.error(("nodes", node_id), f"node {node_id!r} cannot be reached from "
                                               f"start {self.spec.start!r}")

    def _no_automatic_loop(self) -> None:
        """Links taken without a key press must not loop, or a caller would circle forever."""
        cycle = _find_cycle(_automatic_graph(self.spec))
        if cycle:
            self.error(("nodes", cycle[0]), "these nodes lead to each other without any key "
                                            f"press, so a caller would circle forever: "
                                            f"{' -> '.join(cycle)}")


def _fill_calendar(calendar: Any) -> None:
    """Work out this year's and next year's holidays now, not on some caller's request."""
    if calendar is not None:
        this_year = date.today().year
        for year in (this_year, this_year + 1):
            _ = date(year, 1, 1) in calendar


def _links(spec: LineFile) -> Iterator[tuple[Path_, str]]:
    """Every link written in the file, with where it is written."""
    yield ("start",), spec.start
    if spec.fallback:
        yield ("fallback",), spec.fallback
    for level, target in spec.escalation.items():
        yield ("escalation", str(level)), target
    for node_id, node in spec.nodes.items():
        for link in node.links():
            yield ("nodes", node_id, *link.path), link.target


def _automatic_graph(spec: LineFile) -> dict[str, list[str]]:
    """The links a call follows without a key press."""
    return {
        node_id: [link.target for link in node_links(spec, node)
                  if link.automatic and link.target in spec.nodes]
        for node_id, node in spec.nodes.items()
    }


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str]:
    """Return one cycle of `graph` as a list of nodes (first == last), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str]:
        """Depth-first search from `node`; `path` is the way here."""
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt, [*path, nxt])
                if found:
                    return found
        state[node] = 2
        return []

    for node in graph:
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return []


def _menu_parents(spec: LineFile) -> dict[str, str]:
    """Each menu's parent: the menu whose option first leads to it, breadth-first from `start`."""
    def menu_option(link: Link) -> bool:
        """Whether `link` is a menu option that leads to another menu."""
        return link.path[0] == "options" and isinstance(spec.nodes.get(link.target), MenuNode)

    return {reached.node_id: reached.parent for reached in walk(spec, [spec.start], menu_option)
            if reached.parent is not None}


def _gather_timing(spec: LineFile) -> dict[str, GatherTiming]:
    """Work out each menu's <Gather> numDigits, timeout and pause once, at load time."""
    timing = {}
    for node_id, node in spec.nodes.items():
        if not isinstance(node, MenuNode):
            continue
        has_submenu = any(isinstance(spec.nodes.get(t), MenuNode) for t in node.options.values())
        if has_submenu:
            pause = FIRST_KEY_SECONDS - NEXT_KEY_SECONDS
            timing[node_id] = GatherTiming(TYPE_AHEAD, NEXT_KEY_SECONDS, pause)
        else:
            timing[node_id] = GatherTiming(1, FIRST_KEY_SECONDS, 0)
    return timing
