"""The callback list in the database, on SQLite and PostgreSQL: order, atomic claims from two
processes, retries that keep the place, and unreachable after the last attempt."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from ivr import db
from ivr.store import callbacks
from ivr.store.tables import Callback

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
CALLBACKS = 40


def _add(session: Session, sid: str, severity: int, joined_minutes: int) -> int:
    """A pending callback of line cco."""
    row = Callback(line="cco", node="centro_soporte", call_sid=sid, number="+582125551234",
                   severity=severity, status="pending",
                   joined_at=NOW + timedelta(minutes=joined_minutes), requested_at=NOW,
                   attempts=0, updated_at=NOW)
    session.add(row)
    session.commit()
    return row.id


def _claim_all(url: str, analyst: str, out: multiprocessing.Queue[list[int]]) -> None:
    """In another process: claim callbacks until none is left; report the ids claimed."""
    engine = db.make_engine(url)
    claimed: list[int] = []
    with engine.connect() as connection:
        while (got := callbacks.claim_next(connection, line="cco", analyst=analyst,
                                           now=NOW)) is not None:
            claimed.append(got)
    engine.dispose()
    out.put(claimed)


def test_claims_from_two_processes_never_share_a_callback(store_url: str) -> None:
    """Two processes (two gunicorn machines) claim at once: each callback goes to exactly one."""
    engine = db.make_engine(store_url)
    with Session(engine) as session:
        ids = {_add(session, f"CA{i:032d}", 1 + i % 3, i) for i in range(CALLBACKS)}
    engine.dispose()
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[list[int]] = context.Queue()
    workers = [context.Process(target=_claim_all, args=(store_url, name, out))
               for name in ("ana", "beto")]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    first, second = results
    assert not set(first) & set(second)
    assert set(first) | set(second) == ids
    assert len(first) + len(second) == CALLBACKS


def test_claims_follow_severity_then_first_join(store_url: str) -> None:
    """The gravest first; within a severity, who joined the queue first."""
    engine = db.make_engine(store_url)
    with Session(engine) as session:
        late_two = _add(session, "CA" + "1" * 32, 2, 30)
        early_two = _add(session, "CA" + "2" * 32, 2, 0)
        one = _add(session, "CA" + "3" * 32, 1, 45)
    with engine.connect() as connection:
        order = [callbacks.claim_next(connection, line="cco", analyst="ana", now=NOW)
                 for _ in range(4)]
    engine.dispose()
    assert order == [one, early_two, late_two, None]


def test_unreached_callbacks_are_retried_in_place_then_closed(store_url: str) -> None:
    """No answer: back on the list with its place; after max_attempts, unreachable."""
    engine = db.make_engine(store_url)
    with Session(engine) as session:
        first = _add(session, "CA" + "1" * 32, 2, 0)
        _add(session, "CA" + "2" * 32, 2, 10)
        outcomes = []
        for outcome in ("no-answer", "busy", "voicemail"):
            with engine.connect() as connection:
                claimed = callbacks.claim_next(connection, line="cco", analyst="ana", now=NOW)
            assert claimed == first  # still ahead of the later caller of the same severity
            row = callbacks.record_outcome(session, first, outcome, max_attempts=3, now=NOW)
            outcomes.append((row.status, row.attempts, row.last_outcome))
    engine.dispose()
    assert outcomes == [("pending", 1, "no-answer"), ("pending", 2, "busy"),
                        ("unreachable", 3, "voicemail")]


def test_a_reached_callback_is_done(store_url: str) -> None:
    """Reached closes it; an unknown outcome is refused."""
    engine = db.make_engine(store_url)
    with Session(engine) as session:
        ident = _add(session, "CA" + "1" * 32, 1, 0)
        with pytest.raises(callbacks.CallbackError):
            callbacks.record_outcome(session, ident, "maybe", max_attempts=3, now=NOW)
        assert callbacks.record_outcome(session, ident, "reached", max_attempts=3,
                                        now=NOW).status == "done"
    engine.dispose()
