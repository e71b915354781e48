"""Business hours for the IVR: weekly opening intervals, holidays, closed and special dates.

Everything here is data-driven: opening hours come from configuration (parsed with
``parse_days`` / ``parse_intervals`` / ``build_weekly``) and holidays from the ``holidays``
package (``build_calendar``).  Times of day are wall-clock minutes in the schedule's time zone.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from itertools import pairwise
from types import MappingProxyType
from zoneinfo import ZoneInfo

from holidays import (
    HolidayBase,
    country_holidays,
    list_localized_countries,
    list_supported_countries,
)

from ivr.core.wall_clock import (
    WEEKDAYS,
    offset_change,
    require_aware,
    utc_offset,
    wall_instant,
)

Interval = tuple[int, int]
"""Minutes from local midnight, half-open ``[start, end)``; ``0 <= start < end <= 1440``."""


_INTERVAL_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")
_CLOSED_WORD = "closed"
_ALL_DAYS_WORD = "daily"
_WINDOW_DAYS = 7
_DAY_SPEC_HELP = (
    f"use day names {', '.join(WEEKDAYS)}, ranges like 'mon-fri', "
    f"lists like 'sat,sun' or 'mon-wed,fri', or {_ALL_DAYS_WORD!r}"
)
_INTERVAL_HELP = (
    "write 'HH:MM-HH:MM' such as '07:00-19:00', separate several with commas "
    f"('08:30-12:00, 14:00-17:30'), or use {_CLOSED_WORD!r}"
)


# ---------------------------------------------------------------------------
# Parsing configuration text
# ---------------------------------------------------------------------------


def parse_days(text: str) -> list[int]:
    """Parse 'mon-fri', 'sat,sun', 'mon-wed,fri' or 'daily' into sorted weekday numbers."""
    if not isinstance(text, str):
        raise TypeError(f"day spec must be a string such as 'mon-fri', got {text!r}")
    days: set[int] = set()
    for part in text.split(","):
        days.update(_parse_day_part(part.strip().lower(), text))
    return sorted(days)


def _parse_day_part(part: str, text: str) -> range:
    """Parse one comma-separated piece of a day spec (a day, a range or 'daily')."""
    if part == _ALL_DAYS_WORD:
        return range(len(WEEKDAYS))
    first, dash, last = part.partition("-")
    start = _day_index(first.strip(), text)
    if not dash:
        return range(start, start + 1)
    end = _day_index(last.strip(), text)
    if end < start:
        raise ValueError(
            f"day range {part!r} in {text!r} is reversed; ranges run Monday to Sunday, "
            f"so write e.g. 'mon-fri', or split a wrapping range as 'fri-sun,mon'"
        )
    return range(start, end + 1)


def _day_index(name: str, text: str) -> int:
    """Return the weekday number (Monday = 0) of a three-letter day name."""
    if name not in WEEKDAYS:
        raise ValueError(f"unknown day {name!r} in {text!r}; {_DAY_SPEC_HELP}")
    return WEEKDAYS.index(name)


def parse_clock(text: str) -> int:
    """Parse a wall-clock time 'HH:MM' (00:00 to 24:00) into minutes from midnight."""
    match = _CLOCK_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"bad time {text!r}; write it as 'HH:MM', e.g. '07:30' or '24:00'")
    return _clock_minutes(int(match[1]), int(match[2]), text)


def _clock_minutes(hour: int, minute: int, text: str) -> int:
    """Validate an hour/minute pair read from `text` and return minutes from midnight."""
    if hour > 24:
        raise ValueError(f"hour {hour} in {text!r} is out of range; hours go from 00 to 24")
    if minute > 59:
        raise ValueError(f"minute {minute} in {text!r} is out of range; minutes go from 00 to 59")
    if hour == 24 and minute:
        raise ValueError(f"{text!r} is past midnight; the latest allowed time is '24:00'")
    return hour * 60 + minute


def format_clock(minutes: int) -> str:
    """Format minutes from midnight as 'HH:MM' (1440 becomes '24:00')."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_interval(interval: Interval) -> str:
    """Format an interval as 'HH:MM-HH:MM'."""
    return f"{format_clock(interval[0])}-{format_clock(interval[1])}"


def parse_intervals(text: str | list[str]) -> tuple[Interval, ...]:
    """Parse '08:30-12:00, 14:00-17:30' (or a list of such strings) into sorted intervals."""
    pieces = [piece for item in _interval_items(text) for piece in _split_item(item)]
    intervals = sorted(_parse_interval(piece, text) for piece in pieces)
    _check_no_overlap(intervals, text)
    return tuple(intervals)


def _interval_items(text: str | list[str]) -> list[str]:
    """Normalise the accepted input shapes (string or list of strings) to a list of strings."""
    if isinstance(text, str):
        return [text]
    if isinstance(text, list | tuple) and all(isinstance(item, str) for item in text):
        return list(text)
    raise TypeError(
        f"opening hours must be a string or a list of strings, got {text!r}; {_INTERVAL_HELP}"
    )


def _split_item(item: str) -> list[str]:
    """Split one string into its 'HH:MM-HH:MM' pieces; 'closed' and '' give none."""
    stripped = item.strip()
    if not stripped or stripped.lower() == _CLOSED_WORD:
        return []
    return [piece.strip() for piece in stripped.split(",")]


def _parse_interval(piece: str, text: str | list[str]) -> Interval:
    """Parse one 'HH:MM-HH:MM' piece, naming the whole `text` in errors."""
    match = _INTERVAL_RE.fullmatch(piece)
    if match is None:
        raise ValueError(f"bad opening hours {_where(piece, text)}; {_INTERVAL_HELP}")
    start_hour, start_minute, end_hour, end_minute = (int(group) for group in match.groups())
    start = _clock_minutes(start_hour, start_minute, piece)
    end = _clock_minutes(end_hour, end_minute, piece)
    if end <= start:
        raise ValueError(
            f"interval {_where(piece, text)} ends before it starts; the end must be later "
            "than the start on the same day (use '24:00' for midnight and split overnight hours "
            "across two days, e.g. fri '22:00-24:00' and sat '00:00-02:00')"
        )
    return (start, end)


def _where(piece: str, text: str | list[str]) -> str:
    """Describe `piece` for an error message, with the full `text` when it differs."""
    return repr(piece) if piece == text else f"{piece!r} in {text!r}"


def _check_no_overlap(intervals: Sequence[Interval], text: object) -> None:
    """Raise ValueError if any two sorted intervals overlap."""
    for first, second in pairwise(intervals):
        if second[0] < first[1]:
            raise ValueError(
                f"{format_interval(first)} overlaps {format_interval(second)} in {text!r}; "
                "merge them into one interval or make them not overlap"
            )


def build_weekly(spec: Mapping[str, str | list[str]]) -> tuple[tuple[Interval, ...], ...]:
    """Build the 7-day table from e.g. {'mon-fri': '07:00-19:00'}; unlisted days are closed."""
    week: list[tuple[Interval, ...] | None] = [None] * len(WEEKDAYS)
    for days_text, hours in spec.items():
        intervals = parse_intervals(hours)
        for day in parse_days(days_text):
            if week[day] is not None:
                raise ValueError(
                    f"day {WEEKDAYS[day]!r} is given twice (again in {days_text!r}); "
                    "list each day only once, putting all its hours in one entry"
                )
            week[day] = intervals
    return tuple(day_hours or () for day_hours in week)


# ---------------------------------------------------------------------------
# Holiday calendars
# ---------------------------------------------------------------------------


def build_calendar(
    countries: Sequence[str], subdiv: str | None = None, language: str = "es"
) -> HolidayBase | None:
    """Combine the national holiday calendars of `countries` (None when the list is empty)."""
    if isinstance(countries, str):
        raise TypeError(f"countries must be a list of codes such as [{countries!r}], not a string")
    calendars = [_country_calendar(code, subdiv, language) for code in countries]
    if not calendars:
        return None
    return reduce(operator.add, calendars)


def _country_calendar(code: str, subdiv: str | None, language: str) -> HolidayBase:
    """Return one country's calendar, in `language` when that country supports it."""
    supported = list_supported_countries()
    if not isinstance(code, str) or code.strip().upper() not in supported:
        raise ValueError(
            f"unknown country code {code!r}; use an ISO 3166-1 alpha-2 code listed by "
            "holidays.list_supported_countries(), e.g. 'CO' or 'VE'"
        )
    country = code.strip().upper()
    try:
        return country_holidays(country, subdiv=subdiv, language=_pick_language(country, language))
    except NotImplementedError:
        raise ValueError(
            f"country {country!r} has no subdivision {subdiv!r}; valid ones are listed by "
            f"holidays.list_supported_countries()[{country!r}]"
        ) from None


def _pick_language(country: str, language: str) -> str | None:
    """Return the best supported language code for `country`, or None for its default."""
    available = list_localized_countries().get(country, [])
    if language in available:
        return language
    base = language.split("_")[0]
    return next((code for code in available if code.split("_")[0] == base), None)


# ---------------------------------------------------------------------------
# The schedule
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """Whether the line is open at some instant, and why.

    `reason` names the rule that decided: 'special', 'closed_date', 'holiday' or 'schedule'.
    """

    open: bool
    reason: str
    holiday: str | None = None


def _empty_special() -> Mapping[date, tuple[Interval, ...]]:
    """Return a fresh read-only empty mapping for `Schedule.special`."""
    return MappingProxyType({})


@dataclass(frozen=True)
class Schedule:
    """Opening hours in one time zone: weekly hours overridden by special/closed dates/holidays."""

    tz: ZoneInfo
    weekly: tuple[tuple[Interval, ...], ...]
    holidays: HolidayBase | None = field(default=None, hash=False)
    closed_dates: frozenset[date] = frozenset()
    special: Mapping[date, tuple[Interval, ...]] = field(default_factory=_empty_special, hash=False)

    def __post_init__(self) -> None:
        """Keep read-only copies of the dates, so the caller's collections can change freely."""
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        object.__setattr__(self, "special", MappingProxyType(dict(self.special)))

    def status(self, at: datetime) -> Status:
        """Return the open/closed status at the aware instant `at`."""
        return self._status_local(self._to_local(at))

    def is_open(self, at: datetime) -> bool:
        """Return True if the line is open at the aware instant `at`."""
        return self.status(at).open

    def next_change(self, at: datetime, horizon_days: int = 400) -> datetime | None:
        """Return the next instant (in `tz`) where open/closed flips, or None within the horizon."""
        local = self._to_local(at)
        start = local.astimezone(UTC)
        limit = start + timedelta(days=horizon_days)
        currently_open = self._status_local(local).open
        for instant in self._candidates(local.date() - timedelta(days=1), limit):
            if instant > limit:
                return None
            if instant > start and self._is_open_utc(instant) != currently_open:
                return instant.astimezone(self.tz)
        return None

    def hours_on(self, day: date) -> tuple[Interval, ...]:
        """Return the opening intervals of local `day`: special, closed date, holiday or weekly."""
        return self._plan(day)[0]

    def _to_local(self, at: datetime) -> datetime:
        """Convert an aware datetime to this schedule's zone, refusing naive ones."""
        return require_aware(at).astimezone(self.tz)

    def _status_local(self, local: datetime) -> Status:
        """Return the status for a datetime already expressed in `tz`."""
        intervals, reason, holiday = self._plan(local.date())
        return Status(open=_contains(intervals, local.time()), reason=reason, holiday=holiday)

    def _is_open_utc(self, instant: datetime) -> bool:
        """Return whether the line is open at a UTC instant."""
        return self._status_local(instant.astimezone(self.tz)).open

    def _plan(self, day: date) -> tuple[tuple[Interval, ...], str, str | None]:
        """Return the opening intervals that apply on local `day`, with reason and holiday name."""
        if day in self.special:
            return self.special[day], "special", None
        if day in self.closed_dates:
            return (), "closed_date", None
        holiday = self.holidays.get(day) if self.holidays is not None else None
        if holiday is not None:
            return (), "holiday", holiday
        return self.weekly[day.weekday()], "schedule", None

    def _candidates(self, first_day: date, limit: datetime) -> Iterator[datetime]:
        """Yield, in order, every UTC instant at which the open state could flip."""
        low = first_day
        while self._midnight(low) <= limit:
            high = low + timedelta(days=_WINDOW_DAYS)
            yield from self._window_candidates(low, high)
            low = high

    def _window_candidates(self, low: date, high: date) -> list[datetime]:
        """Return the sorted candidate instants in [midnight(low), midnight(high))."""
        begin, end = self._midnight(low), self._midnight(high)
        walls = {
            wall_instant(day, minute, self.tz, fold)
            for day in _date_range(low - timedelta(days=1), high + timedelta(days=1))
            for minute in self._boundaries(day)
            for fold in (0, 1)
        }
        inside = sorted(instant for instant in walls if begin <= instant < end)
        samples = [begin, *inside, end]
        shifts = {
            offset_change(before, after, self.tz)
            for before, after in pairwise(samples)
            if utc_offset(before, self.tz) != utc_offset(after, self.tz)
        }
        return sorted(set(inside) | {instant for instant in shifts if instant < end})

    def _boundaries(self, day: date) -> set[int]:
        """Return the wall-clock minutes of `day` where its open state may change."""
        intervals, _, _ = self._plan(day)
        return {0} | {minute for interval in intervals for minute in interval}

    def _midnight(self, day: date) -> datetime:
        """Return the UTC instant of the first local midnight of `day`."""
        return wall_instant(day, 0, self.tz)


def _contains(intervals: Sequence[Interval], moment: time) -> bool:
    """Return True if the wall-clock `moment` falls inside one of the half-open intervals.

    Interval ends are whole minutes, so the minute `moment` falls in decides.
    """
    minute = moment.hour * 60 + moment.minute
    return any(start <= minute < end for start, end in intervals)


def _date_range(first: date, stop: date) -> Iterator[date]:
    """Yield the dates from `first` up to but excluding `stop`."""
    for offset in range((stop - first).days):
        yield first + timedelta(days=offset)
