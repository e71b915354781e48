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

from ivr.core.wall_clock import first_instant, require_aware, to_utc

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


@dataclass(frozen=True)
class OnCall:
    """Who is on call at an instant, what decided it, and the period this answer holds for.

    `source` is 'fixed' (no hand-offs), 'rotation' (the turn) or 'override'.
    """

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
        """Keep the contacts and overrides as tuples, so a rotation is a hashable value."""
        object.__setattr__(self, "contacts", tuple(self.contacts))
        object.__setattr__(self, "overrides", tuple(self.overrides))

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
