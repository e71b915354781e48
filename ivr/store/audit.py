"""The audit log: every change made from the console or the users command.

Who, when, what, before and after.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.store.console_tables import AuditEntry


def record(db: Session, *, actor: str, action: str, target: str, before: Any, after: Any,
           now: datetime) -> AuditEntry:
    """Write one entry (before and after as JSON) and commit."""
    entry = AuditEntry(at=now, actor=actor[:60], action=action[:60], target=target[:120],
                       before=_json(before), after=_json(after))
    db.add(entry)
    db.commit()
    return entry


def _json(value: Any) -> str | None:
    """A value as JSON text (datetimes as ISO strings), None stays None."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def listing(db: Session, limit: int = 200, actor: str | None = None) -> Sequence[AuditEntry]:
    """The newest entries first."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return db.scalars(query).all()
