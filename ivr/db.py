"""The database: one engine per app, one session per request, the schema kept by migrations."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("ivr.db")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 7_442_727  # any constant: serialises upgrades from several machines


def database_url(configured: str | None, instance_path: str) -> str:
    """DATABASE_URL, else SQLite in the instance folder; postgres:// means psycopg 3."""
    if not configured:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(instance_path) / 'ivr.sqlite3'}"
    for prefix in ("postgres://", "postgresql://"):
        if configured.startswith(prefix):
            return "postgresql+psycopg://" + configured.removeprefix(prefix)
    return configured


def make_engine(url: str) -> Engine:
    """An engine that fails fast when the server is away (a caller is waiting)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 5})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=3,
        connect_args={"connect_timeout": 3, "options": "-c statement_timeout=5000"},
    )


def _sqlite_pragmas(connection: object, record: object) -> None:
    """WAL (readers never wait for the writer), foreign keys on, wait for locks 5 s."""
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed case survives
    # any crash of the service; only a power cut of the machine may lose the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (on PostgreSQL, one machine at a time)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                               {"k": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def init_app(app: Flask) -> None:
    """Create the engine, upgrade the schema (a database that is down is not fatal)."""
    url = database_url(app.config.get("DATABASE_URL"), app.instance_path)
    engine = make_engine(url)
    app.extensions["ivr.engine"] = engine
    app.extensions["ivr.db"] = sessionmaker(engine, expire_on_commit=False)
    if app.config.get("IVR_MIGRATE", True):
        try:
            upgrade(engine)
        except SQLAlchemyError:
            log.exception("database %s unreachable at start: calls are served, cases are "
                          "not, until it is back and `flask ivr db upgrade` has run",
                          engine.url.render_as_string(hide_password=True))
    engine.dispose()  # no connection crosses gunicorn's fork
    app.teardown_appcontext(_close_session)


def session() -> Session:
    """This request's session (opened on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["ivr.db"]()
    db_session: Session = g.db_session
    return db_session


def reset() -> None:
    """Drop this request's session after a database error (a new one starts clean)."""
    db_session = g.pop("db_session", None)
    if db_session is not None:
        try:
            db_session.close()
        except SQLAlchemyError:
            log.warning("closing a broken database session failed", exc_info=True)


def _close_session(error: BaseException | None = None) -> None:
    """Close the request's session, if one was opened."""
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
