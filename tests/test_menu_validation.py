"""Menu files: every kind of mistake is reported with its file, its line and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.core import phone
from ivr.core.loader import MenuError, Problem, load_directory, load_line

ROOT = Path(__file__).parents[1]
PROMPTS = ROOT / "voice_prompts"
MENUS = ROOT / "ivr" / "menus"

# A minimal valid line: a menu with hours, a dial node and a goodbye. Tests vary it.
BASE = """\
id: prueba
name: Línea de prueba
numbers: ["+57 601 744 2727"]
country: CO
timezone: America/Bogota
start: principal
schedules:
  oficina:
    weekly:
      mon-fri: "08:00-17:00"
nodes:
  principal:
    type: menu
    prompt: cco_principal
    hours: oficina
    after_hours: despedida
    options:
      1: soporte
      2: despedida
  soporte:
    type: dial
    targets:
      - number: "+57 318 717 4937"
    on_no_answer: despedida
  despedida:
    type: hangup
    prompt: despedida
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    """Replace the one occurrence of `old` in `text` by `new`."""
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def line_with(text: str, needle: str) -> int:
    """The 1-based number of the one line of `text` that contains `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}, expected exactly one"
    return hits[0]


def write(folder: Path, text: str, name: str = "linea.yaml") -> Path:
    """Write a menu file into `folder` and return its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> tuple[Path, list[Problem]]:
    """Load `text` as a menu file, which must fail; return its path and the problems."""
    path = write(tmp_path, text)
    with pytest.raises(MenuError) as caught:
        load_line(path, PROMPTS)
    problems = caught.value.problems
    assert problems, "a MenuError must list at least one problem"
    assert str(caught.value) == "\n".join(str(p) for p in problems)
    return path, problems


def problem_at(tmp_path: Path, text: str, needle: str, alone: bool = False) -> Problem:
    """Load `text`; return the one problem reported on the line containing `needle`.

    With `alone`, also check that nothing else was reported.
    """
    path, problems = problems_of(tmp_path, text)
    line = line_with(text, needle)
    here = [p for p in problems if p.line == line]
    assert len(here) == 1, f"expected one problem at line {line}, got: {problems}"
    problem = here[0]
    assert problem.file == str(path)
    assert str(problem) == f"{path}:{line}: {problem.message}"
    if alone:
        assert problems == [problem]
    return problem


def only_problem(tmp_path: Path, text: str, needle: str) -> Problem:
    """The problem on the line containing `needle`, which must be the only one reported."""
    return problem_at(tmp_path, text, needle, alone=True)


def test_base_is_valid(tmp_path: Path) -> None:
    line = load_line(write(tmp_path, BASE), PROMPTS)
    assert line.id == "prueba"
    assert line.spec.numbers == ["+576017442727"]
    assert line.spec.nodes["soporte"].targets[0].number == "+573187174937"


# --- YAML itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle", "detail"),
    [
        pytest.param("    prompt: cco_principal", "    prompt: cco: principal", "cco: principal",
                     "mapping values are not allowed here", id="colon-in-value"),
        pytest.param("      2: despedida", "     2: despedida", "2: despedida",
                     "expected <block end>", id="bad-indentation"),
        pytest.param("      2: despedida", "\t2: despedida", "2: despedida",
                     "'\\t'", id="tab"),
    ],
)
def test_invalid_yaml_syntax(tmp_path: Path, old: str, new: str, needle: str, detail: str) -> None:
    problem = only_problem(tmp_path, edit(old, new), needle)
    assert problem.message.startswith("not valid YAML: ")
    assert detail in problem.message


@pytest.mark.parametrize(
    ("old", "new", "key_line"),
    [
        pytest.param("      2: despedida\n", "      2: despedida\n      2: soporte\n",
                     "      2:", id="option-key"),
        pytest.param("  despedida:\n", "  soporte:\n    type: hangup\n  despedida:\n",
                     "  soporte:", id="node-id"),
    ],
)
def test_key_written_twice(tmp_path: Path, old: str, new: str, key_line: str) -> None:
    text = edit(old, new)
    first, second = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(key_line)]
    path, problems = problems_of(tmp_path, text)
    assert problems == [Problem(str(path), second, problems[0].message)]
    key = key_line.strip().removesuffix(":")
    assert f"key {key!r} is written twice (first at line {first})" in problems[0].message


# --- the file model -----------------------------------------------------------------------


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = edit("    options:\n", "    optons:\n")
    problem = problem_at(tmp_path, text, "optons:")
    assert "unknown key 'optons'" in problem.message
    assert "did you mean 'options'" in problem.message


def test_unknown_node_type(tmp_path: Path) -> None:
    text = edit("    type: hangup\n", "    type: colgar\n")
    problem = only_problem(tmp_path, text, "type: colgar")
    assert "unknown node type 'colgar'" in problem.message
    assert "hangup" in problem.message


@pytest.mark.parametrize("key", ["10", "a", "'*'"])
def test_option_key_must_be_one_digit(tmp_path: Path, key: str) -> None:
    text = edit("      2: despedida", f"      {key}: despedida")
    problem = only_problem(tmp_path, text, f"{key}: despedida")
    assert f"option key {key.strip(chr(39))!r} is not a single digit 0-9" in problem.message


# --- links between nodes ------------------------------------------------------------------


ANNOUNCEMENT = """\
  aviso:
    type: announcement
    prompt: despedida
    next: nada
"""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        pytest.param(edit("      2: despedida", "      2: nada"), "2: nada", id="option"),
        pytest.param(edit("    after_hours: despedida", "    after_hours: nada"),
                     "after_hours: nada", id="after_hours"),
        pytest.param(edit("start: principal\n", "start: principal\nfallback: nada\n"),
                     "fallback: nada", id="line-fallback"),
        pytest.param(edit("      2: despedida\n", "      2: despedida\n    fallback: nada\n"),
                     "fallback: nada", id="menu-fallback"),
        pytest.param(edit("    on_no_answer: despedida", "    on_no_answer: aviso") + ANNOUNCEMENT,
                     "next: nada", id="next"),
        pytest.param(edit("    on_no_answer: despedida", "    on_no_answer: nada"),
                     "on_no_answer: nada", id="on_no_answer"),
    ],
)
def test_link_to_missing_node(tmp_path: Path, text: str, needle: str) -> None:
    problem = only_problem(tmp_path, text, needle)
    assert "no node 'nada'" in problem.message


def test_link_to_missing_node_suggests_a_close_one(tmp_path: Path) -> None:
    text = edit("      1: soporte", "      1: soprte")
    problem = problem_at(tmp_path, text, "1: soprte")
    assert "no node 'soprte'" in problem.message
    assert "did you mean 'soporte'" in problem.message


def test_start_names_a_missing_node(tmp_path: Path) -> None:
    text = edit("start: principal", "start: inicio")
    problem = problem_at(tmp_path, text, "start: inicio")
    assert "no node 'inicio'" in problem.message


def test_unreachable_node(tmp_path: Path) -> None:
    text = BASE + "  olvidado:\n    type: hangup\n    prompt: despedida\n"
    problem = only_problem(tmp_path, text, "olvidado:")
    assert "'olvidado' cannot be reached from start 'principal'" in problem.message


@pytest.mark.parametrize(
    ("text", "needle", "cycle"),
    [
        pytest.param(
            edit("      2: despedida\n", "      2: despedida\n    fallback: otro\n")
            + "  otro:\n    type: menu\n    prompt: despedida\n    options:\n"
              "      1: soporte\n    fallback: principal\n",
            "  principal:", "principal -> otro -> principal", id="menu-fallbacks",
        ),
        pytest.param(
            edit("    on_no_answer: despedida", "    on_no_answer: aviso")
            + ANNOUNCEMENT.replace("next: nada", "next: soporte"),
            "  soporte:", "soporte -> aviso -> soporte", id="no-answer-and-next",
        ),
    ],
)
def test_loop_of_automatic_links(tmp_path: Path, text: str, needle: str, cycle: str) -> None:
    problem = only_problem(tmp_path, text, needle)
    assert "circle forever" in problem.message
    assert cycle in problem.message


# --- schedules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekly", "expected"),
    [
        pytest.param('mon-fri: "08:00-12:00, 11:00-17:00"', "08:00-12:00 overlaps 11:00-17:00",
                     id="overlap"),
        pytest.param('mon-fri: "17:00-08:00"', "ends before it starts", id="ends-before-start"),
        pytest.param('mon-fry: "08:00-17:00"', "unknown day 'fry'", id="bad-weekday"),
    ],
)
def test_bad_weekly_hours(tmp_path: Path, weekly: str, expected: str) -> None:
    text = edit('mon-fri: "08:00-17:00"', weekly)
    problem = only_problem(tmp_path, text, weekly)
    assert expected in problem.message


def test_overlap_in_a_list_of_intervals(tmp_path: Path) -> None:
    text = edit('      mon-fri: "08:00-17:00"\n',
                '      mon-fri:\n        - "08:00-12:00"\n        - "11:00-17:00"\n')
    problem = only_problem(tmp_path, text, "mon-fri:")
    assert "08:00-12:00 overlaps 11:00-17:00" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        pytest.param("timezone: America/Bogota", "timezone: America/Bogata",
                     "America/Bogata", id="line"),
        pytest.param('      mon-fri: "08:00-17:00"\n',
                     '      mon-fri: "08:00-17:00"\n    timezone: Mars/Olympus\n',
                     "Mars/Olympus", id="schedule"),
    ],
)
def test_unknown_time_zone(tmp_path: Path, old: str, new: str, needle: str) -> None:
    problem = only_problem(tmp_path, edit(old, new), needle)
    assert f"unknown time zone {needle!r}" in problem.message


def test_unknown_holiday_country(tmp_path: Path) -> None:
    text = edit('      mon-fri: "08:00-17:00"\n',
                '      mon-fri: "08:00-17:00"\n    holidays: [CO, XX]\n')
    problem = only_problem(tmp_path, text, "holidays:")
    assert "unknown country code 'XX'" in problem.message


def test_hours_names_unknown_schedule(tmp_path: Path) -> None:
    text = edit("    hours: oficina", "    hours: ofisina")
    problem = only_problem(tmp_path, text, "hours: ofisina")
    assert "no schedule 'ofisina'" in problem.message
    assert "did you mean 'oficina'" in problem.message


def test_after_hours_without_hours(tmp_path: Path) -> None:
    text = edit("    hours: oficina\n", "")
    problem = only_problem(tmp_path, text, "after_hours:")
    assert "after_hours is only used with 'hours'" in problem.message


# --- prompts and keys ---------------------------------------------------------------------


def test_unknown_prompt_suggests_a_close_one(tmp_path: Path) -> None:
    text = edit("    prompt: cco_principal", "    prompt: cco_principl")
    problem = only_problem(tmp_path, text, "cco_principl")
    assert "no prompt 'cco_principl'" in problem.message
    assert "did you mean 'cco_principal'" in problem.message


def test_back_key_is_also_an_option(tmp_path: Path) -> None:
    text = edit("start: principal\n", 'start: principal\nback_key: "0"\n')
    text = edit("      2: despedida\n", "      2: despedida\n      0: soporte\n", text)
    problem = only_problem(tmp_path, text, "0: soporte")
    assert "'0' is the line's back_key" in problem.message


# --- on-call rotations -------------------------------------------------------------------


ROTATION = """\
on_call:
  guardia:
    contacts:
      - {role: primero, number: "+57 318 717 4937"}
      - {role: segundo, number: "+57 318 717 4938"}
"""


def with_rotation(extra: str) -> str:
    """BASE with a two-contact rotation `guardia`, plus `extra` lines inside it."""
    return edit("nodes:\n", ROTATION + extra + "nodes:\n")


@pytest.mark.parametrize(
    ("extra", "needle", "fragments"),
    [
        pytest.param('    handoff: {every: week, weekday: mon, time: "08:00"}\n', "guardia:",
                     ("handoff", "start"), id="handoff-without-start"),
        pytest.param("    start: 2026-01-05\n", "start: 2026", ("start", "handoff"),
                     id="start-without-handoff"),
        pytest.param('    handoff: {every: week, weekday: mon, time: "08:00"}\n'
                     "    start: 2026-01-06\n", "start: 2026", ("2026-01-06 is a tue", "mon"),
                     id="weekly-start-on-another-weekday"),
        pytest.param('    overrides:\n      - {from: "2026-01-08 00:00", until: "2026-01-07 00:00",'
                     " contact: primero}\n", "until:", ("until", "not after from"),
                     id="override-until-before-from"),
        pytest.param('    overrides:\n      - {from: "2026-01-08 00:00", until: "2026-01-08 00:00",'
                     " contact: primero}\n", "until:", ("until", "not after from"),
                     id="override-until-equals-from"),
    ],
)
def test_bad_rotation(tmp_path: Path, extra: str, needle: str, fragments: tuple[str, ...]) -> None:
    problem = only_problem(tmp_path, with_rotation(extra), needle)
    for fragment in fragments:
        assert fragment in problem.message


def test_override_reversed_only_in_the_lines_zone(tmp_path: Path) -> None:
    # 02:30 does not exist in New York on 2026-03-08: read as 02:30 EST, it is after 03:10 EDT
    extra = ('    overrides:\n      - {from: "2026-03-08 02:30", until: "2026-03-08 03:10",'
             " contact: primero}\n")
    text = edit("timezone: America/Bogota", "timezone: America/New_York", with_rotation(extra))
    problem = only_problem(tmp_path, text, "until:")
    assert "until 2026-03-08 03:10 is not after from 2026-03-08 02:30" in problem.message


def test_good_rotations(tmp_path: Path) -> None:
    daily = '    handoff: {every: day, time: "08:00"}\n    start: 2026-01-06\n'
    weekly = '    handoff: {every: week, weekday: tue, time: "08:00"}\n    start: 2026-01-06\n'
    for extra in (daily, weekly):
        line = load_line(write(tmp_path, with_rotation(extra)), PROMPTS)
        assert line.rotations["guardia"].anchor.isoformat() == "2026-01-06"


# --- phone numbers and targets ------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        pytest.param('"+57 318 717 4937"', '"+57 12"', "+57 12", id="target"),
        pytest.param('numbers: ["+57 601 744 2727"]',
                     'numbers:\n  - "+57 601 744 2727"\n  - "12345"', '"12345"', id="line"),
    ],
)
def test_invalid_phone_number(tmp_path: Path, old: str, new: str, needle: str) -> None:
    problem = only_problem(tmp_path, edit(old, new), needle)
    assert "not a valid phone number" in problem.message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param('"+57 318 717 4937"', '"(571) 7442727"', id="target"),
        pytest.param('numbers: ["+57 601 744 2727"]',
                     'numbers:\n  - "+58 212 471 3239"\n  - "(571) 7442727"', id="line"),
    ],
)
def test_old_colombian_format_suggests_the_new_one(tmp_path: Path, old: str, new: str) -> None:
    problem = only_problem(tmp_path, edit(old, new), "(571) 7442727")
    assert "before 2021" in problem.message
    assert "'+57 601 7442727'" in problem.message


def test_sip_and_number_both_given(tmp_path: Path) -> None:
    text = edit('      - number: "+57 318 717 4937"\n',
                '      - number: "+57 318 717 4937"\n        sip: "sip:soporte@example.com"\n')
    problem = only_problem(tmp_path, text, "- number:")
    assert "exactly one of 'number' or 'sip'" in problem.message


# --- several files, several problems ------------------------------------------------------


def test_two_files_claim_the_same_number(tmp_path: Path) -> None:
    menus = tmp_path / "menus"
    menus.mkdir()
    write(menus, BASE, "a.yaml")
    other = edit("id: prueba", "id: otra")
    other = edit('numbers: ["+57 601 744 2727"]',
                 'numbers:\n  - "+57 318 717 4937"\n  - "601 744 2727"', other)
    second = write(menus, other, "b.yaml")
    with pytest.raises(MenuError) as caught:
        load_directory(menus, PROMPTS)
    [problem] = caught.value.problems
    assert problem.file == str(second)
    assert problem.line == line_with(other, "601 744 2727")
    assert "+576017442727 is also answered by" in problem.message
    assert "a.yaml" in problem.message


def test_two_files_claim_the_same_line_id(tmp_path: Path) -> None:
    menus = tmp_path / "menus"
    menus.mkdir()
    write(menus, BASE, "a.yaml")
    other = edit('numbers: ["+57 601 744 2727"]', 'numbers: ["+57 318 717 4937"]')
    second = write(menus, "# the same id again\n" + other, "b.yaml")
    with pytest.raises(MenuError) as caught:
        load_directory(menus, PROMPTS)
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == (str(second), 2)
    assert "line id 'prueba' is also used by" in problem.message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = edit("timezone: America/Bogota", "timezone: Nowhere/City")
    text = edit("    prompt: cco_principal", "    prompt: nada_de_nada", text)
    text = edit("      2: despedida", "      2: nada", text)
    text = edit("    on_no_answer: despedida", "    on_no_answer: ninguno", text)
    _, problems = problems_of(tmp_path, text)
    found = {(p.line, p.message.split(": ", 1)[1].split(";")[0]) for p in problems}
    assert found == {
        (line_with(text, "Nowhere/City"), "unknown time zone 'Nowhere/City'"),
        (line_with(text, "nada_de_nada"), "no prompt 'nada_de_nada' in voice_prompts/es"),
        (line_with(text, "2: nada"), "no node 'nada'"),
        (line_with(text, "ninguno"), "no node 'ninguno'"),
    }


def test_every_model_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = edit("    options:\n", "    optons:\n")
    text = edit("    type: hangup", "    type: colgar", text)
    text = edit('"+57 318 717 4937"', '"(571) 7442727"', text)
    text = edit('mon-fri: "08:00-17:00"', 'mon-fri: "17:00-08:00"', text)
    _, problems = problems_of(tmp_path, text)
    lines = {p.line: p.message for p in problems}
    assert "unknown key 'optons'" in lines[line_with(text, "optons:")]
    assert "unknown node type 'colgar'" in lines[line_with(text, "colgar")]
    assert "+57 601 7442727" in lines[line_with(text, "(571) 7442727")]
    assert "ends before it starts" in lines[line_with(text, "17:00-08:00")]


def test_not_a_mapping(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "- principal\n- despedida\n", "- principal")
    assert "must be a mapping" in problem.message


# --- the shipped menus --------------------------------------------------------------------


def test_shipped_menus_load_with_numbers_in_e164() -> None:
    directory = load_directory(MENUS, PROMPTS)
    assert set(directory.lines) == {"certicamara", "cco"}
    certicamara, cco = directory.lines["certicamara"], directory.lines["cco"]
    assert certicamara.spec.numbers == ["+576017442727"]
    assert cco.spec.numbers == ["+582124713239", "+582127143934"]
    assert directory.for_number("+576017442727") is certicamara
    assert directory.for_number("+582127143934") is cco

    def targets(line_id: str, node_id: str) -> list[tuple[str | None, str | None]]:
        node = directory.lines[line_id].spec.nodes[node_id]
        return [(t.number, t.extension) for t in node.targets]

    def on_call(line_id: str, rotation: str) -> list[str]:
        return [c.number for c in directory.lines[line_id].rotations[rotation].contacts]

    assert on_call("certicamara", "prioridad_1") == ["+573187174937"]
    assert targets("certicamara", "supervisor") == [
        ("+576013790300", "1113"),
        ("+576013790300", "1107"),
        ("+576013790300", "1109"),
        ("+576013790300", "1427"),
    ]
    assert targets("certicamara", "coordinador") == [("+576013790300", "1101")]
    assert on_call("cco", "guardia") == ["+584140143913", "+584140320151"]


@pytest.mark.parametrize("path", sorted(MENUS.glob("*.yaml")), ids=lambda p: p.name)
def test_each_shipped_menu_loads(path: Path) -> None:
    assert load_line(path, PROMPTS).file == str(path)


# --- ivr.core.phone.to_e164 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+57 601 744 2727", "CO", "+576017442727"),
        ("601 744 2727", "CO", "+576017442727"),
        ("(601) 379-0300", "CO", "+576013790300"),
        ("318 717 4937", "CO", "+573187174937"),
        ("+57 318 717 4937", "VE", "+573187174937"),
        ("+58 212 471 3239", "VE", "+582124713239"),
        ("0212 714 3934", "VE", "+582127143934"),
        ("0414 014 3913", "VE", "+584140143913"),
        ("+58 212 471 3239", "CO", "+582124713239"),
    ],
)
def test_to_e164_valid(text: str, region: str, expected: str) -> None:
    assert phone.to_e164(text, region) == expected


@pytest.mark.parametrize(
    ("text", "region", "suggestion"),
    [
        ("(571) 7442727", "CO", "+57 601 7442727"),
        ("(1) 744 2727", "CO", "+57 601 7442727"),
        ("+57 1 3790300", "VE", "+57 601 3790300"),
        ("(4) 444 1234", "CO", "+57 604 4441234"),
    ],
)
def test_to_e164_old_colombian_format(text: str, region: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match="before 2021") as caught:
        phone.to_e164(text, region)
    assert repr(suggestion) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("7442727", "CO", "seven-digit Colombian landline"),
        ("garbage", "CO", "is not a phone number"),
        ("", "VE", "is not a phone number"),
        ("12", "CO", "not a valid phone number"),
        ("601 744 2727", "ZZ", "is not a phone number"),
    ],
)
def test_to_e164_rejects(text: str, region: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        phone.to_e164(text, region)
