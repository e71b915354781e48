"""Callers as long as Twilio sends them; each (call, event) noted once on a case.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CALLER_TABLES = ("cases", "case_calls", "missed_calls")
ONCE = "uq_case_calls_once"
NOT_NULL_SID = sa.text("call_sid IS NOT NULL")
# Keep the first note of each (case, call, outcome): replays added copies before this revision.
DEDUPLICATE = sa.text(
    "DELETE FROM case_calls WHERE call_sid IS NOT NULL AND id NOT IN ("
    "SELECT MIN(id) FROM case_calls WHERE call_sid IS NOT NULL "
    "GROUP BY case_id, call_sid, outcome)"
)


def upgrade() -> None:
    """Widen `caller` to 256 (a Twilio Client identity is up to 128); one note per event."""
    if op.get_bind().dialect.name != "sqlite":
        # SQLite does not enforce VARCHAR lengths: copying the tables there would change nothing.
        for table in CALLER_TABLES:
            op.alter_column(table, "caller", type_=sa.String(256),
                            existing_type=sa.String(64), existing_nullable=True)
    op.execute(DEDUPLICATE)
    op.create_index(ONCE, "case_calls", ["case_id", "call_sid", "outcome"], unique=True,
                    sqlite_where=NOT_NULL_SID, postgresql_where=NOT_NULL_SID)


def downgrade() -> None:
    """Drop the index; callers longer than 64 are cut back to fit."""
    op.drop_index(ONCE, table_name="case_calls")
    if op.get_bind().dialect.name != "sqlite":
        for table in CALLER_TABLES:
            op.execute(sa.text(f"UPDATE {table} SET caller = LEFT(caller, 64) "
                               "WHERE LENGTH(caller) > 64"))
            op.alter_column(table, "caller", type_=sa.String(64),
                            existing_type=sa.String(256), existing_nullable=True)
