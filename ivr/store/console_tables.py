"""The console's tables.

Accounts, failed logins, the audit log, on-call overrides, calls the console placed, and one
small record per webhook for the dashboard.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ivr.store.tables import Base, UtcDateTime

ROLES = ("analyst", "supervisor", "admin")


class ConsoleUser(Base):
    """A person who logs into the console: analyst, supervisor or admin."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    lines: Mapped[str] = mapped_column(sa.String(400), default="")  # "" = every line
    session_epoch: Mapped[int] = mapped_column(default=0)  # bumped: old sessions end
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LoginFailure(Base):
    """One failed login, by username and by address (the limit counts them in the database)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class AuditEntry(Base):
    """Who changed what, when, and how it stood before and after (JSON)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(sa.String(60))
    action: Mapped[str] = mapped_column(sa.String(60))
    target: Mapped[str] = mapped_column(sa.String(120))
    before: Mapped[str | None] = mapped_column(sa.Text)
    after: Mapped[str | None] = mapped_column(sa.Text)


class OnCallOverrideRow(Base):
    """A dated on-call override set from the console: a rotation's contact from..until."""

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    line: Mapped[str] = mapped_column(sa.String(40), index=True)
    rotation: Mapped[str] = mapped_column(sa.String(40))
    contact: Mapped[int]
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    until: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ConsoleCall(Base):
    """A "call me, then the customer" call the console placed, and how it ended."""

    __tablename__ = "console_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    line: Mapped[str] = mapped_column(sa.String(40))
    case_number: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    callback_id: Mapped[int | None] = mapped_column(index=True)  # a call about a callback
    analyst: Mapped[str] = mapped_column(sa.String(60))
    call_sid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    status: Mapped[str] = mapped_column(sa.String(30))
    customer_status: Mapped[str | None] = mapped_column(sa.String(30))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CallEvent(Base):
    """One webhook's outcome (call, line, node, outcome, time): the dashboard's figures."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    call_sid: Mapped[str | None] = mapped_column(sa.String(64))
    line: Mapped[str | None] = mapped_column(sa.String(40))
    node: Mapped[str | None] = mapped_column(sa.String(40))
    outcome: Mapped[str] = mapped_column(sa.String(80))
