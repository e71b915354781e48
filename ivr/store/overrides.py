"""Hours overrides in the database: set from the CLI, read by every worker, expiring alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.core.moment import HoursOverride
from ivr.store.console_tables import OnCallOverrideRow
from ivr.store.tables import HoursOverrideRow


class OverrideError(ValueError):
    """An override that cannot be set or cancelled (and why)."""


def add(
    db: Session, *, line: str, node: str | None, open_: bool, starts_at: datetime,
    until: datetime, reason: str | None, now: datetime,
) -> HoursOverrideRow:
    """Force a line or node open or closed from `starts_at` until `until`."""
    check_period(starts_at, until, now)
    row = HoursOverrideRow(line=line, node=node, state="open" if open_ else "closed",
                           starts_at=starts_at, until=until, reason=reason, created_at=now)
    db.add(row)
    db.commit()
    return row


def cancel(db: Session, override_id: int, now: datetime) -> HoursOverrideRow:
    """End an override now."""
    return end_now(db, HoursOverrideRow, override_id, now, "override")


def check_period(starts_at: datetime, until: datetime, now: datetime) -> None:
    """Refuse a period that ends before it starts, or is already over (OverrideError)."""
    if until <= starts_at:
        raise OverrideError(f"until {until.isoformat()!r} is not after {starts_at.isoformat()!r}")
    if until <= now:
        raise OverrideError(f"until {until.isoformat()!r} is already past")


Cancellable = TypeVar("Cancellable", HoursOverrideRow, OnCallOverrideRow)


def end_now(
    db: Session, model: type[Cancellable], override_id: int, now: datetime, what: str
) -> Cancellable:
    """End an hours or on-call override now; OverrideError when none such is in force."""
    row = db.get(model, override_id)
    if row is None or row.cancelled_at is not None:
        raise OverrideError(f"no active {what} {override_id!r}")
    row.cancelled_at = now
    db.commit()
    return row


def active(db: Session, line: str, now: datetime) -> tuple[HoursOverride, ...]:
    """The overrides of `line` in force at `now`, the newest first (the newest wins)."""
    query = (
        sa.select(HoursOverrideRow)
        .where(HoursOverrideRow.line == line, HoursOverrideRow.until > now,
               HoursOverrideRow.starts_at <= now, HoursOverrideRow.cancelled_at.is_(None))
        .order_by(HoursOverrideRow.created_at.desc(), HoursOverrideRow.id.desc())
    )
    return tuple(HoursOverride(row.id, row.node, row.state == "open", row.until)
                 for row in db.scalars(query))


def listing(db: Session, now: datetime, everything: bool = False) -> Sequence[HoursOverrideRow]:
    """Overrides still to come or in force (or all of them), the newest first."""
    query = sa.select(HoursOverrideRow).order_by(HoursOverrideRow.id.desc())
    if not everything:
        query = query.where(HoursOverrideRow.until > now, HoursOverrideRow.cancelled_at.is_(None))
    return db.scalars(query).all()
