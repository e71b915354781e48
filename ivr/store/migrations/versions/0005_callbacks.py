"""Callbacks: when each caller joined a queue, the callers to call back, and the analysts.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ivr.store.tables import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create queue_waits, callbacks and analysts."""
    op.create_table(
        "queue_waits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("line", sa.String(40), nullable=False),
        sa.Column("node", sa.String(40), nullable=False),
        sa.Column("joined_at", UtcDateTime(), nullable=False),
        sa.Column("left_at", UtcDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_waits")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_queue_waits_call_sid")),
    )
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(40), nullable=False),
        sa.Column("node", sa.String(40), nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=True),
        sa.Column("number", sa.String(32), nullable=True),
        sa.Column("case_number", sa.String(12), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("joined_at", UtcDateTime(), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_outcome", sa.String(20), nullable=True),
        sa.Column("claimed_by", sa.String(40), nullable=True),
        sa.Column("claimed_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_callbacks_call_sid")),
    )
    op.create_index("ix_callbacks_queue", "callbacks", ["line", "status", "severity", "joined_at"])
    op.create_index(op.f("ix_callbacks_case_number"), "callbacks", ["case_number"])
    op.create_index(op.f("ix_callbacks_number"), "callbacks", ["number"])
    op.create_table(
        "analysts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(40), nullable=False),
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("name", sa.String(80), nullable=True),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysts")),
        sa.UniqueConstraint("line", "code", name="uq_analysts_line_code"),
    )


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("analysts")
    op.drop_table("callbacks")
    op.drop_table("queue_waits")
