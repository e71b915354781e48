"""The database: one engine per app, one session per request, the schema kept by migrations."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    InvalidatePoolError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from ivr.store.case_batch import GroupCommit, LookUps

log = logging.getLogger("ivr.db")
MIGRATIONS = Path(__file__).resolve().parent / "store" / "migrations"
_PG_MIGRATION_LOCK = 7_442_727  # any constant: serialises upgrades from several machines
T = TypeVar("T")
POOL_SIZE = 3  # connections per worker (IVR_DB_POOL_SIZE): docs/performance.md
PING_IDLE_SECONDS = 1.0  # a pooled connection unused this long is pinged before use
# The statements sent by the `attempt` step running in this thread (None: no step running).
_STEP_STATEMENTS: ContextVar[list[int] | None] = ContextVar("step_statements", default=None)
AWAY_SECONDS = 5.0  # after a failure, webhooks skip the database this long (no 3 s waits)
# SQLite's primary result codes that mean "the database cannot be reached now" (busy or
# locked past the timeout, the file cannot be opened, an I/O error), not "this value is bad".
_SQLITE_AWAY = frozenset({5, 6, 10, 14})  # SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, CANTOPEN
# PostgreSQL's SQLSTATE classes of the same kind: connection exceptions, operator
# intervention (admin shutdown, statement timeout = query canceled), too many connections.
_POSTGRES_AWAY = ("08", "57", "53300")


def database_url(configured: str | None, instance_path: str) -> str:
    """DATABASE_URL, else SQLite in the instance folder; postgres:// means psycopg 3."""
    if not configured:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(instance_path) / 'ivr.sqlite3'}"
    for prefix in ("postgres://", "postgresql://"):
        if configured.startswith(prefix):
            return "postgresql+psycopg://" + configured.removeprefix(prefix)
    return configured


def make_engine(url: str, pool_size: int = POOL_SIZE,
                monotonic: Callable[[], float] = time.monotonic) -> Engine:
    """An engine that fails fast when the server is away (a caller is waiting).

    `hide_parameters`: an error's message never quotes the statement's values (phone
    numbers, case numbers, transcriptions), wherever it ends up (logs, tracebacks).

    The pool keeps `pool_size` connections open and opens no more (no overflow): threads
    beyond that wait for one (3 s at most). An overflow connection would be closed as soon
    as it came back, so under load every request would open and close one (a new server
    process each time on PostgreSQL); and each connection worked at once is one more process
    competing for the CPU. A request holds one connection at a time (`session`,
    `connection`), so a small pool cannot deadlock.

    A server's connections can die under the pool (a restart, a failover, a firewall that
    forgets idle connections): see `_ping_when_idle`.
    """
    pool = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": 3}
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 5}, hide_parameters=True,
                                  **pool)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = sa.create_engine(
        url,
        hide_parameters=True,
        connect_args={"connect_timeout": 3, "options": "-c statement_timeout=5000"},
        **pool,
    )
    _ping_when_idle(engine, monotonic)
    return engine


def _ping_when_idle(engine: Engine, monotonic: Callable[[], float]) -> None:
    """Make sure a connection is alive before use, without a round trip on every request.

    A connection that sat in the pool for `PING_IDLE_SECONDS` or more is pinged when it is
    taken (a dead one is replaced, with every other connection older than it): what
    SQLAlchemy's `pool_pre_ping` does for all of them, at the cost of one more round trip per
    request. A connection in steady use is not: if the server closed it a moment ago, the
    statement sent on it fails as a disconnect, and SQLAlchemy replaces the pool's older
    connections. When that statement was the first of an `attempt`'s step, nothing of the
    step has happened (a failed COMMIT, or a later statement, might have: those are never
    retried), so `attempt` runs the step once more on a new connection (`_lost_at_first`).
    Either way the caller hears nothing of it.
    """
    dialect = engine.dialect

    def checked_in(dbapi_connection: Any, record: Any) -> None:
        """Note when the connection went back to the pool."""
        record.info["idle_since"] = monotonic()

    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """Ping a connection that was idle long enough to have been dropped."""
        idle_since = record.info.get("idle_since")
        if idle_since is None or monotonic() - idle_since < PING_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as e:
            if dialect.is_disconnect(e, dbapi_connection, None):
                raise InvalidatePoolError("a pooled connection was dead") from e
            raise

    sa.event.listen(engine.pool, "checkin", checked_in)
    sa.event.listen(engine.pool, "checkout", checked_out)
    sa.event.listen(engine, "before_cursor_execute", lambda *args: count_statement())


def count_statement() -> None:
    """Count one statement sent for the running `attempt` step (none running: nothing)."""
    sent = _STEP_STATEMENTS.get()
    if sent is not None:
        sent[0] += 1


def _sqlite_pragmas(connection: sqlite3.Connection, record: object) -> None:
    """WAL (readers never wait for the writer), foreign keys on, wait for locks 5 s."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed case survives
    # any crash of the service; only a power cut of the machine may lose the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A page cache that holds the case-number index of a million cases (2 MiB by default):
    # look-ups stay as fast with a million cases as with a thousand.
    cursor.execute("PRAGMA cache_size=-65536")
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


def drop_schema(engine: Engine) -> None:
    """Drop every table there is (tests and benchmarks start from an empty database)."""
    with engine.begin() as connection:
        tables = sa.MetaData()
        tables.reflect(connection)
        tables.drop_all(connection)


class DatabaseAway(SQLAlchemyError):
    """The database failed a moment ago: callers are not kept waiting for it again yet."""


@dataclass
class Health:
    """One worker's view of the database: is the schema in place, and when to try again."""

    migrate: bool
    retry_seconds: float = AWAY_SECONDS
    schema_ready: bool = False
    away_until: float = 0.0


def init_app(app: Flask) -> None:
    """Create the engine, upgrade the schema (a database that is down is not fatal)."""
    url = database_url(app.config.get("DATABASE_URL"), app.instance_path)
    engine = make_engine(url, int(app.config.get("IVR_DB_POOL_SIZE", POOL_SIZE)),
                         app.config.get("MONOTONIC", time.monotonic))
    app.extensions["ivr.engine"] = engine
    sessions = app.extensions["ivr.sessions"] = sessionmaker(engine, expire_on_commit=False)
    sa.event.listen(sessions, "after_flush", _note_flush)
    sa.event.listen(sessions, "do_orm_execute", _note_write)
    sa.event.listen(sessions, "after_transaction_end", _forget_flush)
    health = app.extensions["ivr.db_health"] = Health(
        bool(app.config.get("IVR_MIGRATE", True)),
        float(app.config.get("IVR_DB_RETRY_SECONDS", AWAY_SECONDS)))
    if health.migrate:
        try:
            upgrade(engine)
            health.schema_ready = True
        except SQLAlchemyError as e:
            log.error("database %s unreachable at start (%s: %s): calls are served and cases "
                      "wait; the schema is brought up as soon as it answers",
                      engine.url.render_as_string(hide_password=True), type(e).__name__,
                      first_line(e))
    app.extensions["ivr.new_cases"] = GroupCommit(sent=count_statement)
    # by the line whose callbacks are read with the case; None: each look-up reads alone
    app.extensions["ivr.look_ups"] = {} if engine.dialect.name == "postgresql" else None
    engine.dispose()  # no connection crosses gunicorn's fork
    app.teardown_appcontext(_close_session)


def _note_flush(db_session: Session, context: object) -> None:
    """Remember that the session's transaction has written (it is not only a read)."""
    db_session.info["flushed"] = True


def _note_write(state: ORMExecuteState) -> None:
    """Remember an INSERT, UPDATE or DELETE run through the session (not only a read)."""
    if not state.is_select:
        state.session.info["flushed"] = True


def _forget_flush(db_session: Session, transaction: SessionTransaction) -> None:
    """The session's transaction ended: what it wrote is committed or rolled back.

    Not a flush's own subtransaction, nor a savepoint: the outer one still holds the writes."""
    if transaction.parent is None:
        db_session.info.pop("flushed", None)


def first_line(error: SQLAlchemyError) -> str:
    """The driver's own first line about `error` (the statement and values are not in it)."""
    original = getattr(error, "orig", None)
    lines = str(original if original is not None else error).strip().splitlines()
    return lines[0] if lines else "no detail"


def get_engine() -> Engine:
    """This app's engine (one per worker; connections are pooled)."""
    engine: Engine = current_app.extensions["ivr.engine"]
    return engine


def new_cases() -> GroupCommit:
    """This worker's queue of new cases, committed together when they come together."""
    queue: GroupCommit = current_app.extensions["ivr.new_cases"]
    return queue


def look_ups(callbacks_of: str | None) -> LookUps | None:
    """This worker's queue of case look-ups read together (PostgreSQL; None on SQLite).

    With the pending callbacks of line `callbacks_of`. On SQLite a read is no round trip:
    each look-up reads alone."""
    queues: dict[str | None, LookUps] | None = current_app.extensions["ivr.look_ups"]
    if queues is None:
        return None
    found = queues.get(callbacks_of)
    if found is None:
        found = queues.setdefault(callbacks_of, LookUps(callbacks_of, sent=count_statement))
    return found


def get_health() -> Health:
    """This worker's view of the database: schema ready, and whether it failed a moment ago."""
    health: Health = current_app.extensions["ivr.db_health"]
    return health


def attempt(work: Callable[[], T], failure: str, give_back: bool = True) -> T | None:
    """Run `work` against the database; on a database error log `failure` and give None.

    One place for what a webhook does when the database fails: the caller is never kept
    waiting for it, and the log says what was not done (without SQLAlchemy's message, which
    may quote the statement). Only a lost connection or a timeout makes the worker stop
    asking the database for a few seconds; a value it refused (too long, a constraint, a
    read-only or full database) fails this one step and the next caller is served as usual.
    A pooled connection found dead on the step's first statement (the server restarted a
    moment ago: `_ping_when_idle`) is not a failure: the step runs once more on a new
    connection. After the step, the request's connections go back to the pool (what comes
    next, a REST call or the log line, holds none); with `give_back` False an idle one stays
    for the step that follows at once (one checkout for both), and the caller gives it back
    (`release`) when that step is done or not needed.
    """
    for last in (False, True):
        sent = [0]
        token = _STEP_STATEMENTS.set(sent)
        try:
            done = work()
        except DatabaseAway:
            log.warning("%s (the database failed a moment ago)", failure)
        except SQLAlchemyError as e:
            if not last and _lost_at_first(e, sent[0]):
                log.warning("a pooled database connection was dead (the server restarted?): "
                            "the step runs again on a new one")
                discard()
                continue
            away = unreachable(e)
            log.error("%s: %s%s", failure, type(e).__name__,
                      " (database unreachable: skipped for a few seconds)" if away else "")
            if away:
                reset()
            else:
                discard()
        else:
            if give_back:
                release()
            return done
        finally:
            _STEP_STATEMENTS.reset(token)
        return None
    return None


def _lost_at_first(error: SQLAlchemyError, statements_sent: int) -> bool:
    """Whether the connection was lost on the step's first statement, which was no COMMIT.

    Then nothing of the step happened, and it can run again on a new connection. (SQLAlchemy
    reports a failed COMMIT with no statement; `ivr.store.direct` does the same.)
    """
    return isinstance(error, DBAPIError) and error.connection_invalidated \
        and error.statement is not None and statements_sent == 1


def release() -> None:
    """Give the request's connections back to the pool between steps, where nothing is open."""
    try:
        _end_read(g.get("db_session"))
        _close_idle_connection()
    except SQLAlchemyError:
        discard()


def unreachable(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached now.

    A connection lost or a statement timed out, as opposed to a statement it refused (bad
    value, constraint, read-only, disk full). Nor is a wait for the pool that timed out: the
    worker's other threads held its few connections for a moment, and that step alone fails."""
    if isinstance(error, DatabaseAway | DisconnectionError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    original = error.orig
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_AWAY
    # psycopg gives no SQLSTATE when it failed on the client side (connect, socket)
    sqlstate = getattr(original, "sqlstate", None)
    return not sqlstate or str(sqlstate).startswith(_POSTGRES_AWAY)


def session() -> Session:
    """This request's session (opened on first use); fails fast while the database is away.

    An idle plain connection of the request goes back to the pool first (`connection`).
    """
    _close_idle_connection()
    if "db_session" not in g:
        _ready()
        g.db_session = current_app.extensions["ivr.sessions"]()
    db_session: Session = g.db_session
    return db_session


def connection() -> Connection:
    """This request's plain connection (no ORM): for the few queries on a call's hot path.

    A request holds one pooled connection at a time, so that threads that each hold one
    cannot wait on each other for a second one: a session that has only read gives its
    connection back before this one is taken, and `session` closes this one when it is
    idle. (A session with unsaved changes keeps its own; none of the webhooks leaves one.)
    """
    if "db_connection" not in g:
        _ready()
        _end_read(g.get("db_session"))
        g.db_connection = get_engine().connect()
    db_connection: Connection = g.db_connection
    return db_connection


def _end_read(db_session: Session | None) -> None:
    """End the session's transaction if it has only read (its connection goes back)."""
    if db_session is None or not db_session.in_transaction():
        return
    if db_session.new or db_session.dirty or db_session.deleted \
            or db_session.info.get("flushed"):
        return
    db_session.commit()  # nothing to write: releases the connection, keeps what was loaded


def _close_idle_connection() -> None:
    """Give the request's plain connection back to the pool if no transaction is open on it."""
    opened: Connection | None = g.get("db_connection")
    if opened is not None and not opened.in_transaction():
        g.pop("db_connection").close()


def _ready() -> None:
    """Fail fast while the database is known to be away; bring the schema up if need be."""
    health = get_health()
    if time.monotonic() < health.away_until:
        raise DatabaseAway("the database failed less than a few seconds ago")
    if health.migrate and not health.schema_ready:
        _late_upgrade(health)


def _late_upgrade(health: Health) -> None:
    """The database was away at start: bring its schema up now that it may be back."""
    try:
        upgrade(get_engine())
    except SQLAlchemyError:
        health.away_until = time.monotonic() + health.retry_seconds
        raise
    health.schema_ready = True
    log.warning("database reachable again: schema upgraded, cases are served")


def reset() -> None:
    """After a lost connection: drop the session, and spare callers the next seconds' waits."""
    health = get_health()
    now = time.monotonic()
    if now >= health.away_until:  # a failure while already away does not stretch the wait
        health.away_until = now + health.retry_seconds
    discard()


def discard() -> None:
    """Drop this request's session and connection after an error (a later step opens anew)."""
    for key in ("db_session", "db_connection"):
        opened = g.pop(key, None)
        if opened is not None:
            try:
                opened.close()
            except SQLAlchemyError:
                log.warning("closing a broken database %s failed", key, exc_info=True)


def _close_session(error: BaseException | None = None) -> None:
    """Close the request's session and connection, if one was opened."""
    for key in ("db_session", "db_connection"):
        opened = g.pop(key, None)
        if opened is not None:
            opened.close()
