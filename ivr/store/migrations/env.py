"""Alembic environment: run migrations on the connection `ivr.db.upgrade` hands over."""

from __future__ import annotations

from alembic import context

from ivr.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # ALTER TABLE through copies, so migrations also run on SQLite
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
