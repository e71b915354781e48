"""The console: accounts, failed logins, audit log, on-call overrides, console calls, and
the per-webhook call events of the dashboard.

Revision ID: 0005
Revises: 0002 (relinked after 0003/0004 when the branches meet)
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ivr.store.tables import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the console's tables."""
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(60), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("lines", sa.String(400), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_key"), "login_failures", ["key"])
    op.create_index(op.f("ix_login_failures_at"), "login_failures", ["at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target", sa.String(120), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(40), nullable=False),
        sa.Column("rotation", sa.String(40), nullable=False),
        sa.Column("contact", sa.Integer(), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("until", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("cancelled_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_overrides")),
    )
    op.create_index(op.f("ix_oncall_overrides_line"), "oncall_overrides", ["line"])
    op.create_index(op.f("ix_oncall_overrides_until"), "oncall_overrides", ["until"])
    op.create_table(
        "console_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(40), nullable=False),
        sa.Column("case_number", sa.String(12), nullable=True),
        sa.Column("analyst", sa.String(60), nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("customer_status", sa.String(30), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_console_calls_call_sid")),
    )
    op.create_index(op.f("ix_console_calls_case_number"), "console_calls", ["case_number"])
    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=True),
        sa.Column("line", sa.String(40), nullable=True),
        sa.Column("node", sa.String(40), nullable=True),
        sa.Column("outcome", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_events")),
    )
    op.create_index(op.f("ix_call_events_at"), "call_events", ["at"])


def downgrade() -> None:
    """Drop the console's tables."""
    for table in ("call_events", "console_calls", "oncall_overrides", "audit_log",
                  "login_failures", "console_users"):
        op.drop_table(table)
