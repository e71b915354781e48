"""Say the weekly opening hours aloud in natural language.

The vocabulary (day names, "de", "a", "y", parts of the day...) comes from a YAML file such as
``voice_prompts/es/hours.yaml``; this module only holds the rules for putting the words together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ivr.core.schedule import Interval, parse_clock
from ivr.core.wall_clock import MINUTES_PER_DAY, WEEKDAYS
from ivr.core.yaml_source import read_utf8

_WORDS_FILE_HINT = "voice_prompts/es/hours.yaml"

DayGroup = tuple[list[int], tuple[Interval, ...]]
"""Consecutive weekday numbers (Monday = 0) that share the same opening intervals."""


def load_words(path: Path) -> dict[str, Any]:
    """Load the spoken-hours vocabulary from a YAML file."""
    data = yaml.safe_load(read_utf8(Path(path)))
    if not isinstance(data, dict):
        raise ValueError(
            f"{str(path)!r} must contain a YAML mapping of words, got {data!r}; "
            f"see {_WORDS_FILE_HINT} for the expected keys"
        )
    return data


def spoken_time(minute_of_day: int, words: Mapping[str, Any]) -> str:
    """Say a time of day with its part of the day, e.g. '8 y media de la mañana'."""
    _check_minute(minute_of_day)
    return _with_period(_clock(minute_of_day, words), minute_of_day, words)


def describe_week(weekly: tuple[tuple[Interval, ...], ...], words: Mapping[str, Any]) -> str:
    """Say the whole week's opening hours as one phrase."""
    if len(weekly) != len(WEEKDAYS):
        raise ValueError(
            f"weekly must have exactly 7 entries (Monday first), got {weekly!r}; "
            "use () for closed days"
        )
    groups = _group_days(weekly)
    if not groups:
        return str(_word(words, "no_hours"))
    return _join([_describe_group(days, intervals, words) for days, intervals in groups], words)


def _group_days(weekly: Sequence[Sequence[Interval]]) -> list[DayGroup]:
    """Group consecutive open days that share identical intervals, skipping closed days."""
    groups: list[DayGroup] = []
    previous: tuple[Interval, ...] = ()
    for day, day_intervals in enumerate(weekly):
        intervals = tuple((start, end) for start, end in day_intervals)
        if intervals and intervals == previous:
            groups[-1][0].append(day)
        elif intervals:
            groups.append(([day], intervals))
        previous = intervals
    return groups


def _describe_group(
    days: list[int], intervals: tuple[Interval, ...], words: Mapping[str, Any]
) -> str:
    """Say one group of days followed by its hours."""
    days_text = _describe_days(days, words)
    if intervals == ((0, MINUTES_PER_DAY),):
        return f"{days_text}{_word(words, 'all_day_separator')}{_word(words, 'all_day')}"
    hours_text = _join([_describe_interval(interval, words) for interval in intervals], words)
    return f"{days_text}{_word(words, 'hours_separator')}{hours_text}"


def _describe_days(days: list[int], words: Mapping[str, Any]) -> str:
    """Name a run of consecutive days: every day, one day, a pair, or a range."""
    singular = _day_names(words, "singular")
    if len(days) == len(WEEKDAYS):
        return str(_word(words, "every_day"))
    if len(days) == 1:
        return str(_word(words, "single_day")).format(day=_day_names(words, "plural")[days[0]])
    if len(days) == 2:
        return str(_word(words, "day_pair")).format(
            first=singular[days[0]], second=singular[days[1]]
        )
    return str(_word(words, "day_range")).format(first=singular[days[0]], last=singular[days[-1]])


def _describe_interval(interval: Interval, words: Mapping[str, Any]) -> str:
    """Say one interval, naming the part of the day once when both ends share it."""
    start, end = interval
    if _period_index(start, words) == _period_index(end, words):
        start_text = _clock(start, words)
    else:
        start_text = spoken_time(start, words)
    return str(_word(words, "span")).format(start=start_text, end=spoken_time(end, words))


def _clock(minute_of_day: int, words: Mapping[str, Any]) -> str:
    """Say the 12-hour clock reading without the part of the day, e.g. '8 y media'."""
    hour_text = str(_word(words, "hour")).format(hour=(minute_of_day // 60) % 12 or 12)
    minutes = minute_of_day % 60
    if not minutes:
        return hour_text
    return str(_word(words, "time_with_minutes")).format(
        hour=hour_text, minutes=_minutes_text(minutes, words)
    )


def _minutes_text(minutes: int, words: Mapping[str, Any]) -> str:
    """Say the minutes past the hour: a special word (cuarto, media) or the digits."""
    special = {int(key): value for key, value in dict(_word(words, "minutes")).items()}
    if minutes in special:
        return str(special[minutes])
    return str(_word(words, "minutes_other")).format(minutes=minutes)


def _with_period(clock_text: str, minute_of_day: int, words: Mapping[str, Any]) -> str:
    """Append the part of the day in which `minute_of_day` falls."""
    period = _periods(words)[_period_index(minute_of_day, words)][1]
    return str(_word(words, "time_with_period")).format(time=clock_text, period=period)


def _period_index(minute_of_day: int, words: Mapping[str, Any]) -> int:
    """Return the index of the part of the day containing the minute (24:00 counts as 23:59)."""
    minute = min(minute_of_day, MINUTES_PER_DAY - 1)
    starts = [start for start, _ in _periods(words)]
    return max(index for index, start in enumerate(starts) if start <= minute)


def _periods(words: Mapping[str, Any]) -> list[tuple[int, str]]:
    """Return the parts of the day as sorted (start minute, words) pairs."""
    entries = _word(words, "periods")
    try:
        periods = sorted((parse_clock(entry["start"]), str(entry["words"])) for entry in entries)
    except (KeyError, TypeError) as error:
        raise ValueError(
            f"periods entry is malformed ({error!r}) in {entries!r}; each needs a quoted "
            "'start' time and 'words', e.g. {start: \"06:00\", words: ...} "
            f"as in {_WORDS_FILE_HINT}"
        ) from None
    if not periods or periods[0][0] != 0:
        raise ValueError(
            f'periods {entries!r} must start at "00:00" so every time of day has a part of the '
            f"day; fix it in {_WORDS_FILE_HINT}"
        )
    return periods


def _day_names(words: Mapping[str, Any], form: str) -> list[str]:
    """Return the seven day names (Monday first) in the given grammatical form."""
    days = _word(words, "days")
    names = days.get(form) if isinstance(days, Mapping) else None
    if not isinstance(names, list) or len(names) != len(WEEKDAYS):
        raise ValueError(
            f"days.{form} must list 7 day names, Monday first, got {names!r}; "
            f"fix it in {_WORDS_FILE_HINT}"
        )
    return [str(name) for name in names]


def _join(items: list[str], words: Mapping[str, Any]) -> str:
    """Join phrases as 'a', 'a y b' or 'a, b y c'."""
    if len(items) == 1:
        return items[0]
    head = str(_word(words, "list_separator")).join(items[:-1])
    return f"{head}{_word(words, 'list_last_separator')}{items[-1]}"


def _word(words: Mapping[str, Any], key: str) -> Any:
    """Return one vocabulary entry, explaining how to fix a missing one."""
    if key not in words:
        raise ValueError(
            f"the hours vocabulary has no {key!r} entry; add it to {_WORDS_FILE_HINT} "
            "(or the matching file for your language)"
        )
    return words[key]


def _check_minute(minute_of_day: int) -> None:
    """Raise ValueError unless `minute_of_day` is an int from 0 to 1440."""
    valid = isinstance(minute_of_day, int) and not isinstance(minute_of_day, bool)
    if not valid or not 0 <= minute_of_day <= MINUTES_PER_DAY:
        raise ValueError(
            f"minute_of_day must be an int from 0 to {MINUTES_PER_DAY}, got {minute_of_day!r}; "
            "for 08:30 pass 8 * 60 + 30"
        )
