"""Dated on-call overrides in the database: set from the console, honoured by every worker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.core.moment import OnCallOverride
from ivr.store.console_tables import OnCallOverrideRow
from ivr.store.overrides import check_period, end_now


def add(db: Session, *, line: str, rotation: str, contact: int, starts_at: datetime,
        until: datetime, reason: str | None, now: datetime) -> OnCallOverrideRow:
    """Put a rotation's contact on call from `starts_at` until `until`."""
    check_period(starts_at, until, now)
    row = OnCallOverrideRow(line=line, rotation=rotation, contact=contact, starts_at=starts_at,
                            until=until, reason=reason, created_at=now)
    db.add(row)
    db.commit()
    return row


def cancel(db: Session, override_id: int, now: datetime) -> OnCallOverrideRow:
    """End an on-call override now."""
    return end_now(db, OnCallOverrideRow, override_id, now, "on-call override")


def active(db: Session, line: str, now: datetime) -> tuple[OnCallOverride, ...]:
    """The line's on-call overrides not yet over at `now` (those to come too), oldest first."""
    query = (sa.select(OnCallOverrideRow)
             .where(OnCallOverrideRow.line == line, OnCallOverrideRow.until > now,
                    OnCallOverrideRow.cancelled_at.is_(None))
             .order_by(OnCallOverrideRow.id))
    return tuple(OnCallOverride(row.id, row.rotation, row.contact, row.starts_at, row.until)
                 for row in db.scalars(query))


def listing(db: Session, line: str, now: datetime) -> Sequence[OnCallOverrideRow]:
    """The line's on-call overrides in force or to come, the newest first."""
    query = (sa.select(OnCallOverrideRow)
             .where(OnCallOverrideRow.line == line, OnCallOverrideRow.until > now,
                    OnCallOverrideRow.cancelled_at.is_(None))
             .order_by(OnCallOverrideRow.id.desc()))
    return db.scalars(query).all()
