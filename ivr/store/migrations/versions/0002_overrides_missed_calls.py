"""Hours overrides set by admins, and missed calls with their voice messages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ivr.store.tables import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create hours_overrides and missed_calls."""
    op.create_table(
        "hours_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(40), nullable=False),
        sa.Column("node", sa.String(40), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("until", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("cancelled_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hours_overrides")),
    )
    op.create_index(op.f("ix_hours_overrides_line"), "hours_overrides", ["line"])
    op.create_index(op.f("ix_hours_overrides_until"), "hours_overrides", ["until"])
    op.create_table(
        "missed_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(40), nullable=False),
        sa.Column("node", sa.String(40), nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=True),
        sa.Column("caller", sa.String(64), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("recording_url", sa.String(500), nullable=True),
        sa.Column("recording_seconds", sa.Integer(), nullable=True),
        sa.Column("transcription", sa.Text(), nullable=True),
        sa.Column("handled_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missed_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_missed_calls_call_sid")),
    )
    op.create_index(op.f("ix_missed_calls_line"), "missed_calls", ["line"])
    op.create_index(op.f("ix_missed_calls_at"), "missed_calls", ["at"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("missed_calls")
    op.drop_table("hours_overrides")
