"""Calls the console placed ("call me, then the customer") and how they ended."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.store.console_tables import ConsoleCall


def start(db: Session, *, line: str, case_number: str | None, analyst: str,
          now: datetime, callback_id: int | None = None) -> ConsoleCall:
    """Note a call about to be placed (about a case, a callback, or both)."""
    row = ConsoleCall(line=line, case_number=case_number, callback_id=callback_id,
                      analyst=analyst, status="requested", created_at=now, updated_at=now)
    db.add(row)
    db.commit()
    return row


def placed(db: Session, call_id: int, call_sid: str, now: datetime) -> None:
    """Twilio accepted the call: keep its SID."""
    row = db.get(ConsoleCall, call_id)
    if row is not None:
        row.call_sid, row.status, row.updated_at = call_sid, "queued", now
        db.commit()


def failed(db: Session, call_id: int, now: datetime) -> None:
    """Twilio refused the call."""
    row = db.get(ConsoleCall, call_id)
    if row is not None:
        row.status, row.updated_at = "failed-to-place", now
        db.commit()


def get(db: Session, call_id: int) -> ConsoleCall | None:
    """A console call by id."""
    return db.get(ConsoleCall, call_id)


def update(db: Session, call_id: int, now: datetime, *, status: str | None = None,
           customer_status: str | None = None) -> ConsoleCall | None:
    """The analyst's leg (`status`) or the customer's (`customer_status`) changed."""
    row = db.get(ConsoleCall, call_id)
    if row is None:
        return None
    if status:
        row.status = status[:30]
    if customer_status:
        row.customer_status = customer_status[:30]
    row.updated_at = now
    db.commit()
    return row


def of_case(db: Session, case_number: str) -> Sequence[ConsoleCall]:
    """A case's console calls, the newest first."""
    query = (sa.select(ConsoleCall).where(ConsoleCall.case_number == case_number)
             .order_by(ConsoleCall.id.desc()))
    return db.scalars(query).all()


def of_callback(db: Session, callback_id: int) -> Sequence[ConsoleCall]:
    """A callback's console calls, the newest first."""
    query = (sa.select(ConsoleCall).where(ConsoleCall.callback_id == callback_id)
             .order_by(ConsoleCall.id.desc()))
    return db.scalars(query).all()
