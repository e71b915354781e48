"""What the supervisor pages show of a line: open or closed, and who is on call.

Open or closed now and why, until when; who is on call now and next (with the console's dated
overrides).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from ivr.core.lines import Line
from ivr.core.moment import HoursOverride, Moment
from ivr.core.rotation import Contact


@dataclass(frozen=True)
class HoursNow:
    """One schedule of a line: open or not, why, and when that changes."""

    schedule: str
    open: bool
    why: str
    until: datetime | None
    hours: str


@dataclass(frozen=True)
class OnCallNow:
    """A rotation: who is on call, until when, and who comes next."""

    rotation: str
    contact: Contact
    source: str
    until: datetime | None
    next_contact: Contact | None
    contacts: tuple[Contact, ...]


def zone(line: Line) -> ZoneInfo:
    """The line's time zone."""
    return ZoneInfo(line.spec.timezone)


def hours_now(line: Line, at: datetime, overrides: tuple[HoursOverride, ...]) -> list[HoursNow]:
    """Each schedule of the line at `at`, and why it is open or closed.

    The newest line-wide override decides, else the schedule (holiday, closed date, special
    hours, weekly hours).
    """
    line_wide = next((o for o in overrides if o.node is None), None)
    found = []
    for schedule_id, schedule in line.schedules.items():
        text = line.hours_text.get(schedule_id, "")
        if line_wide is not None:
            why = _("forzada por un supervisor (%(id)s)", id=line_wide.id)
            found.append(HoursNow(schedule_id, line_wide.open, why,
                                  line_wide.until.astimezone(zone(line)), text))
            continue
        status = schedule.status(at)
        reasons = {"schedule": _("horario semanal"), "special": _("horario especial del día"),
                   "closed_date": _("fecha cerrada"),
                   "holiday": _("festivo: %(name)s", name=status.holiday or "")}
        change = schedule.next_change(at)
        found.append(HoursNow(schedule_id, status.open, reasons.get(status.reason, status.reason),
                              change.astimezone(zone(line)) if change else None, text))
    return found


def on_call_now(line: Line, now: Moment) -> list[OnCallNow]:
    """Each rotation of the line: who is on call at `now` and who takes over next."""
    found = []
    for name in line.rotations:
        rotation = now.rotation(line, name)
        turn = rotation.on_call(now.at)
        following = rotation.on_call(turn.until).contact if turn.until else None
        found.append(OnCallNow(name, turn.contact, turn.source, turn.until, following,
                               rotation.contacts))
    return found
