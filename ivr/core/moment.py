"""When a decision is made: the time, and the hours and on-call overrides in force.

The store reads overrides from the database and returns them as `HoursOverride`; the web layer
wraps them with the time in a `Moment`; the navigator decides with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ivr.core.lines import Line
from ivr.core.rotation import Override, Rotation

# The years a time given by an admin may fall in: room on both sides for a week's hand-offs
# and the conversion to UTC, which fail past year 9999.
FIRST_YEAR, LAST_YEAR = 1900, 9998


def within_years(moment: datetime) -> datetime:
    """`moment` itself, or a ValueError when it is too far from now to reckon with."""
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(f"{moment:%Y-%m-%d %H:%M} is out of range: give a date between "
                         f"{FIRST_YEAR} and {LAST_YEAR}")
    return moment


@dataclass(frozen=True)
class HoursOverride:
    """An admin forced a line (`node` None) or a node open or closed until a given time."""

    id: int
    node: str | None
    open: bool
    until: datetime


@dataclass(frozen=True)
class OnCallOverride:
    """An on-call override set from the console: `contact` of `rotation` from start to until."""

    id: int
    rotation: str
    contact: int
    start: datetime
    until: datetime


@dataclass(frozen=True)
class Moment:
    """When a decision is made: the time, and the hours overrides in force then."""

    at: datetime
    overrides: tuple[HoursOverride, ...] = ()
    on_call: tuple[OnCallOverride, ...] = ()

    def rotation(self, line: Line, name: str) -> Rotation:
        """The line's rotation `name`, with the on-call overrides set from the console."""
        rotation = line.rotations[name]
        extra = tuple(Override(o.start, o.until, o.contact) for o in self.on_call
                      if o.rotation == name and 0 <= o.contact < len(rotation.contacts))
        return replace(rotation, overrides=rotation.overrides + extra) if extra else rotation

    def override_for(self, node_id: str, has_hours: bool) -> HoursOverride | None:
        """The override for this node, else the line's (which only touches nodes with hours)."""
        line_wide = None
        for override in self.overrides:  # newest first: the newest instruction wins
            if override.node == node_id:
                return override
            if override.node is None and has_hours and line_wide is None:
                line_wide = override
        return line_wide
