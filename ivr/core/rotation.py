"""Who takes priority-1 calls: an on-call rotation with wall-clock hand-offs and dated overrides.

A ``Rotation`` lists contacts (named by role) in the order they take turns.  Without a
``Handoff`` the order is fixed and ``contacts[0]`` is always first.  With one, the turn passes to
the next contact every day or every week at a local wall-clock time in the rotation's zone, so
daylight-saving changes never move a hand-off: turns are counted in local calendar dates from
the ``anchor`` date, on which ``contacts[0]`` took over.  A hand-off time the clocks skip happens
at the first valid instant after it; a hand-off time the clocks repeat happens at its first
occurrence.  Dated ``Override`` entries put a given contact on call for ``[start, until)``.

All comparisons between instants are made in UTC: Python compares two datetimes sharing one
``tzinfo`` by wall time, which is wrong around a fall-back change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ivr.core.wall_clock import MINUTES_PER_DAY, WEEKDAYS, first_instant, require_aware, to_utc

EVERY = ("day", "week")
SOURCES = ("fixed", "rotation", "override")

_DAYS_PER_WEEK = 7
_LOOKAHEAD_DAYS = 2


# ---------------------------------------------------------------------------
# Configuration values
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """Someone to ring, named by role (e.g. 'guardia principal'), with an E.164 number."""

    role: str
    number: str

    def __post_init__(self) -> None:
        """Refuse empty or non-string roles and numbers."""
        _require_text("role", self.role, "'guardia principal'")
        _require_text("number", self.number, "an E.164 number, '+' and digits")


@dataclass(frozen=True)
class Override:
    """Put `contacts[contact]` on call for the half-open period ``[start, until)``."""

    start: datetime
    until: datetime
    contact: int


@dataclass(frozen=True)
class Handoff:
    """When the turn passes on: every day, or every week on `weekday`, at local `minute`."""

    every: Literal["day", "week"]
    weekday: int
    minute: int

    def __post_init__(self) -> None:
        """Refuse unknown periods, weekdays outside 0..6 and minutes outside the day."""
        if self.every not in EVERY:
            raise ValueError(f"hand-off every {self.every!r} is not supported; use 'day' or 'week'")
        if self.every == "week" and (not _is_int(self.weekday) or not 0 <= self.weekday <= 6):
            raise ValueError(
                f"hand-off weekday {self.weekday!r} is out of range; use 0 (Monday) to 6 (Sunday)"
            )
        if not _is_int(self.minute) or not 0 <= self.minute < MINUTES_PER_DAY:
            raise ValueError(
                f"hand-off minute {self.minute!r} is out of range; give minutes from local "
                f"midnight, 0 to {MINUTES_PER_DAY - 1} (08:00 is 480)"
            )


@dataclass(frozen=True)
class OnCall:
    """Who is on call at an instant, what decided it, and the period this answer holds for."""

    contact: Contact
    source: str
    override: Override | None
    since: datetime | None
    until: datetime | None


# ---------------------------------------------------------------------------
# The rotation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Turn:
    """The rotation's own turn at an instant: contact index and its UTC bounds."""

    index: int
    since: datetime | None
    until: datetime | None


@dataclass(frozen=True)
class _Grid:
    """The hand-off dates (every `step` days from `anchor`) and their instants in `tz`."""

    tz: ZoneInfo
    anchor: date
    step: int
    minute: int

    def instant(self, day: date) -> datetime:
        """Return the UTC instant of the hand-off on local date `day`."""
        return first_instant(day, self.minute, self.tz)

    def turn_day(self, moment: datetime) -> date:
        """Return the hand-off date of the turn running at the UTC instant `moment`."""
        day = moment.astimezone(self.tz).date() + timedelta(days=_LOOKAHEAD_DAYS)
        day -= timedelta(days=(day - self.anchor).days % self.step)
        while self.instant(day) > moment:
            day -= timedelta(days=self.step)
        return day

    def next_day(self, day: date) -> date:
        """Return the hand-off date after `day`."""
        return day + timedelta(days=self.step)

    def turns(self, day: date) -> int:
        """Return how many hand-offs separate the anchor from the one on `day` (negative before)."""
        return (day - self.anchor).days // self.step


@dataclass(frozen=True)
class Rotation:
    """Contacts taking priority-1 calls in turn, with hand-offs in `tz` and dated overrides."""

    contacts: tuple[Contact, ...]
    tz: ZoneInfo
    handoff: Handoff | None = None
    anchor: date | None = None
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        """Validate and freeze the configuration so mistakes surface at startup."""
        object.__setattr__(self, "contacts", _validated_contacts(self.contacts))
        _check_zone(self.tz)
        _check_handoff(self.handoff, self.anchor)
        object.__setattr__(
            self, "overrides", _validated_overrides(self.overrides, len(self.contacts))
        )

    def on_call(self, at: datetime) -> OnCall:
        """Return who is on call at the aware instant `at`, why, and until when."""
        moment = to_utc(require_aware(at, "at"))
        turn = self._turn(moment)
        decider = self._deciding_override(moment)
        upcoming = self._next_override_start(moment)
        if decider is not None:
            return OnCall(
                contact=self.contacts[decider.contact],
                source="override",
                override=decider,
                since=self._local(to_utc(decider.start)),
                until=self._local(_earliest(to_utc(decider.until), upcoming)),
            )
        return OnCall(
            contact=self.contacts[turn.index],
            source="fixed" if self.handoff is None else "rotation",
            override=None,
            since=self._local(turn.since),
            until=self._local(_earliest(turn.until, upcoming)),
        )

    def order(self, at: datetime) -> tuple[Contact, ...]:
        """Return everyone, in the order a priority-1 chain rings them at the instant `at`."""
        moment = to_utc(require_aware(at, "at"))
        current = self._turn(moment).index
        decider = self._deciding_override(moment)
        count = len(self.contacts)
        cycle = [self.contacts[(current + step) % count] for step in range(count)]
        first = [] if decider is None else [self.contacts[decider.contact]]
        return _unique([*first, *cycle])

    def handoffs(self, start: datetime, end: datetime) -> list[datetime]:
        """Return every hand-off instant in ``[start, end)``, in `tz` and in time order."""
        low, high = _span(start, end)
        grid = self._grid()
        if grid is None:
            return []
        day = grid.turn_day(low)
        if grid.instant(day) < low:
            day = grid.next_day(day)
        instants: list[datetime] = []
        while (instant := grid.instant(day)) < high:
            if not instants or instant > instants[-1]:
                instants.append(instant)
            day = grid.next_day(day)
        return [instant.astimezone(self.tz) for instant in instants]

    def gaps(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Return the periods in ``[start, end)`` with nobody on call: none, given any contact."""
        _span(start, end)
        return [] if self.contacts or start == end else [(start, end)]

    def _grid(self) -> _Grid | None:
        """Return the hand-off grid, or None for a fixed order."""
        if self.handoff is None or self.anchor is None:
            return None
        step = 1 if self.handoff.every == "day" else _DAYS_PER_WEEK
        return _Grid(self.tz, self.anchor, step, self.handoff.minute)

    def _turn(self, moment: datetime) -> _Turn:
        """Return the rotation's own turn (ignoring overrides) at the UTC instant `moment`."""
        grid = self._grid()
        if grid is None:
            return _Turn(0, None, None)
        day = grid.turn_day(moment)
        return _Turn(
            index=grid.turns(day) % len(self.contacts),
            since=grid.instant(day),
            until=grid.instant(grid.next_day(day)),
        )

    def _deciding_override(self, moment: datetime) -> Override | None:
        """Return the active override that started latest (the later listed on a tie), if any."""
        active = [
            (to_utc(override.start), position, override)
            for position, override in enumerate(self.overrides)
            if to_utc(override.start) <= moment < to_utc(override.until)
        ]
        if not active:
            return None
        return max(active, key=lambda entry: entry[:2])[2]

    def _next_override_start(self, moment: datetime) -> datetime | None:
        """Return the earliest UTC override start after `moment`: it takes over when it comes."""
        starts = [to_utc(override.start) for override in self.overrides]
        return min((start for start in starts if start > moment), default=None)

    def _local(self, instant: datetime | None) -> datetime | None:
        """Express an instant in the rotation's zone (None stays None)."""
        return None if instant is None else instant.astimezone(self.tz)


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------


def _validated_contacts(contacts: Sequence[Contact]) -> tuple[Contact, ...]:
    """Return the contacts as a tuple, refusing a non-sequence, a non-Contact or none at all."""
    if not isinstance(contacts, list | tuple):
        raise TypeError(
            f"contacts must be a tuple of Contact, got {contacts!r}; "
            "write e.g. (Contact('guardia principal', NUMBER),) with NUMBER in E.164"
        )
    for position, contact in enumerate(contacts):
        if not isinstance(contact, Contact):
            raise TypeError(
                f"contacts[{position}] is {contact!r}, not a Contact; "
                "build it as Contact(role, number)"
            )
    if not contacts:
        raise ValueError(
            f"a rotation needs at least one contact, got {contacts!r}; "
            "list who takes priority-1 calls, e.g. (Contact('guardia principal', '+57...'),)"
        )
    return tuple(contacts)


def _check_zone(tz: object) -> None:
    """Refuse a time zone that is not a ZoneInfo."""
    if not isinstance(tz, ZoneInfo):
        raise TypeError(f"tz must be a ZoneInfo, got {tz!r}; use e.g. ZoneInfo('America/Bogota')")


def _check_handoff(handoff: object, anchor: object) -> None:
    """Refuse a hand-off without a usable anchor date, or an anchor without a hand-off."""
    if handoff is None:
        if anchor is not None:
            raise ValueError(
                f"anchor {anchor!r} is given without a handoff; remove the anchor for a fixed "
                "order, or add a Handoff saying when the turn passes on"
            )
        return
    if not isinstance(handoff, Handoff):
        raise TypeError(
            f"handoff must be a Handoff or None, got {handoff!r}; "
            "write e.g. Handoff(every='week', weekday=0, minute=480)"
        )
    if anchor is None:
        raise ValueError(
            f"handoff {handoff!r} needs an anchor; give the date of a hand-off on which "
            "contacts[0] took over, e.g. anchor=date(2026, 1, 5)"
        )
    if isinstance(anchor, datetime) or not isinstance(anchor, date):
        raise TypeError(
            f"anchor must be a date, got {anchor!r}; the hand-off time comes from the "
            "Handoff, so pass only the day, e.g. date(2026, 1, 5)"
        )
    if handoff.every == "week" and anchor.weekday() != handoff.weekday:
        raise ValueError(
            f"anchor {anchor!r} is a {WEEKDAYS[anchor.weekday()]}, but the weekly hand-off is "
            f"on {WEEKDAYS[handoff.weekday]} (weekday {handoff.weekday}); move the anchor to "
            "a hand-off day"
        )


def _validated_overrides(overrides: Sequence[Override], count: int) -> tuple[Override, ...]:
    """Return the overrides as a tuple, refusing bad periods and unknown contact indexes."""
    if not isinstance(overrides, list | tuple):
        raise TypeError(f"overrides must be a tuple of Override, got {overrides!r}")
    for position, override in enumerate(overrides):
        _check_override(override, f"overrides[{position}]", count)
    return tuple(overrides)


def _check_override(override: object, name: str, count: int) -> None:
    """Refuse a non-Override, naive or reversed times, or a contact index outside the rotation."""
    if not isinstance(override, Override):
        raise TypeError(
            f"{name} is {override!r}, not an Override; build it as Override(start, until, contact)"
        )
    start = require_aware(override.start, f"{name} start")
    until = require_aware(override.until, f"{name} until")
    if to_utc(until) <= to_utc(start):
        raise ValueError(
            f"{name} until {until!r} is not after its start {start!r}; an override covers "
            "[start, until), so give an until later than the start"
        )
    if not _is_int(override.contact):
        raise TypeError(
            f"{name} contact {override.contact!r} is not an int; give the position "
            "(0, 1, 2, ...) of the contact in the rotation's contacts"
        )
    if not 0 <= override.contact < count:
        raise ValueError(
            f"{name} names contact {override.contact!r}, but the rotation has {count} "
            f"contact(s); use an index from 0 to {count - 1}"
        )


def _require_text(name: str, value: object, example: str) -> None:
    """Refuse a value that is not a non-empty string."""
    if not isinstance(value, str):
        raise TypeError(f"contact {name} must be a string, got {value!r}; e.g. {example}")
    if not value.strip():
        raise ValueError(f"contact {name} {value!r} must be a non-empty string, e.g. {example}")


def _is_int(value: object) -> bool:
    """Return True for a real int (bool excluded)."""
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------
# Instants
# ---------------------------------------------------------------------------


def _span(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Return `start` and `end` in UTC, refusing naive times and a reversed range."""
    low = to_utc(require_aware(start, "start"))
    high = to_utc(require_aware(end, "end"))
    if high < low:
        raise ValueError(
            f"end {end!r} is before start {start!r}; pass the earlier instant as start"
        )
    return low, high


def _earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    """Return the earlier of two optional UTC instants (None means never)."""
    if first is None or second is None:
        return second if first is None else first
    return min(first, second)


def _unique(contacts: Sequence[Contact]) -> tuple[Contact, ...]:
    """Return the contacts in order with repeats dropped."""
    return tuple(dict.fromkeys(contacts))
