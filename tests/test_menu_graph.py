"""`flask ivr graph`: the menu tree as Mermaid (parsed here), DOT and SVG; the README's copy."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lxml import etree

from ivr.admin.diagrams import (
    INBOUND_ID,
    dot_escape,
    graph_id,
    mermaid_escape,
    step_text,
    to_dot,
    to_mermaid,
)
from ivr.core.lines import Line
from ivr.core.menu_file import CaseLookupNode, MenuNode, Step, Target

ROOT = Path(__file__).parent.parent
LINES = ["certicamara", "cco"]
NO_DOT = "Graphviz's dot is not installed (apt-get install graphviz; .ci/run installs it)"

# --- a small Mermaid flowchart parser: exactly the subset the command writes -------------------

_SHAPES = r'\(\["|\[\["|\[\("|\(\("|\{\{"|\[/"|\["|>"'
_NODE = re.compile(rf'^(?P<id>[A-Za-z0-9_]+)(?:{_SHAPES})(?P<text>[^"]*)(?:"\]\)|"\]\]|"\)\]'
                   r'|"\)\)|"\}\}|"/\]|"\])$')
_EDGE = re.compile(r'^(?P<source>[A-Za-z0-9_]+) (?P<arrow>-->|-\.->)(?:\|"(?P<label>[^"]*)"\|)?'
                   r' (?P<target>[A-Za-z0-9_]+)$')
_CLASS = re.compile(r"^(classDef [a-z_]+ [a-z]+:#[0-9a-f]{6}(,[a-z]+:#[0-9a-f]{6})*"
                    r"|class [A-Za-z0-9_,]+ [a-z_]+)$")


@dataclass
class Flowchart:
    """A parsed flowchart: its header, node definitions (ids in order) and edges."""

    header: str
    definitions: list[str] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)
    edges: list[tuple[str, str, str, bool]] = field(default_factory=list)  # dashed last


def _decode(text: str) -> str:
    """Undo Mermaid's entity codes (#quot;, #35;, ...) the way Mermaid does when it draws."""
    named = {"quot": '"', "lt": "<", "gt": ">", "amp": "&"}
    return re.sub(r"#(\w+);", lambda m: chr(int(m[1])) if m[1].isdigit() else named[m[1]], text)


def parse_mermaid(text: str) -> Flowchart:
    """Parse the command's Mermaid; any line outside the expected grammar fails the test."""
    first, *rest = text.rstrip("\n").split("\n")
    chart = Flowchart(header=first)
    for raw in rest:
        item = raw.strip()
        if not item or item.startswith("%%") or _CLASS.match(item):
            continue
        node, edge = _NODE.match(item), _EDGE.match(item)
        if node:
            chart.definitions.append(node["id"])
            chart.labels[node["id"]] = [_decode(p) for p in node["text"].split("<br/>")]
        elif edge:
            chart.edges.append((edge["source"], edge["target"], _decode(edge["label"] or ""),
                                edge["arrow"] == "-.->"))
        else:
            raise AssertionError(f"not a Mermaid line the command writes: {raw!r}")
    return chart


def _line(app: Flask, line_id: str) -> Line:
    """A loaded line of the app."""
    line: Line = app.extensions["ivr.lines"].get(line_id)
    return line


# --- Mermaid ------------------------------------------------------------------------------------


@pytest.mark.parametrize("line_id", LINES)
def test_mermaid_has_every_node_once_and_every_link(app: Flask, line_id: str) -> None:
    line = _line(app, line_id)
    text = to_mermaid(line)
    assert text.startswith("flowchart ")
    chart = parse_mermaid(text)
    assert chart.header == "flowchart TD"
    expected = [INBOUND_ID] + [graph_id(n) for n in line.spec.nodes]
    assert sorted(chart.definitions) == sorted(expected)  # each exactly once, nothing else
    defined = set(chart.definitions)
    assert all(s in defined and t in defined for s, t, _, _ in chart.edges)
    assert (INBOUND_ID, graph_id(line.spec.start), "", False) in chart.edges
    for node_id, node in line.spec.nodes.items():
        source = graph_id(node_id)
        if isinstance(node, MenuNode):
            for key, target in node.options.items():
                assert (source, graph_id(target), key, False) in chart.edges, (node_id, key)
        if node.after_hours:
            assert (source, graph_id(node.after_hours), "fuera de horario", True) in chart.edges
        if getattr(node, "on_no_answer", None):
            assert (source, graph_id(node.on_no_answer), "sin respuesta", True) in chart.edges
        if isinstance(node, MenuNode | CaseLookupNode):
            fallback = node.fallback or line.spec.fallback
            assert fallback is None or [
                e for e in chart.edges
                if e[:2] == (source, graph_id(fallback)) and e[2].startswith("tras ") and e[3]
            ], node_id
    keys = [e for e in chart.edges if not e[3]]
    assert all(re.fullmatch(r"[0-9]", label) for s, _, label, _ in keys if s != INBOUND_ID)


def test_certicamara_boxes_show_key_label_hours_and_destination(app: Flask) -> None:
    chart = parse_mermaid(to_mermaid(_line(app, "certicamara")))
    box = {node: " ".join(lines) for node, lines in chart.labels.items()}
    assert chart.labels[INBOUND_ID] == ["Certicámara", "+57 601 7442727"]
    assert chart.labels["n_subasta"][0].startswith("5 · Soporte Subasta Electrónica")
    assert "horario soporte: de lunes a viernes de 7 de la mañana" in box["n_subasta"]
    assert "cola soporte-subasta, espera máx. 5 min" in box["n_subasta"]
    assert chart.labels["n_supervisor"][0].startswith("1 · Segundo escalamiento")
    assert "1) +57 601 3790300 ext. 1113, 45 s" in chart.labels["n_supervisor"]
    assert "4) +57 601 3790300 ext. 1427, 45 s" in chart.labels["n_supervisor"]
    assert "- celular de prioridad 1 +57 318 7174937" in chart.labels["n_prioridad_1"]
    assert "horario pqrsa: de lunes a viernes de 7 de la mañana a 5 de la tarde" in box["n_pqrsa"]
    assert chart.labels["n_despedida"] == ["despedida · fin de la llamada"]
    assert ("n_pqrsa_correo", "n_principal", "después", True) in chart.edges
    assert ("n_principal", "n_soporte_general", "tras 3 fallos", True) in chart.edges


def test_cco_boxes_show_cases_and_the_on_call_order(app: Flask) -> None:
    chart = parse_mermaid(to_mermaid(_line(app, "cco")))
    assert chart.labels[INBOUND_ID] == ["CCO Apoyo Empresarial", "+58 212-4713239",
                                        "+58 212-7143934"]
    guardia = chart.labels["n_guardia"]
    assert guardia[:2] == ["9 · Especialistas de guardia", "guardia · marcación con filtro"]
    assert guardia[2:] == ["1) de turno en guardia, 25 s",
                           "2) el siguiente de turno en guardia, 25 s", "rotación guardia:",
                           "- guardia principal +58 414-0143913",
                           "- guardia suplente +58 414-0320151"]
    assert "número de 8 dígitos y #" in chart.labels["n_consulta_caso"]  # '#' survives escaping
    assert ("n_nuevo_caso", "n_centro_soporte", "después", True) in chart.edges


def test_long_hours_are_shortened_and_lines_wrapped() -> None:
    from ivr.admin.diagrams import HOURS_CHARS, WRAP, hours_lines

    class FakeLine:
        hours_text = {"largo": "de lunes a viernes " * 20}

    (text,) = hours_lines(FakeLine(), "largo")  # type: ignore[arg-type]
    assert text.startswith("horario largo: de lunes") and text.endswith(" …")
    assert len(text) <= len("horario largo: ") + HOURS_CHARS
    assert WRAP < HOURS_CHARS


def test_labels_are_escaped_for_mermaid_and_dot(make_app: Any, tmp_path: Path) -> None:
    nasty = 'Ñ "p" [1] (a) {b} <c> x|y `z` #35; & ñ\\'  # one line: shorter than WRAP
    menus = tmp_path / "menus"
    menus.mkdir()
    source = (ROOT / "ivr" / "menus" / "cco.yaml").read_text(encoding="utf-8")
    assert "label: Menú principal\n" in source
    (menus / "cco.yaml").write_text(
        source.replace("label: Menú principal\n", f"label: '{nasty}'\n"), encoding="utf-8")
    line = _line(make_app(IVR_MENU_DIR=str(menus)), "cco")

    chart = parse_mermaid(to_mermaid(line))
    assert chart.labels["n_principal"][0] == nasty  # decoded, it is the label again
    assert '"' not in mermaid_escape(nasty) and "|" not in mermaid_escape(nasty)
    assert mermaid_escape("a\nb") == "a b"
    assert dot_escape('say "hi" \\ bye') == 'say \\"hi\\" \\\\ bye'
    assert f'label="{dot_escape(nasty)}\\n' in to_dot(line)


def test_steps_with_several_targets_and_later_contacts() -> None:
    both = Step(targets=[Target(number="+576013790300", extension="12"),
                         Target(sip="sip:guardia@pbx.example.com", label="PBX")])
    assert step_text(both) == "+57 601 3790300 ext. 12 + PBX sip:guardia@pbx.example.com"
    assert step_text(Step(on_call="guardia", next=2)) == "el 2.º siguiente de turno en guardia"


# --- DOT ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("line_id", LINES)
def test_dot_defines_every_node_once_and_dashes_automatic_links(app: Flask, line_id: str) -> None:
    line = _line(app, line_id)
    text = to_dot(line)
    assert text.startswith(f'digraph "{line_id}" {{') and text.rstrip().endswith("}")
    defined = re.findall(r'^    "([a-z0-9_]+)" \[shape=', text, flags=re.M)
    assert sorted(defined) == sorted([INBOUND_ID] + [graph_id(n) for n in line.spec.nodes])
    for node_id, node in line.spec.nodes.items():
        if node.after_hours:
            assert (f'"{graph_id(node_id)}" -> "{graph_id(node.after_hours)}" '
                    '[label="fuera de horario", style=dashed];') in text
        if isinstance(node, MenuNode):
            for key, target in node.options.items():
                assert f'"{graph_id(node_id)}" -> "{graph_id(target)}" [label="{key}"];' in text


# --- the command --------------------------------------------------------------------------------


def test_command_prints_mermaid_by_default_and_dot_on_request(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["ivr", "graph", "certicamara"])
    assert result.exit_code == 0, result.output
    assert result.stdout == to_mermaid(_line(app, "certicamara"))
    as_dot = runner.invoke(args=["ivr", "graph", "cco", "--format", "dot"])
    assert as_dot.exit_code == 0 and as_dot.stdout == to_dot(_line(app, "cco"))


def test_unknown_line_names_the_known_ones(runner: Any) -> None:
    result = runner.invoke(args=["ivr", "graph", "nope"])
    assert result.exit_code == 2
    assert "no line 'nope'; lines: cco, certicamara" in result.output


def test_unknown_format_is_refused(runner: Any) -> None:
    result = runner.invoke(args=["ivr", "graph", "cco", "--format", "png"])
    assert result.exit_code == 2 and "mermaid" in result.output


@pytest.mark.skipif(shutil.which("dot") is None, reason=NO_DOT)
@pytest.mark.parametrize("line_id", LINES)
def test_svg_is_drawn_by_dot(app: Flask, runner: Any, tmp_path: Path, line_id: str) -> None:
    svg = tmp_path / f"{line_id}.svg"
    result = runner.invoke(args=["ivr", "graph", line_id, "--svg", str(svg)])
    assert result.exit_code == 0, result.output
    assert result.stdout == to_mermaid(_line(app, line_id))  # the text is printed as well
    assert f"SVG written to {svg}" in result.stderr
    root = etree.parse(str(svg)).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(root.itertext())
    assert _line(app, line_id).spec.name in texts and "fuera de horario" in texts


def test_svg_without_dot_says_how_to_get_it(runner: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    svg = tmp_path / "out.svg"
    result = runner.invoke(args=["ivr", "graph", "cco", "--svg", str(svg)])
    assert result.exit_code == 1
    assert "Graphviz's 'dot' is not installed" in result.output
    assert "apt-get install graphviz" in result.output
    assert not svg.exists()


def test_dot_runs_without_a_shell_and_its_errors_are_reported(
        runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"
    fake.write_text(  # shell builtins only: PATH has nothing else
        f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/args"\n'
        'while IFS= read -r row; do printf "%s\\n" "$row"; done > "$0.input"\n'
        'echo "Error: syntax error in line 1" >&2\nexit 3\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    svg = tmp_path / "a file; $(echo x).svg"  # a shell would split and expand this
    result = runner.invoke(args=["ivr", "graph", "cco", "--svg", str(svg)])
    assert result.exit_code == 1
    assert "dot could not draw" in result.output and "syntax error in line 1" in result.output
    assert (tmp_path / "args").read_text(encoding="utf-8").splitlines() == ["-Tsvg", "-o", str(svg)]
    assert (bin_dir / "dot.input").read_text(encoding="utf-8").startswith('digraph "cco"')


# --- the README ---------------------------------------------------------------------------------


def test_readme_diagrams_are_the_commands_output(app: Flask) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = "## The shipped lines, drawn\n"
    assert heading in readme
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```mermaid\n(.*?)^```$", section, flags=re.M | re.S)
    lines = app.extensions["ivr.lines"].lines
    assert len(blocks) == len(lines)
    for line_id, line in lines.items():
        assert to_mermaid(line) in blocks, (
            f"README's diagram of {line_id} is stale: paste the output of "
            f"`.venv/bin/flask --app ivr ivr graph {line_id}` between its ```mermaid fences")
    assert ".venv/bin/flask --app ivr ivr graph $line" in section
