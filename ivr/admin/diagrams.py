"""A line's menu tree as a diagram: Mermaid text (GitHub renders it) or Graphviz DOT text.

Pure: a loaded `Line` in, text out. Each node shows the key that leads to it from its parent
menu, its label, its id and type, its hours and where it sends the call; option keys are solid
edges labelled with the digit, links taken without a key press are dashed and say when.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

from ivr.core.lines import Line
from ivr.core.menu_file import (
    AnnouncementNode,
    CaseLookupNode,
    DialNode,
    NewCaseNode,
    NodeBase,
    QueueNode,
    Step,
    Target,
    VoicemailNode,
)
from ivr.core.menu_tree import node_links, walk
from ivr.core.phone import format_international

INBOUND_ID = "inbound"  # the incoming call; node ids are prefixed (`n_`), so it never clashes
WRAP = 44  # characters per line inside a box
HOURS_CHARS = 100  # the spoken hours are cut (at a word) beyond this

KIND_WORDS = {
    "inbound": "llamada entrante",
    "menu": "menú",
    "dial": "marcación",
    "queue": "cola",
    "announcement": "anuncio",
    "hangup": "fin de la llamada",
    "new_case": "nuevo caso",
    "case_lookup": "consulta de caso",
    "voicemail": "buzón de voz",
}
LINK_WORDS = {
    "after_hours": "fuera de horario",
    "on_no_answer": "sin respuesta",
    "next": "después",
    "team": "equipo del caso",
}
# Fill, stroke and text colours per kind (text set, so GitHub's dark theme stays readable).
COLOURS = {
    "inbound": ("#ffffff", "#555555", "#000000"),
    "menu": ("#dbe8fb", "#4a6fa5", "#000000"),
    "dial": ("#fde2c8", "#c0732a", "#000000"),
    "queue": ("#d9f2d9", "#3f8f3f", "#000000"),
    "announcement": ("#fff4c2", "#b39b2e", "#000000"),
    "hangup": ("#eeeeee", "#777777", "#000000"),
    "new_case": ("#e9dcf5", "#7a4fa5", "#000000"),
    "case_lookup": ("#e9dcf5", "#7a4fa5", "#000000"),
    "voicemail": ("#f8d7da", "#a94452", "#000000"),
}
MERMAID_SHAPES = {
    "inbound": ('(["', '"])'),
    "menu": ('["', '"]'),
    "dial": ('[["', '"]]'),
    "queue": ('[("', '")]'),
    "announcement": ('>"', '"]'),
    "hangup": ('(("', '"))'),
    "new_case": ('{{"', '"}}'),
    "case_lookup": ('{{"', '"}}'),
    "voicemail": ('[/"', '"/]'),
}
DOT_SHAPES = {
    "inbound": "oval",
    "menu": "box",
    "dial": "box3d",
    "queue": "cylinder",
    "announcement": "note",
    "hangup": "octagon",
    "new_case": "hexagon",
    "case_lookup": "hexagon",
    "voicemail": "tab",
}
# Mermaid reads `#name;` as an entity, so `#` goes first; the rest would end or bend a label.
_MERMAID_ESCAPES = (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"),
                    ("|", "#124;"), ("`", "#96;"))


@dataclass(frozen=True)
class Box:
    """One node of the diagram: its diagram id, its kind and the lines of its label."""

    id: str
    kind: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Edge:
    """One arrow: a key press (solid, the digit) or a link taken by itself (dashed)."""

    source: str
    target: str
    label: str
    dashed: bool


def graph_id(node_id: str) -> str:
    """The diagram id of a menu node (prefixed, so ids like `end` or `graph` are safe)."""
    return f"n_{node_id}"


def to_mermaid(line: Line) -> str:
    """The line's menu tree as a Mermaid flowchart."""
    out = ["flowchart TD",
           f"%% {_one_line(line.spec.name)} ({line.id}): .venv/bin/flask --app ivr ivr graph "
           f"{line.id}"]
    boxes = list(diagram_boxes(line))
    for box in boxes:
        opening, closing = MERMAID_SHAPES[box.kind]
        text = "<br/>".join(mermaid_escape(part) for part in box.lines)
        out.append(f"    {box.id}{opening}{text}{closing}")
    for edge in diagram_edges(line):
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{mermaid_escape(edge.label)}"|' if edge.label else ""
        out.append(f"    {edge.source} {arrow}{label} {edge.target}")
    for kind, (fill, stroke, colour) in COLOURS.items():
        members = [box.id for box in boxes if box.kind == kind]
        if members:
            out.append(f"    classDef {kind} fill:{fill},stroke:{stroke},color:{colour}")
            out.append(f"    class {','.join(members)} {kind}")
    return "\n".join(out) + "\n"


def to_dot(line: Line) -> str:
    """The line's menu tree as a Graphviz DOT digraph."""
    out = [f"digraph {dot_quote(line.id)} {{",
           f"    graph [rankdir=TB, labelloc=t, fontname=\"Helvetica\", "
           f"label={dot_quote(f'{line.spec.name} ({line.id})')}];",
           '    node [fontname="Helvetica", fontsize=10, style=filled];',
           '    edge [fontname="Helvetica", fontsize=9];']
    for box in diagram_boxes(line):
        fill, stroke, colour = COLOURS[box.kind]
        label = "\\n".join(dot_escape(part) for part in box.lines)
        out.append(f'    {dot_quote(box.id)} [shape={DOT_SHAPES[box.kind]}, label="{label}", '
                   f'fillcolor="{fill}", color="{stroke}", fontcolor="{colour}"];')
    for edge in diagram_edges(line):
        attributes = [f"label={dot_quote(edge.label)}"] if edge.label else []
        attributes += ["style=dashed"] if edge.dashed else []
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        out.append(f"    {dot_quote(edge.source)} -> {dot_quote(edge.target)}{suffix};")
    out.append("}")
    return "\n".join(out) + "\n"


def mermaid_escape(text: str) -> str:
    """Text safe inside a Mermaid `"..."` label (accents and brackets stay as they are)."""
    text = _one_line(text)
    for plain, entity in _MERMAID_ESCAPES:
        text = text.replace(plain, entity)
    return text


def dot_escape(text: str) -> str:
    """Text safe inside a DOT `"..."` string (backslashes and quotes escaped)."""
    return _one_line(text).replace("\\", "\\\\").replace('"', '\\"')


def dot_quote(text: str) -> str:
    """A DOT quoted string."""
    return f'"{dot_escape(text)}"'


def _one_line(text: str) -> str:
    """Newlines and tabs as single spaces."""
    return " ".join(str(text).split())


def option_keys(line: Line) -> dict[str, str]:
    """The key that leads to each node from its parent menu (the first met from `start`)."""
    reached = walk(line.spec, [line.spec.start], lambda link: link.path[0] == "options")
    return {r.node_id: r.link.path[1] for r in reached if r.link is not None}


def diagram_boxes(line: Line) -> Iterator[Box]:
    """The incoming call, then every node of the line in file order."""
    numbers = [format_international(n) for n in line.spec.numbers]
    yield Box(INBOUND_ID, "inbound", _wrapped([line.spec.name, *numbers]))
    keys = option_keys(line)
    for node_id, node in line.spec.nodes.items():
        kind = KIND_WORDS.get(node.type, node.type)
        if isinstance(node, DialNode) and node.screen:
            kind += " con filtro"
        titles = [node.label, f"{node_id} · {kind}"] if node.label else [f"{node_id} · {kind}"]
        if node_id in keys:
            titles[0] = f"{keys[node_id]} · {titles[0]}"
        parts = [*titles, *hours_lines(line, node.hours), *node_details(line, node_id)]
        yield Box(graph_id(node_id), node.type, _wrapped(parts))


def _wrapped(parts: list[str]) -> tuple[str, ...]:
    """Each part cut into lines of about WRAP characters, at spaces only (never in a number)."""
    return tuple(piece for part in parts for piece in textwrap.wrap(
        _one_line(part), WRAP, break_long_words=False, break_on_hyphens=False))


def hours_lines(line: Line, schedule_id: str | None, verb: str = "horario") -> list[str]:
    """'horario soporte: de lunes a viernes ...' (shortened), or nothing without hours."""
    if not schedule_id:
        return []
    text = line.hours_text.get(schedule_id, "")
    short = textwrap.shorten(text, HOURS_CHARS, placeholder=" …") if text else ""
    return [f"{verb} {schedule_id}: {short}" if short else f"{verb} {schedule_id}"]


def node_details(line: Line, node_id: str) -> list[str]:
    """Where a node sends the call: queue, numbers or rotation dialled, case, message."""
    node = line.spec.nodes[node_id]
    if isinstance(node, QueueNode):
        return [f"cola {node.queue}, espera máx. {_duration(node.max_wait)}"]
    if isinstance(node, DialNode):
        return _dial_details(line, node_id, node)
    if isinstance(node, AnnouncementNode):
        return hours_lines(line, node.say_hours, "dice el horario")
    if isinstance(node, NewCaseNode):
        record = f", graba la descripción (máx. {_duration(node.max_record_seconds)})"
        return [f"número de {line.spec.case_digits} dígitos" + (record if node.record else "")]
    if isinstance(node, CaseLookupNode):
        return [f"número de {line.spec.case_digits} dígitos y #"]
    if isinstance(node, VoicemailNode):
        return [f"mensaje de hasta {_duration(node.max_seconds)}"]
    return []


def _dial_details(line: Line, node_id: str, node: DialNode) -> list[str]:
    """Each step of the chain, then the contacts of every rotation it rings."""
    steps = line.chains.get(node_id) or tuple(node.chain())
    out = [f"{i}) {step_text(step)}, {step.timeout or node.timeout} s"
           for i, step in enumerate(steps, 1)]
    for rotation_id in dict.fromkeys(s.on_call for s in steps if s.on_call):
        rotation = line.rotations.get(rotation_id)
        contacts = rotation.contacts if rotation else ()
        out.append(f"rotación {rotation_id}:")
        out += [f"- {c.role} {format_international(c.number)}" for c in contacts]
    return out


def step_text(step: Step) -> str:
    """One step: the targets rung at once, or who is on call ('siguiente' for `next`)."""
    if step.on_call:
        if step.next == 0:
            return f"de turno en {step.on_call}"
        after = "el siguiente" if step.next == 1 else f"el {step.next}.º siguiente"
        return f"{after} de turno en {step.on_call}"
    return " + ".join(target_text(t) for t in step.targets or [])


def target_text(target: Target) -> str:
    """A number in international format (with its extension), or a SIP address."""
    where = format_international(target.number) if target.number else str(target.sip)
    where += f" ext. {target.extension}" if target.extension else ""
    return f"{target.label} {where}" if target.label else where


def _duration(seconds: int) -> str:
    """'5 min' for whole minutes, else '45 s'."""
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def diagram_edges(line: Line) -> Iterator[Edge]:
    """The way in, every link of every node (menus inherit the line's fallback), escalations."""
    spec = line.spec
    yield Edge(INBOUND_ID, graph_id(spec.start), "", False)
    for node_id, node in spec.nodes.items():
        for link in node_links(spec, node):
            yield Edge(graph_id(node_id), graph_id(link.target), link_label(line, node, link.path),
                       dashed=link.path[0] != "options")
    lookups = [graph_id(i) for i, n in spec.nodes.items() if isinstance(n, CaseLookupNode)]
    for level, target in sorted(spec.escalation.items()):
        for source in lookups or [INBOUND_ID]:
            yield Edge(source, graph_id(target), f"caso en nivel {level}", dashed=True)


def link_label(line: Line, node: NodeBase, path: tuple[str, ...]) -> str:
    """The digit of an option, else when the link is taken ('fuera de horario', ...)."""
    if path[0] == "options":
        return path[1]
    if path[0] == "fallback":
        failures = getattr(node, "max_failures", None) or line.spec.max_failures
        return f"tras {failures} fallos"
    return LINK_WORDS.get(path[0], path[0].replace("_", " "))
