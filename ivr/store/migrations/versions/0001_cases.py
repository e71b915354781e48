"""Support cases and the calls that touched them.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ivr.store.tables import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the cases and case_calls tables."""
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(12), nullable=False),
        sa.Column("line", sa.String(40), nullable=False),
        sa.Column("team", sa.String(40), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=True),
        sa.Column("caller", sa.String(64), nullable=True),
        sa.Column("recording_url", sa.String(500), nullable=True),
        sa.Column("recording_seconds", sa.Integer(), nullable=True),
        sa.Column("transcription", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_cases_call_sid")),
    )
    op.create_index(op.f("ix_cases_line"), "cases", ["line"])
    op.create_table(
        "case_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=True),
        sa.Column("caller", sa.String(64), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("node", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                name=op.f("fk_case_calls_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_calls")),
    )
    op.create_index(op.f("ix_case_calls_case_id"), "case_calls", ["case_id"])
    op.create_index(op.f("ix_case_calls_call_sid"), "case_calls", ["call_sid"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("case_calls")
    op.drop_table("cases")
