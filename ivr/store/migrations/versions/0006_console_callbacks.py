"""The console's calls can be about a callback: console_calls.callback_id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the callback a console call is about (none for a call about a case)."""
    with op.batch_alter_table("console_calls") as batch:
        batch.add_column(sa.Column("callback_id", sa.Integer(), nullable=True))
        batch.create_index(op.f("ix_console_calls_callback_id"), ["callback_id"])


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("console_calls") as batch:
        batch.drop_index(op.f("ix_console_calls_callback_id"))
        batch.drop_column("callback_id")
