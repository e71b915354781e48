"""Table-driven tests for ivr.core.hours_speech (the weekly hours said aloud in Spanish)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from ivr.core.hours_speech import describe_week, load_words, spoken_time
from ivr.core.schedule import build_weekly

ROOT = Path(__file__).resolve().parents[1]
SPANISH = ROOT / "voice_prompts" / "es" / "hours.yaml"

ENGLISH: dict[str, Any] = {
    "days": {
        "singular": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        "plural": [
            "Mondays",
            "Tuesdays",
            "Wednesdays",
            "Thursdays",
            "Fridays",
            "Saturdays",
            "Sundays",
        ],
    },
    "every_day": "every day",
    "single_day": "{day}",
    "day_pair": "{first} and {second}",
    "day_range": "{first} to {last}",
    "span": "from {start} to {end}",
    "all_day": "24 hours a day",
    "all_day_separator": ", ",
    "hours_separator": " ",
    "list_separator": ", ",
    "list_last_separator": " and ",
    "no_hours": "no opening hours",
    "hour": "{hour}",
    "minutes": {},
    "minutes_other": "{minutes:02d}",
    "time_with_minutes": "{hour}:{minutes}",
    "time_with_period": "{time} {period}",
    "periods": [{"start": "00:00", "words": "am"}, {"start": "12:00", "words": "pm"}],
}


@pytest.fixture(scope="module")
def words() -> dict[str, Any]:
    """The shipped Spanish vocabulary."""
    return load_words(SPANISH)


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        pytest.param(
            {"mon-fri": "07:00-19:00", "sat": "08:00-13:00"},
            "de lunes a viernes de 7 de la mañana a 7 de la noche"
            " y los sábados de 8 de la mañana a 1 de la tarde",
            id="certicamara",
        ),
        pytest.param(
            {"mon-fri": "07:00-17:00"},
            "de lunes a viernes de 7 de la mañana a 5 de la tarde",
            id="weekdays",
        ),
        pytest.param(
            {"mon-fri": "08:30-12:00, 14:00-17:30"},
            "de lunes a viernes de 8 y media de la mañana a 12 del mediodía"
            " y de 2 a 5 y media de la tarde",
            id="cco-split-shift",
        ),
        pytest.param({"daily": "00:00-24:00"}, "todos los días, las 24 horas", id="always-open"),
        pytest.param(
            {"daily": "08:00-20:00"},
            "todos los días de 8 de la mañana a 8 de la noche",
            id="every-day-same-hours",
        ),
        pytest.param(
            {"mon-tue": "09:00-18:00"},
            "lunes y martes de 9 de la mañana a 6 de la tarde",
            id="two-days",
        ),
        pytest.param(
            {"sat-sun": "10:00-14:00"},
            "sábado y domingo de 10 de la mañana a 2 de la tarde",
            id="weekend-pair",
        ),
        pytest.param(
            {"sat": "08:00-13:00"},
            "los sábados de 8 de la mañana a 1 de la tarde",
            id="one-day-plural",
        ),
        pytest.param(
            {"mon,wed": "09:00-12:00"},
            "los lunes de 9 de la mañana a 12 del mediodía"
            " y los miércoles de 9 de la mañana a 12 del mediodía",
            id="non-consecutive-days-are-separate",
        ),
        pytest.param(
            {"mon-wed": "08:00-17:00", "thu-fri": "08:00-16:00", "sat": "09:00-12:00"},
            "de lunes a miércoles de 8 de la mañana a 5 de la tarde,"
            " jueves y viernes de 8 de la mañana a 4 de la tarde"
            " y los sábados de 9 de la mañana a 12 del mediodía",
            id="three-groups",
        ),
        pytest.param(
            {"mon-fri": "08:00-17:00", "sun": "08:00-17:00"},
            "de lunes a viernes de 8 de la mañana a 5 de la tarde"
            " y los domingos de 8 de la mañana a 5 de la tarde",
            id="closed-saturday-breaks-the-run",
        ),
        pytest.param(
            {"fri": "19:00-24:00", "sat": "00:00-02:00"},
            "los viernes de 7 a 12 de la noche y los sábados de 12 de la noche a 2 de la madrugada",
            id="around-midnight",
        ),
        pytest.param(
            {"mon-fri": "00:00-24:00", "sat": "08:00-12:00"},
            "de lunes a viernes, las 24 horas y los sábados de 8 de la mañana a 12 del mediodía",
            id="weekdays-all-day",
        ),
        pytest.param(
            {"mon-fri": "06:15-07:45, 12:00-12:45, 13:05-18:59"},
            "de lunes a viernes de 6 y cuarto a 7 y 45 de la mañana,"
            " de 12 a 12 y 45 del mediodía y de 1 y 5 a 6 y 59 de la tarde",
            id="three-intervals-and-minutes",
        ),
        pytest.param(
            {"tue": "05:00-07:00"},
            "los martes de 5 de la madrugada a 7 de la mañana",
            id="dawn",
        ),
        pytest.param({}, "sin horario de atención", id="never-open"),
    ],
)
def test_describe_week(words: dict[str, Any], hours: dict[str, str], expected: str) -> None:
    """The week is said with grouped days and natural times."""
    assert describe_week(build_weekly(hours), words) == expected


@pytest.mark.parametrize(
    ("minute_of_day", "expected"),
    [
        (0, "12 de la noche"),
        (5, "12 y 5 de la noche"),
        (30, "12 y media de la noche"),
        (60, "1 de la madrugada"),
        (359, "5 y 59 de la madrugada"),
        (360, "6 de la mañana"),
        (420, "7 de la mañana"),
        (495, "8 y cuarto de la mañana"),
        (510, "8 y media de la mañana"),
        (525, "8 y 45 de la mañana"),
        (719, "11 y 59 de la mañana"),
        (720, "12 del mediodía"),
        (750, "12 y media del mediodía"),
        (780, "1 de la tarde"),
        (1050, "5 y media de la tarde"),
        (1139, "6 y 59 de la tarde"),
        (1140, "7 de la noche"),
        (1425, "11 y 45 de la noche"),
        (1440, "12 de la noche"),
    ],
)
def test_spoken_time(words: dict[str, Any], minute_of_day: int, expected: str) -> None:
    """A minute of the day is said on a 12-hour clock with its part of the day."""
    assert spoken_time(minute_of_day, words) == expected


@pytest.mark.parametrize("minute_of_day", [-1, 1441, 7.5, True, "420"])
def test_spoken_time_rejects(words: dict[str, Any], minute_of_day: object) -> None:
    """Out-of-range or non-int minutes are refused, naming the value."""
    with pytest.raises(ValueError, match=f"got {minute_of_day!r}"):
        spoken_time(minute_of_day, words)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (
            {"mon-fri": "07:00-19:00", "sat": "08:00-13:00"},
            "Monday to Friday from 7 am to 7 pm and Saturdays from 8 am to 1 pm",
        ),
        ({"mon-tue": "08:30-12:15"}, "Monday and Tuesday from 8:30 am to 12:15 pm"),
        ({"daily": "00:00-24:00"}, "every day, 24 hours a day"),
    ],
)
def test_describe_week_other_vocabulary(hours: dict[str, str], expected: str) -> None:
    """All the words come from the vocabulary: another language needs no code change."""
    assert describe_week(build_weekly(hours), ENGLISH) == expected


def test_describe_week_rejects_wrong_length(words: dict[str, Any]) -> None:
    """The weekly table must have 7 entries."""
    with pytest.raises(ValueError, match="exactly 7 entries"):
        describe_week(((),) * 6, words)


@pytest.mark.parametrize(
    ("broken", "fragment"),
    [
        ({"span": None}, "no 'span' entry"),
        ({"every_day": None}, "no 'every_day' entry"),
        ({"days": {"singular": ["lunes"], "plural": []}}, "days.singular must list 7 day names"),
        ({"periods": [{"start": "06:00", "words": "de la mañana"}]}, 'must start at "00:00"'),
        ({"periods": [{"from": "00:00", "words": "de la noche"}]}, "periods entry is malformed"),
    ],
)
def test_incomplete_vocabulary(
    words: dict[str, Any], broken: dict[str, Any], fragment: str
) -> None:
    """A missing or malformed vocabulary entry says which key to fix in hours.yaml."""
    vocabulary = {**words, **broken}
    vocabulary = {key: value for key, value in vocabulary.items() if value is not None}
    with pytest.raises(ValueError) as info:
        describe_week(build_weekly({"daily": "08:00-20:00"}), vocabulary)
    assert fragment in str(info.value)
    assert "hours.yaml" in str(info.value)


def test_load_words_reads_the_shipped_file(words: dict[str, Any]) -> None:
    """The shipped vocabulary has Monday-first day names and quoted period start times."""
    assert words["days"]["singular"][0] == "lunes"
    assert words["days"]["plural"][5] == "sábados"
    assert all(isinstance(period["start"], str) for period in words["periods"])


@pytest.mark.parametrize("content", ["- just\n- a list\n", "", "plain text\n"])
def test_load_words_rejects_non_mapping(tmp_path: Path, content: str) -> None:
    """A YAML file that is not a mapping is refused, naming the file."""
    path = tmp_path / "hours.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="must contain a YAML mapping"):
        load_words(path)


def test_python_holds_no_spanish_words(words: dict[str, Any]) -> None:
    """Outside docstrings, hours_speech.py has no Spanish vocabulary: it all lives in the YAML."""
    tree = ast.parse((ROOT / "ivr" / "core" / "hours_speech.py").read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    literals = " ".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    )
    vocabulary = [
        *words["days"]["singular"],
        *words["days"]["plural"],
        words["every_day"],
        words["all_day"],
        *(period["words"] for period in words["periods"]),
    ]
    assert [word for word in vocabulary if word in literals] == []
