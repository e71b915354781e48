"""The schema at start: IVR_MIGRATE=off leaves it alone, and on PostgreSQL two machines
starting at once upgrade it one after the other (the advisory lock)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ivr import config, db
from tests.conftest import CERTICAMARA, POSTGRES_ENV, Caller, _saved_postgres_url

ROOT = Path(__file__).resolve().parents[1]
TABLES = {"alembic_version", "case_calls", "cases", "hours_overrides", "missed_calls"}


def _tables(url: str) -> set[str]:
    """The tables a database has."""
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_off_leaves_the_schema_to_db_upgrade(make_app: Any, database_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """IVR_MIGRATE=off: the app creates no table (calls are still answered); `flask ivr db
    upgrade` does."""
    monkeypatch.setenv("IVR_MIGRATE", "off")
    assert config.from_environment()["IVR_MIGRATE"] is False
    app = make_app()
    assert not _tables(database_url) & TABLES
    assert Caller(app.test_client()).call(CERTICAMARA).all("Gather")
    assert not _tables(database_url) & TABLES
    result = app.test_cli_runner().invoke(args=["ivr", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert TABLES <= _tables(database_url)


UPGRADER = """
import sys
from ivr import db
engine = db.make_engine(sys.argv[1])
with engine.connect():  # connected and imported: ready
    pass
print("ready", flush=True)
sys.stdin.readline()  # the test says go to both at once
db.upgrade(engine)
print("upgraded", flush=True)
"""


def test_two_processes_upgrading_postgresql_at_once_take_turns(tmp_path: Path) -> None:
    """Two processes start on an empty PostgreSQL schema at the same moment: one waits for
    the other's advisory lock, both succeed, and the schema is made once."""
    configured = os.environ.get(POSTGRES_ENV) or _saved_postgres_url
    if not configured:
        pytest.skip(f"{POSTGRES_ENV} is not set (CI sets it; see .ci/run)")
    url = db.database_url(configured, str(tmp_path))
    engine = db.make_engine(url)
    db.drop_schema(engine)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", UPGRADER, url], cwd=ROOT, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        with engine.connect() as holder:  # the test holds the lock: both must queue for it
            holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": db._PG_MIGRATION_LOCK})
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            assert _waiting_for_the_lock(holder) == 2
            assert not _tables(url) & TABLES  # nobody went ahead
            holder.execute(sa.text("SELECT pg_advisory_unlock(:k)"),
                           {"k": db._PG_MIGRATION_LOCK})
            holder.commit()
        outputs = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.endswith("upgraded\n")
    assert TABLES <= _tables(url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def _waiting_for_the_lock(connection: Any, seconds: float = 30) -> int:
    """How many other sessions wait for the migration lock, once both do (or time is up)."""
    query = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND objid = :k")
    deadline = time.monotonic() + seconds
    waiting = 0
    while waiting < 2 and time.monotonic() < deadline:
        waiting = connection.execute(query, {"k": db._PG_MIGRATION_LOCK}).scalar() or 0
        connection.commit()
    return int(waiting)
