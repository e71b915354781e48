"""The hot statements sent straight to the driver (`ivr.store.direct`) are sent exactly as
SQLAlchemy sends them, and what fails comes out as SQLAlchemy's own errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ivr import db
from ivr.store import cases, direct

NOW = datetime(2026, 12, 1, 15, 0, 0, 123456, tzinfo=UTC)
NOTE = {"call_sid": "CA-note", "caller": "+573001112233", "node": "consulta",
        "outcome": "looked-up"}
CASE = {"number": "30300004", "line": "cco", "team": "t", "level": 1, "status": "open",
        "call_sid": "CA-new", "caller": None, "created_at": NOW, "updated_at": NOW}
# Each statement the webhooks send directly, with the dialects it is sent on and its values.
SENT: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "summary": (("sqlite", "postgresql"), {"number": "{number}"}),
    "summary_pending": (("sqlite", "postgresql"), {"number": "{number}", "line": "cco"}),
    "note_once": (("sqlite",), {"case_id": "{case_id}", "at": NOW, **NOTE}),
    "new_case": (("sqlite",), CASE),
    "opened": (("sqlite",), {"case_id": "{case_id}", "at": NOW, **NOTE, "outcome": "opened"}),
    "number_of_call": (("sqlite",), {"sid": "CA-open"}),
    "issue_in_one": (("postgresql",), {**CASE, "node": "nuevo"}),
    "summaries": (("postgresql",), {"numbers": ["{number}", "00000000"]}),
    "summaries_pending": (("postgresql",), {"numbers": ["{number}"], "line": "cco"}),
}


def test_every_direct_statement_is_covered() -> None:
    """The table above names every statement the case store sends directly."""
    assert set(SENT) == set(cases._DIRECT)


def _filled(values: dict[str, Any], number: str, case_id: int) -> dict[str, Any]:
    """The values with the stored case's number and id in place."""
    given = {"{number}": number, "{case_id}": case_id}

    def filled(value: Any) -> Any:
        """The value, or the stored case's in its place (in a list too)."""
        if isinstance(value, list):
            return [filled(v) for v in value]
        return given.get(value, value) if isinstance(value, str) else value

    return {k: filled(v) for k, v in values.items()}


def test_each_statement_goes_to_the_driver_as_sqlalchemy_sends_it(store_url: str) -> None:
    """Same SQL, same values after the columns' own conversions (UTC datetimes as SQLite
    stores them, say), for each hot statement on its engines; and the same first row."""
    engine = db.make_engine(store_url)
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        """Keep what went to the driver."""
        sent.append((statement, parameters))

    with engine.connect() as connection:
        number = cases.issue_number(connection, call_sid="CA-open", line="cco", team="t",
                                    caller=None, node="n", now=NOW)
        case_id = connection.execute(sa.select(cases._CASES.c.id)).scalar_one()
        sa.event.listen(engine, "before_cursor_execute", capture)
        checked = 0
        for name, (dialects, values) in SENT.items():
            if connection.dialect.name not in dialects:
                continue
            statement = cases._DIRECT[name]
            filled = _filled(values, number, case_id)
            sent.clear()
            by_sqlalchemy = connection.execute(statement.statement, filled)
            expected_row = by_sqlalchemy.first() if by_sqlalchemy.returns_rows else None
            connection.rollback()
            assert len(sent) == 1, name
            with direct.transaction(connection) as cursor:
                row = cursor.first(statement, filled)
                cursor.connection.connection.driver_connection.rollback()  # leave nothing
            assert sent[1] == sent[0], name
            assert (tuple(row) if row is not None else None) == (
                tuple(expected_row) if expected_row is not None else None), name
            checked += 1
        sa.event.remove(engine, "before_cursor_execute", capture)
    engine.dispose()
    assert checked >= 3


def test_a_value_the_database_refuses_is_sqlalchemys_error(store_url: str) -> None:
    """A note for a case that does not exist: SQLAlchemy's IntegrityError, its values hidden;
    nothing is left open, and the connection serves the next statement."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        with pytest.raises(sa.exc.IntegrityError) as refused:
            with direct.transaction(connection) as cursor:
                cursor.first(cases._DIRECT["opened"], {"case_id": 999_999, "at": NOW, **NOTE})
        assert "+573001112233" not in str(refused.value)
        assert not refused.value.connection_invalidated
        assert not connection.in_transaction()
        assert connection.execute(sa.select(sa.func.count()).select_from(cases._CALLS)
                                  ).scalar() == 0
    engine.dispose()


def test_an_autocommitted_statement_holds_no_transaction(store_url: str) -> None:
    """Autocommit: the statement is committed on its own, seen at once by another connection,
    with no transaction left open on the driver between statements (on SQLite, none that
    holds the file's write lock while the thread waits for the interpreter); the driver's
    switch is back as it was afterwards, after a refusal too."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection, engine.connect() as other:
        cases.issue_number(connection, call_sid="CA-open", line="cco", team="t", caller=None,
                           node="n", now=NOW)
        case_id = connection.execute(sa.select(cases._CASES.c.id)).scalar_one()
        connection.commit()
        dbapi: Any = connection.connection.driver_connection
        sqlite = connection.dialect.name == "sqlite"
        switch = "isolation_level" if sqlite else "autocommit"
        before = getattr(dbapi, switch)
        sent = _driver_statements(dbapi) if sqlite else []
        with direct.transaction(connection, autocommit=True) as cursor:
            cursor.first(cases._DIRECT["opened"], {"case_id": case_id, "at": NOW, **NOTE})
            assert dbapi.in_transaction is False if sqlite \
                else dbapi.info.transaction_status == 0  # psycopg: IDLE
            seen = other.execute(sa.select(sa.func.count()).select_from(cases._CALLS).where(
                cases._CALLS.c.call_sid == NOTE["call_sid"])).scalar()
            other.rollback()
            assert seen == 1
        assert getattr(dbapi, switch) == before
        with pytest.raises(sa.exc.IntegrityError):
            with direct.transaction(connection, autocommit=True) as cursor:
                cursor.first(cases._DIRECT["opened"], {"case_id": 999_999, "at": NOW, **NOTE})
        assert getattr(dbapi, switch) == before
        if sqlite:  # what sqlite3 itself sent: the two INSERTs, no BEGIN, no COMMIT
            assert [sql.split()[0].upper() for sql in sent] == ["INSERT", "INSERT"]
    engine.dispose()


def _driver_statements(dbapi: Any) -> list[str]:
    """Every statement sqlite3 sends from now on, its own BEGIN and COMMIT included."""
    sent: list[str] = []
    dbapi.set_trace_callback(sent.append)
    return sent


def test_a_look_up_note_on_sqlite_is_one_statement(tmp_path: Any) -> None:
    """The note of a look-up is sent in autocommit: sqlite3 sends the INSERT alone."""
    url = db.database_url(f"sqlite:///{tmp_path / 'note.sqlite3'}", str(tmp_path))
    engine = db.make_engine(url)
    db.upgrade(engine)
    with engine.connect() as connection:
        cases.issue_number(connection, call_sid="CA-open", line="cco", team="t", caller=None,
                           node="n", now=NOW)
        case_id = connection.execute(sa.select(cases._CASES.c.id)).scalar_one()
        connection.commit()
        sent = _driver_statements(connection.connection.driver_connection)
        cases.record_call(connection, case_id, call_sid="CA-note", caller=None, node="n",
                          outcome="looked-up", now=NOW)
        assert [sql.split()[0].upper() for sql in sent] == ["INSERT"]
    engine.dispose()


@pytest.mark.parametrize("autocommit", [True, False])
def test_a_closed_driver_connection_is_sqlalchemys_lost_connection(
    store_url: str, autocommit: bool
) -> None:
    """A connection closed under the pool: SQLAlchemy's error, the connection invalidated
    (so `ivr.db.attempt` tells a lost database), whichever switch the block asked for."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        connection.connection.driver_connection.close()
        with pytest.raises(sa.exc.DBAPIError) as lost:
            with direct.transaction(connection, autocommit=autocommit):
                pass
        assert lost.value.connection_invalidated
    engine.dispose()


def test_a_value_its_columns_type_refuses_is_sqlalchemys_error(store_url: str) -> None:
    """A value the column's own conversion refuses (a time without its zone): SQLAlchemy's
    StatementError, as SQLAlchemy raises it, which `ivr.db.attempt` catches; nothing sent."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            with direct.transaction(connection, autocommit=True) as cursor:
                cursor.first(cases._DIRECT["opened"], {
                    "case_id": 1, **NOTE, "at": NOW.replace(tzinfo=None)})
        assert not connection.in_transaction()
        assert connection.execute(sa.select(sa.func.count()).select_from(cases._CALLS)
                                  ).scalar() == 0
    engine.dispose()


def test_a_statement_inside_sqlalchemys_transaction_is_refused(store_url: str) -> None:
    """SQLAlchemy would not know of the driver's transaction: not allowed."""
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        connection.execute(sa.select(1))
        with pytest.raises(ValueError, match="transaction is open"):
            with direct.transaction(connection):
                pass
    engine.dispose()



def test_a_transaction_open_on_sqlites_driver_is_not_committed(tmp_path: Any) -> None:
    """Work begun on the driver behind SQLAlchemy's back is refused, not committed with ours
    (sqlite3 commits what is open when it is switched to autocommit)."""
    url = db.database_url(f"sqlite:///{tmp_path / 'open.sqlite3'}", str(tmp_path))
    engine = db.make_engine(url)
    db.upgrade(engine)
    with engine.connect() as connection:
        dbapi: Any = connection.connection.driver_connection
        dbapi.execute("INSERT INTO cases (number, line, team, level, status, created_at, "
                      "updated_at) VALUES ('30300004', 'cco', 't', 1, 'open', 'x', 'x')")
        assert dbapi.in_transaction
        for autocommit in (True, False):
            with pytest.raises(ValueError, match="driver has a transaction open"):
                with direct.transaction(connection, autocommit=autocommit):
                    pass
        dbapi.rollback()
        assert connection.execute(sa.select(sa.func.count()).select_from(cases._CASES)
                                  ).scalar() == 0
    engine.dispose()


def test_a_statement_whose_sql_depends_on_its_values_is_refused() -> None:
    """An IN list expanded at execution cannot be compiled once."""
    statement = sa.select(cases._CASES.c.id).where(
        cases._CASES.c.number.in_(sa.bindparam("numbers", expanding=True)))
    with pytest.raises(ValueError, match="depends on its values"):
        direct.compile_for(statement, sa.create_engine("sqlite://").dialect)
