"""A caller's personal data, forgotten on request: their number, notes, messages and words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.store.tables import Case, CaseCall, MissedCall


@dataclass
class Forgotten:
    """What `forget` did, for the admin to read (and the recordings left to delete at Twilio)."""

    cases: list[str] = field(default_factory=list)
    notes: int = 0
    missed_calls: int = 0
    recordings: list[str] = field(default_factory=list)


def forget(db: Session, callers: Sequence[str]) -> Forgotten:
    """Remove every trace of `callers` (the exact `From` values stored) in one transaction.

    Their cases stay (the number, line, team and status are the company's record) without the
    caller, the recording's URL or the transcription; the notes of their calls on any case and
    their missed calls (with messages and transcriptions) are deleted.
    """
    done = Forgotten()
    theirs = list(db.scalars(sa.select(Case).where(Case.caller.in_(callers)).order_by(Case.id)))
    for case in theirs:
        done.cases.append(case.number)
        if case.recording_url:
            done.recordings.append(case.recording_url)
        case.caller = case.recording_url = case.transcription = None
        case.recording_seconds = None
    missed = list(db.scalars(sa.select(MissedCall).where(MissedCall.caller.in_(callers))))
    done.recordings += [m.recording_url for m in missed if m.recording_url]
    done.missed_calls = len(missed)
    for row in missed:
        db.delete(row)
    notes = cast(sa.CursorResult[Any],  # what a DELETE gives: a result with a row count
                 db.execute(sa.delete(CaseCall).where(CaseCall.caller.in_(callers))))
    done.notes = notes.rowcount
    db.commit()
    return done
