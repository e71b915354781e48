"""Each waiting call's queue: queue_waits.queue_sid, so an analyst dequeues that very call.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the SID of the Twilio queue the call waits in (none for older rows)."""
    with op.batch_alter_table("queue_waits") as batch:
        batch.add_column(sa.Column("queue_sid", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("queue_waits") as batch:
        batch.drop_column("queue_sid")
