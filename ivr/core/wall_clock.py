"""Wall-clock time in a zone: weekdays, minutes of the day, the instant of a wall time, DST.

Schedules and on-call rotations both speak in local wall-clock time (a date and minutes from
its midnight) and answer about instants.  The conversions between the two, the search for the
exact instant a zone changes its UTC offset, and the refusal of naive datetimes live here.

Instants are compared in UTC: Python compares two datetimes sharing one ``tzinfo`` by wall
time, which is wrong around a fall-back change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names in `date.weekday()` order (Monday = 0), as menu files write them."""

MINUTES_PER_DAY = 24 * 60

_RESOLUTION = timedelta(microseconds=1)
_AWARE_EXAMPLE = "datetime(2026, 3, 9, 8, 0, tzinfo=ZoneInfo('America/Bogota'))"


def require_aware(value: object, name: str = "at") -> datetime:
    """Return `value` if it is an aware datetime; refuse anything else, naming it `name`."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}; use e.g. {_AWARE_EXAMPLE}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} {value!r} is naive; pass a timezone-aware datetime, e.g. {_AWARE_EXAMPLE}"
        )
    return value


def to_utc(at: datetime) -> datetime:
    """Return an aware datetime in UTC."""
    return at.astimezone(UTC)


def utc_offset(instant: datetime, tz: ZoneInfo) -> timedelta | None:
    """Return the UTC offset of `tz` at an aware instant."""
    return instant.astimezone(tz).utcoffset()


def wall_instant(day: date, minute: int, tz: ZoneInfo, fold: int = 0) -> datetime:
    """Return the UTC instant of wall time `minute` after local midnight of `day` in `tz`.

    `fold` picks the first (0) or second (1) of a repeated wall time; a skipped one is read
    with the offset from before (fold 0) or after (fold 1) the change, as `zoneinfo` does.
    """
    wall = datetime.combine(day, time(), tzinfo=tz) + timedelta(minutes=minute)
    return wall.replace(fold=fold).astimezone(UTC)


def first_instant(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of a wall time: its first occurrence, or the first valid after it."""
    first = wall_instant(day, minute, tz, fold=0)
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    other = wall_instant(day, minute, tz, fold=1)
    return offset_change(min(first, other), max(first, other), tz)


def offset_change(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """Binary-search the first UTC instant in (before, after] where `tz` changes its offset."""
    original = utc_offset(before, tz)
    while after - before > _RESOLUTION:
        middle = before + (after - before) // 2
        if utc_offset(middle, tz) == original:
            before = middle
        else:
            after = middle
    return after
