"""The case store on SQLite and PostgreSQL: unique numbers, one case per call, nothing lost."""

from __future__ import annotations

import io
import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ivr import db
from ivr.core import check_digit
from ivr.store import cases
from ivr.store.tables import Case, CaseCall

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def session(store_url: str) -> Iterator[Session]:
    """A session on a clean, migrated database."""
    engine = db.make_engine(store_url)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


def _open(session: Session, call_sid: str | None = "CA1", **extra: object) -> Case:
    """Open a case with test defaults."""
    args = {"call_sid": call_sid, "line": "cco", "team": "centro_soporte",
            "caller": "+584141234567", "node": "nuevo_caso", "now": NOW, **extra}
    return cases.open_case(session, **args)  # type: ignore[arg-type]


def test_open_case_issues_a_valid_number_and_notes_the_call(session: Session) -> None:
    """A new case: an 8-digit number with a good check digit, status open, the call noted."""
    case = _open(session)
    assert check_digit.is_valid(case.number, 8)
    found = cases.case_with_calls(session, case.number)
    assert found is not None and found.status == "open" and found.level == 1
    assert [(c.call_sid, c.outcome) for c in found.calls] == [("CA1", "opened")]
    assert found.created_at == NOW


def test_same_call_gets_the_same_case(session: Session) -> None:
    """A retried webhook (same CallSid) gets the case it already has."""
    first = _open(session)
    again = _open(session)
    assert again.number == first.number
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_a_taken_number_is_retried_not_lost(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the random number is taken, the store draws another: the unique constraint decides."""
    numbers = iter(["30348617", "30348617", "52949267"])
    monkeypatch.setattr(cases, "new_number", lambda digits: next(numbers))
    first = _open(session, call_sid="CA1")
    second = _open(session, call_sid="CA2")
    assert (first.number, second.number) == ("30348617", "52949267")


def test_record_attach_status_and_export(session: Session) -> None:
    """The calls, the recording, the transcription and the status all stay with the case."""
    case = _open(session)
    cases.record_call(session, case, call_sid="CA9", caller="+58", node="consulta_caso",
                           outcome="looked-up", now=NOW)
    cases.attach_recording(session, case.number, url="https://x/rec", seconds=12, now=NOW)
    cases.attach_transcription(session, case.number, "La impresora no imprime", NOW)
    cases.set_status(session, case.number, "in_progress", NOW, level=2)
    shown = cases.case_with_calls(session, case.number)
    assert shown is not None
    assert [c.outcome for c in shown.calls] == ["opened", "looked-up"]
    assert (shown.recording_url, shown.recording_seconds) == ("https://x/rec", 12)
    assert shown.transcription == "La impresora no imprime"
    assert (shown.status, shown.level) == ("in_progress", 2)
    out = io.StringIO()
    assert cases.export_csv(cases.all_cases(session), out) == 1
    header, row = out.getvalue().splitlines()
    assert header.startswith("number,line,team,level,status")
    assert row.startswith(f"{case.number},cco,centro_soporte,2,in_progress")


def test_set_status_refuses_unknown_cases_and_statuses(session: Session) -> None:
    """Admin mistakes are refused with a message, not stored."""
    case = _open(session)
    with pytest.raises(cases.CaseError, match="unknown status"):
        cases.set_status(session, case.number, "done", NOW)
    with pytest.raises(cases.CaseError, match="no case"):
        cases.set_status(session, "99999999", "closed", NOW)


def test_list_newest_first_by_line_and_status(session: Session) -> None:
    """Listing filters by line and status, newest first."""
    a = _open(session, call_sid="CA1")
    b = _open(session, call_sid="CA2", line="certicamara", now=NOW.replace(hour=16))
    cases.set_status(session, a.number, "closed", NOW)
    assert [c.number for c in cases.list_cases(session)] == [b.number, a.number]
    assert [c.number for c in cases.list_cases(session, line="cco")] == [a.number]
    assert [c.number for c in cases.list_cases(session, status="open")] == [b.number]


def _worker(url: str, prefix: str, count: int) -> list[str]:
    """Open `count` cases from a separate process (a gunicorn worker, or another machine)."""
    engine = db.make_engine(url)
    numbers = []
    with Session(engine, expire_on_commit=False) as s:
        for i in range(count):
            case = cases.open_case(s, call_sid=f"{prefix}-{i}", line="cco", team="t",
                                        caller=None, node="n", now=datetime.now(UTC))
            numbers.append(case.number)
    engine.dispose()
    return numbers


def _same_call(url: str, call_sid: str) -> str:
    """Open the case of one call from a separate process."""
    return _worker(url, call_sid, 1)[0]


@pytest.mark.parametrize("digits", [8])
def test_concurrent_processes_never_share_a_number(session: Session, store_url: str,
                                                    digits: int) -> None:
    """Four processes opening cases at once: every number distinct, every case stored."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(_worker, [(store_url, f"CA{p}", 40) for p in range(4)])
    numbers = [n for batch in results for n in batch]
    assert len(numbers) == 160 and len(set(numbers)) == 160
    stored = session.scalars(sa.select(Case.number)).all()
    assert sorted(stored) == sorted(numbers)
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseCall)) == 160


def test_concurrent_retries_of_one_call_get_one_case(session: Session, store_url: str) -> None:
    """The same webhook retried from several processes at once: one case, one number."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        numbers = pool.starmap(_same_call, [(store_url, "CA-retried")] * 8)
    assert len(set(numbers)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_export_keeps_formulas_out_of_spreadsheets(session: Session) -> None:
    """A transcription a caller spoke cannot run as a spreadsheet formula; numbers stay."""
    case = _open(session)
    cases.attach_transcription(session, case.number, "=HYPERLINK(\"x\")", NOW)
    out = io.StringIO()
    cases.export_csv(cases.all_cases(session), out)
    row = out.getvalue().splitlines()[1]
    assert "'=HYPERLINK" in row and ",+584141234567," in row


# The webhooks' path: a plain connection (one statement per try on PostgreSQL)


def _issue(connection: Connection, call_sid: str | None) -> str:
    """Issue the case number of one call on a plain connection, as a webhook does."""
    return cases.issue_number(connection, call_sid=call_sid, line="cco", team="t", caller="+57",
                              node="nuevo_caso", now=NOW)


def test_a_connection_issues_once_per_call_and_redraws_a_taken_number(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same call gets its number again; a taken number is drawn again; each case has its
    'opened' note, stored before the number is returned."""
    numbers = iter(["30348617", "30348617", "52949267", "71234561"])
    monkeypatch.setattr(cases, "new_number", lambda digits: next(numbers))
    engine = db.make_engine(store_url)
    with engine.connect() as connection:
        first = _issue(connection, "CA1")
        assert _issue(connection, "CA1") == first  # a replay: its own number, not a new one
        second = _issue(connection, "CA2")
        assert not connection.in_transaction()
    with engine.connect() as other:  # another connection sees both: committed
        notes = other.execute(sa.select(Case.number, CaseCall.outcome, CaseCall.caller)
                              .join(CaseCall).order_by(Case.number)).all()
    engine.dispose()
    assert (first, second) == ("30348617", "52949267")
    assert [tuple(n) for n in notes] == [("30348617", "opened", "+57"),
                                        ("52949267", "opened", "+57")]


def _connection_worker(url: str, prefix: str, count: int) -> list[str]:
    """Issue `count` numbers from a separate process on a plain connection (a webhook's)."""
    engine = db.make_engine(url)
    with engine.connect() as connection:
        numbers = [_issue(connection, f"{prefix}-{i}" if count > 1 else prefix)
                   for i in range(count)]
    engine.dispose()
    return numbers


def test_concurrent_connections_never_share_a_number_and_a_retried_call_gets_one(
    session: Session, store_url: str
) -> None:
    """Four processes issuing at once, then one call retried from eight: distinct numbers,
    every case stored once."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(_connection_worker, [(store_url, f"CA{p}", 30) for p in range(4)])
        retried = pool.starmap(_connection_worker, [(store_url, "CA-retried", 1)] * 8)
    numbers = [n for batch in results for n in batch]
    assert len(numbers) == 120 and len(set(numbers)) == 120
    assert len({batch[0] for batch in retried}) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 121
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseCall)) == 121
