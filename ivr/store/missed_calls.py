"""Missed calls (a whole chain failed) and their voice messages, kept for admins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.store.cases import appended
from ivr.store.tables import MissedCall, fit, table

_MISSED = table(MissedCall)


def note_missed(
    db: Session, *, line: str, node: str, call_sid: str | None, caller: str | None,
    now: datetime,
) -> MissedCall:
    """Keep a missed call (once per call, however often Twilio retries)."""
    existing = _by_call(db, call_sid) if call_sid else None
    if existing is not None:
        return existing
    row = MissedCall(**fit(_MISSED, {"line": line, "node": node, "call_sid": call_sid,
                                     "caller": caller, "at": now}))
    db.add(row)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        existing = _by_call(db, call_sid) if call_sid else None
        if existing is None:
            raise
        return existing
    return row


def attach_recording(
    db: Session, *, line: str, node: str, call_sid: str, caller: str | None, url: str,
    seconds: int | None, now: datetime,
) -> MissedCall:
    """Keep the message's recording with the missed call (noting the call if it was not yet)."""
    row = note_missed(db, line=line, node=node, call_sid=call_sid, caller=caller, now=now)
    row.recording_url = fit(_MISSED, {"recording_url": url})["recording_url"]
    row.recording_seconds = seconds
    db.commit()
    return row


def append_transcription(
    db: Session, *, line: str, node: str, call_sid: str, caller: str | None, text: str,
    now: datetime,
) -> MissedCall:
    """Add one transcribed sentence to the message's text (noting the call if need be)."""
    row = note_missed(db, line=line, node=node, call_sid=call_sid, caller=caller, now=now)
    db.execute(sa.update(_MISSED).where(_MISSED.c.id == row.id).values(
        transcription=appended(_MISSED.c.transcription, text)))
    db.commit()
    db.refresh(row)
    return row


def listing(db: Session, line: str | None = None, limit: int = 50) -> Sequence[MissedCall]:
    """Missed calls, the newest first."""
    query = sa.select(MissedCall).order_by(MissedCall.at.desc(), MissedCall.id.desc())
    if line:
        query = query.where(MissedCall.line == line)
    return db.scalars(query.limit(limit)).all()


def _by_call(db: Session, call_sid: str) -> MissedCall | None:
    """The missed call of this CallSid, if any."""
    sid = fit(_MISSED, {"call_sid": call_sid})["call_sid"]
    return db.scalars(sa.select(MissedCall).where(MissedCall.call_sid == sid)).one_or_none()
