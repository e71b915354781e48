"""The database tables, typed: what every worker and machine must see.

Support cases and the calls that touched them, hours overrides, and missed calls with their
voice messages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

CASE_STATUSES = ("open", "in_progress", "waiting_customer", "closed")
# A caller as Twilio sends `From`: E.164, `anonymous`, a SIP URI or a Twilio Client identity
# (`client:` and up to 121 characters). 256 is also the most the webhooks read of a parameter.
CALLER_LENGTH = 256


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A moment in time, stored in UTC and always read back time-zone aware (SQLite too)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store in UTC; refuse naive datetimes, whose zone nobody knows."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Read back as UTC (SQLite returns naive datetimes)."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of the tables; naming conventions keep migrations portable."""

    metadata = sa.MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class Case(Base):
    """A support case: the number the caller keeps, where it belongs, and how it stands."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(12), unique=True)
    line: Mapped[str] = mapped_column(sa.String(40), index=True)
    team: Mapped[str] = mapped_column(sa.String(40))
    level: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    call_sid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    caller: Mapped[str | None] = mapped_column(sa.String(CALLER_LENGTH))
    recording_url: Mapped[str | None] = mapped_column(sa.String(500))
    recording_seconds: Mapped[int | None]
    transcription: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    calls: Mapped[list[CaseCall]] = relationship(
        # by when each happened: a look-up's note is written with its worker's next batch
        back_populates="case", order_by=lambda: [CaseCall.at, CaseCall.id],
        cascade="all, delete-orphan",
    )


class CaseCall(Base):
    """One call's contact with a case: who, when, through which node, and what came of it."""

    __tablename__ = "case_calls"
    # Each (call, event) is noted once, however often Twilio (or a replay) repeats the request.
    __table_args__ = (
        sa.Index("uq_case_calls_once", "case_id", "call_sid", "outcome", unique=True,
                 sqlite_where=sa.text("call_sid IS NOT NULL"),
                 postgresql_where=sa.text("call_sid IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"),
                                         index=True)
    call_sid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    caller: Mapped[str | None] = mapped_column(sa.String(CALLER_LENGTH))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    node: Mapped[str] = mapped_column(sa.String(40))
    outcome: Mapped[str] = mapped_column(sa.String(40))

    case: Mapped[Case] = relationship(back_populates="calls")


class HoursOverrideRow(Base):
    """An admin's 'open' or 'closed' for a line or one node, from a time until a time."""

    __tablename__ = "hours_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    line: Mapped[str] = mapped_column(sa.String(40), index=True)
    node: Mapped[str | None] = mapped_column(sa.String(40))
    state: Mapped[str] = mapped_column(sa.String(10))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    until: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MissedCall(Base):
    """A call nobody could take (a whole chain failed): kept for admins, with its message."""

    __tablename__ = "missed_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    line: Mapped[str] = mapped_column(sa.String(40), index=True)
    node: Mapped[str] = mapped_column(sa.String(40))
    call_sid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    caller: Mapped[str | None] = mapped_column(sa.String(CALLER_LENGTH))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    recording_url: Mapped[str | None] = mapped_column(sa.String(500))
    recording_seconds: Mapped[int | None]
    transcription: Mapped[str | None] = mapped_column(sa.Text)
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


def table(model: type[Base]) -> sa.Table:
    """The table of a mapped class (its `__table__`, typed as the Table it is)."""
    return cast(sa.Table, model.__table__)


def fit(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """`values` cut to their columns' lengths, so what Twilio sends is stored, never refused.

    PostgreSQL refuses a value longer than its column; SQLite would keep it whole."""
    out = dict(values)
    for name, value in values.items():
        length = getattr(table.c[name].type, "length", None)
        if isinstance(value, str) and length is not None and len(value) > length:
            out[name] = value[:length]
    return out


CALLBACK_STATUSES = ("asking", "pending", "claimed", "done", "cancelled", "unreachable")
CALLBACK_OPEN = ("pending", "claimed")


class QueueWait(Base):
    """A caller in a queue: when they first joined it (their place, kept if they ask a call)."""

    __tablename__ = "queue_waits"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    line: Mapped[str] = mapped_column(sa.String(40))
    node: Mapped[str] = mapped_column(sa.String(40))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(sa.String(40))
    queue_sid: Mapped[str | None] = mapped_column(sa.String(64))  # Twilio's queue (QU...)


class Callback(Base):
    """A caller to call back: where, how grave, since when in line, and how it went."""

    __tablename__ = "callbacks"
    __table_args__ = (sa.Index("ix_callbacks_queue", "line", "status", "severity", "joined_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line: Mapped[str] = mapped_column(sa.String(40))
    node: Mapped[str] = mapped_column(sa.String(40))
    call_sid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    number: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    case_number: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    severity: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(20), default="asking")
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    last_outcome: Mapped[str | None] = mapped_column(sa.String(20))
    claimed_by: Mapped[str | None] = mapped_column(sa.String(40))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Analyst(Base):
    """Someone who takes callers and callbacks by phone: a keypad code and a hashed PIN."""

    __tablename__ = "analysts"
    __table_args__ = (sa.UniqueConstraint("line", "code", name="uq_analysts_line_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line: Mapped[str] = mapped_column(sa.String(40))
    code: Mapped[str] = mapped_column(sa.String(12))
    name: Mapped[str | None] = mapped_column(sa.String(80))
    pin_hash: Mapped[str] = mapped_column(sa.String(200))
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
