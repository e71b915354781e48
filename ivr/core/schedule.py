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
from typing import Any
from zoneinfo import ZoneInfo

from holidays import (
    HolidayBase,
    country_holidays,
    list_localized_countries,
    list_supported_countries,
)

Interval = tuple[int, int]
"""Minutes from local midnight, half-open ``[start, end)``; ``0 <= start < end <= 1440``."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
REASONS = ("schedule", "special", "closed_date", "holiday")

_INTERVAL_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")
_CLOSED_WORD = "closed"
_ALL_DAYS_WORD = "daily"
_WINDOW_DAYS = 7
_RESOLUTION = timedelta(microseconds=1)
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
    """Whether the line is open at some instant, and why."""

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
        """Validate and freeze the configuration so mistakes surface at startup."""
        if not isinstance(self.tz, ZoneInfo):
            raise TypeError(
                f"tz must be a ZoneInfo, got {self.tz!r}; use e.g. ZoneInfo('America/Bogota')"
            )
        if self.holidays is not None and not isinstance(self.holidays, HolidayBase):
            raise TypeError(
                f"holidays must be a holidays.HolidayBase or None, got {self.holidays!r}; "
                "build one with build_calendar(['CO'])"
            )
        object.__setattr__(self, "weekly", _validated_week(self.weekly))
        object.__setattr__(self, "closed_dates", _validated_dates(self.closed_dates))
        object.__setattr__(self, "special", _validated_special(self.special))

    def status(self, at: datetime) -> Status:
        """Return the open/closed status at the aware instant `at`."""
        return self._status_local(self._to_local(at))

    def is_open(self, at: datetime) -> bool:
        """Return True if the line is open at the aware instant `at`."""
        return self.status(at).open

    def next_change(self, at: datetime, horizon_days: int = 400) -> datetime | None:
        """Return the next instant (in `tz`) where open/closed flips, or None within the horizon."""
        if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 0:
            raise ValueError(f"horizon_days must be a non-negative int, got {horizon_days!r}")
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

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The opening intervals (minutes of the day) of local `day`, holidays included."""
        return self._plan(day)[0]

    def _to_local(self, at: datetime) -> datetime:
        """Convert an aware datetime to this schedule's zone, refusing naive ones."""
        if not isinstance(at, datetime):
            raise TypeError(f"expected a datetime, got {at!r}")
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(
                f"datetime {at!r} is naive; pass a timezone-aware datetime, e.g. "
                "datetime.now(tz=ZoneInfo('America/Bogota')) or at.replace(tzinfo=...)"
            )
        return at.astimezone(self.tz)

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
            self._wall_instant(day, minute, fold)
            for day in _date_range(low - timedelta(days=1), high + timedelta(days=1))
            for minute in self._boundaries(day)
            for fold in (0, 1)
        }
        inside = sorted(instant for instant in walls if begin <= instant < end)
        samples = [begin, *inside, end]
        shifts = {
            self._offset_change(before, after)
            for before, after in pairwise(samples)
            if self._offset(before) != self._offset(after)
        }
        return sorted(set(inside) | {instant for instant in shifts if instant < end})

    def _boundaries(self, day: date) -> set[int]:
        """Return the wall-clock minutes of `day` where its open state may change."""
        intervals, _, _ = self._plan(day)
        return {0} | {minute for interval in intervals for minute in interval}

    def _midnight(self, day: date) -> datetime:
        """Return the UTC instant of the first local midnight of `day`."""
        return self._wall_instant(day, 0, 0)

    def _wall_instant(self, day: date, minute: int, fold: int) -> datetime:
        """Return the UTC instant of wall time `minute` on `day` (fold picks DST repeats)."""
        wall = datetime.combine(day, time(), tzinfo=self.tz) + timedelta(minutes=minute)
        return wall.replace(fold=fold).astimezone(UTC)

    def _offset(self, instant: datetime) -> timedelta | None:
        """Return the UTC offset of `tz` at a UTC instant."""
        return instant.astimezone(self.tz).utcoffset()

    def _offset_change(self, before: datetime, after: datetime) -> datetime:
        """Binary-search the first instant in (before, after] with a different UTC offset."""
        original = self._offset(before)
        while after - before > _RESOLUTION:
            middle = before + (after - before) // 2
            if self._offset(middle) == original:
                before = middle
            else:
                after = middle
        return after


def _contains(intervals: Sequence[Interval], moment: time) -> bool:
    """Return True if the wall-clock `moment` falls inside one of the half-open intervals."""
    elapsed = timedelta(
        hours=moment.hour,
        minutes=moment.minute,
        seconds=moment.second,
        microseconds=moment.microsecond,
    )
    return any(
        timedelta(minutes=start) <= elapsed < timedelta(minutes=end) for start, end in intervals
    )


def _date_range(first: date, stop: date) -> Iterator[date]:
    """Yield the dates from `first` up to but excluding `stop`."""
    for offset in range((stop - first).days):
        yield first + timedelta(days=offset)


def _validated_week(weekly: Any) -> tuple[tuple[Interval, ...], ...]:
    """Check the weekly table has 7 valid days and return it as nested tuples."""
    if not isinstance(weekly, Sequence) or len(weekly) != len(WEEKDAYS):
        raise ValueError(
            f"weekly must have exactly 7 entries (Monday first), got {weekly!r}; "
            "use () for closed days or build it with build_weekly({'mon-fri': '07:00-19:00'})"
        )
    return tuple(
        _validated_intervals(day, f"weekly[{index}] ({WEEKDAYS[index]})")
        for index, day in enumerate(weekly)
    )


def _validated_intervals(intervals: Any, where: str) -> tuple[Interval, ...]:
    """Check intervals are in-range, sorted and non-overlapping; return them as a tuple."""
    if isinstance(intervals, str) or not isinstance(intervals, Sequence):
        raise TypeError(
            f"{where} must be a tuple of (start, end) minute pairs, got {intervals!r}; "
            "parse text with parse_intervals('07:00-19:00')"
        )
    result = tuple(_validated_interval(interval, where) for interval in intervals)
    if list(result) != sorted(result):
        raise ValueError(f"{where} intervals {result!r} are not sorted; sort them by start time")
    _check_no_overlap(result, where)
    return result


def _validated_interval(interval: Any, where: str) -> Interval:
    """Check one (start, end) pair satisfies 0 <= start < end <= 1440."""
    valid = (
        isinstance(interval, Sequence)
        and len(interval) == 2
        and all(isinstance(value, int) and not isinstance(value, bool) for value in interval)
        and 0 <= interval[0] < interval[1] <= MINUTES_PER_DAY
    )
    if not valid:
        raise ValueError(
            f"{where} has invalid interval {interval!r}; use (start, end) minutes from midnight "
            f"with 0 <= start < end <= {MINUTES_PER_DAY}, e.g. (420, 1140) for 07:00-19:00"
        )
    return (interval[0], interval[1])


def _validated_dates(dates: Any) -> frozenset[date]:
    """Check closed dates are plain dates (not datetimes) and return them as a frozenset."""
    result = frozenset(dates)
    for day in result:
        _check_plain_date(day, "closed_dates")
    return result


def _validated_special(special: Any) -> Mapping[date, tuple[Interval, ...]]:
    """Check special dates and their intervals; return a read-only copy."""
    if not isinstance(special, Mapping):
        raise TypeError(f"special must be a mapping of date -> intervals, got {special!r}")
    checked: dict[date, tuple[Interval, ...]] = {}
    for day, intervals in special.items():
        _check_plain_date(day, "special")
        checked[day] = _validated_intervals(intervals, f"special[{day.isoformat()}]")
    return MappingProxyType(checked)


def _check_plain_date(value: Any, where: str) -> None:
    """Raise TypeError unless `value` is a date that is not a datetime."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(
            f"{where} entry {value!r} must be a datetime.date; use date(2026, 12, 24) "
            "or datetime.date() to drop the time"
        )
