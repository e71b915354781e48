"""Table-driven tests for ivr.core.rotation (who is on call: hand-offs across DST, overrides)."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ivr.core.rotation import Contact, Handoff, OnCall, Override, Rotation

BOGOTA = ZoneInfo("America/Bogota")
CARACAS = ZoneInfo("America/Caracas")
NEW_YORK = ZoneInfo("America/New_York")
TICK = timedelta(microseconds=1)

CERTICAMARA_P1 = Contact("prioridad 1 móvil", "+573187174937")
CCO_FIRST = Contact("guardia CCO", "+584140143913")
CCO_SECOND = Contact("guardia CCO suplente", "+584140320151")
A = Contact("guardia principal", "+573001110001")
B = Contact("guardia suplente", "+573001110002")
C = Contact("coordinación", "+573001110003")
ABC = (A, B, C)


def utc(*args: int) -> datetime:
    """Build a UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def bog(*args: int) -> datetime:
    """Build a Bogotá wall-clock datetime."""
    return datetime(*args, tzinfo=BOGOTA)


def ny(*args: int, fold: int = 0) -> datetime:
    """Build a New York wall-clock datetime (fold=1 picks the second of a repeated time)."""
    return datetime(*args, tzinfo=NEW_YORK, fold=fold)


def iso(at: datetime | None) -> str | None:
    """Show an instant as ISO text with its offset, which tells repeated wall times apart."""
    return None if at is None else at.isoformat()


def summary(result: OnCall) -> tuple[Contact, str, str | None, str | None]:
    """Reduce an OnCall to comparable text: contact, source, since and until."""
    return result.contact, result.source, iso(result.since), iso(result.until)


def certicamara() -> Rotation:
    """Certicámara: one priority-1 mobile answering 24/7."""
    return Rotation((CERTICAMARA_P1,), BOGOTA)


def cco() -> Rotation:
    """CCO on-call: a fixed order of two numbers."""
    return Rotation((CCO_FIRST, CCO_SECOND), CARACAS)


def bogota_weekly(*overrides: Override) -> Rotation:
    """Three contacts handing off on Mondays at 08:00 in Bogotá, A first from 2026-01-05."""
    return Rotation(ABC, BOGOTA, Handoff("week", 0, 8 * 60), date(2026, 1, 5), overrides)


def ny_daily(minute: int, anchor: date = date(2026, 3, 1)) -> Rotation:
    """Three contacts handing off daily at local `minute` in New York."""
    return Rotation(ABC, NEW_YORK, Handoff("day", 0, minute), anchor)


def ny_weekly(weekday: int, minute: int, anchor: date) -> Rotation:
    """Three contacts handing off weekly in New York."""
    return Rotation(ABC, NEW_YORK, Handoff("week", weekday, minute), anchor)


def ny_daily_0800() -> Rotation:
    """Daily at 08:00 in New York, A first on 2026-03-01."""
    return ny_daily(8 * 60)


def ny_daily_0230() -> Rotation:
    """Daily at 02:30 (skipped on 2026-03-08) in New York, A first on 2026-03-01."""
    return ny_daily(2 * 60 + 30)


def ny_daily_0130() -> Rotation:
    """Daily at 01:30 (repeated on 2026-11-01) in New York, A first on 2026-10-25."""
    return ny_daily(60 + 30, date(2026, 10, 25))


def ny_monday_0800() -> Rotation:
    """Mondays at 08:00 in New York, A first on 2026-03-02."""
    return ny_weekly(0, 8 * 60, date(2026, 3, 2))


def ny_sunday_0230() -> Rotation:
    """Sundays at 02:30 in New York (skipped on 2026-03-08), A first on 2026-03-01."""
    return ny_weekly(6, 2 * 60 + 30, date(2026, 3, 1))


def ny_sunday_0130() -> Rotation:
    """Sundays at 01:30 in New York (repeated on 2026-11-01), A first on 2026-10-25."""
    return ny_weekly(6, 60 + 30, date(2026, 10, 25))


# ---------------------------------------------------------------------------
# Fixed orders
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "at",
    [
        bog(2026, 3, 3, 3, 0),
        bog(2026, 12, 24, 23, 59, 59),
        utc(2026, 1, 1, 0, 0),
        ny(2026, 11, 1, 1, 30, fold=1),
        datetime(1990, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=9))),
        datetime(2099, 1, 1, tzinfo=CARACAS),
    ],
)
def test_single_contact_answers_around_the_clock(at: datetime) -> None:
    """Certicámara's one priority-1 mobile is always on call, alone, and never handed off."""
    rotation = certicamara()
    assert rotation.on_call(at) == OnCall(CERTICAMARA_P1, "fixed", None, None, None)
    assert rotation.order(at) == (CERTICAMARA_P1,)
    assert rotation.handoffs(at - timedelta(days=400), at) == []


@pytest.mark.parametrize(
    "at",
    [bog(2026, 3, 3, 9, 0), datetime(2026, 3, 7, 23, 0, tzinfo=CARACAS), utc(2030, 5, 5)],
)
def test_fixed_order_rings_as_listed(at: datetime) -> None:
    """The CCO chain rings its first number, then its second, whatever the time."""
    rotation = cco()
    assert rotation.on_call(at) == OnCall(CCO_FIRST, "fixed", None, None, None)
    assert rotation.order(at) == (CCO_FIRST, CCO_SECOND)
    assert rotation.handoffs(at, at + timedelta(days=30)) == []


def test_fixed_order_with_an_override() -> None:
    """An override puts the second CCO number first while it lasts, and only then."""
    start = datetime(2026, 3, 7, 18, 0, tzinfo=CARACAS)
    until = datetime(2026, 3, 9, 7, 0, tzinfo=CARACAS)
    override = Override(start, until, 1)
    rotation = Rotation((CCO_FIRST, CCO_SECOND), CARACAS, overrides=(override,))
    before = rotation.on_call(start - TICK)
    assert summary(before) == (CCO_FIRST, "fixed", None, "2026-03-07T18:00:00-04:00")
    during = rotation.on_call(start)
    assert during.override is override
    assert summary(during) == (
        CCO_SECOND,
        "override",
        "2026-03-07T18:00:00-04:00",
        "2026-03-09T07:00:00-04:00",
    )
    assert rotation.order(start) == (CCO_SECOND, CCO_FIRST)
    assert rotation.on_call(until) == OnCall(CCO_FIRST, "fixed", None, None, None)
    assert rotation.order(until) == (CCO_FIRST, CCO_SECOND)


# ---------------------------------------------------------------------------
# A weekly rotation without DST (Bogotá)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "contact", "since", "until", "order"),
    [
        pytest.param(
            bog(2026, 1, 5, 8, 0),
            A,
            "2026-01-05T08:00:00-05:00",
            "2026-01-12T08:00:00-05:00",
            (A, B, C),
            id="anchor-hand-off",
        ),
        pytest.param(
            bog(2026, 1, 11, 23, 59),
            A,
            "2026-01-05T08:00:00-05:00",
            "2026-01-12T08:00:00-05:00",
            (A, B, C),
            id="sunday-night",
        ),
        pytest.param(
            bog(2026, 1, 12, 7, 59, 59),
            A,
            "2026-01-05T08:00:00-05:00",
            "2026-01-12T08:00:00-05:00",
            (A, B, C),
            id="07:59:59",
        ),
        pytest.param(
            bog(2026, 1, 12, 7, 59, 59, 999999),
            A,
            "2026-01-05T08:00:00-05:00",
            "2026-01-12T08:00:00-05:00",
            (A, B, C),
            id="last-microsecond",
        ),
        pytest.param(
            bog(2026, 1, 12, 8, 0),
            B,
            "2026-01-12T08:00:00-05:00",
            "2026-01-19T08:00:00-05:00",
            (B, C, A),
            id="08:00:00",
        ),
        pytest.param(
            utc(2026, 1, 12, 13, 0),
            B,
            "2026-01-12T08:00:00-05:00",
            "2026-01-19T08:00:00-05:00",
            (B, C, A),
            id="08:00-given-in-utc",
        ),
        pytest.param(
            bog(2026, 1, 19, 8, 0),
            C,
            "2026-01-19T08:00:00-05:00",
            "2026-01-26T08:00:00-05:00",
            (C, A, B),
            id="third-week",
        ),
        pytest.param(
            bog(2026, 1, 26, 7, 59, 59),
            C,
            "2026-01-19T08:00:00-05:00",
            "2026-01-26T08:00:00-05:00",
            (C, A, B),
            id="before-wrap",
        ),
        pytest.param(
            bog(2026, 1, 26, 8, 0),
            A,
            "2026-01-26T08:00:00-05:00",
            "2026-02-02T08:00:00-05:00",
            (A, B, C),
            id="wraps-to-first",
        ),
        pytest.param(
            bog(2026, 3, 4, 12, 0),
            C,
            "2026-03-02T08:00:00-05:00",
            "2026-03-09T08:00:00-05:00",
            (C, A, B),
            id="eight-weeks-later",
        ),
        pytest.param(
            bog(2026, 1, 5, 7, 59, 59),
            C,
            "2025-12-29T08:00:00-05:00",
            "2026-01-05T08:00:00-05:00",
            (C, A, B),
            id="just-before-anchor",
        ),
        pytest.param(
            bog(2025, 12, 22, 8, 0),
            B,
            "2025-12-22T08:00:00-05:00",
            "2025-12-29T08:00:00-05:00",
            (B, C, A),
            id="two-weeks-before-anchor",
        ),
        pytest.param(
            bog(2025, 12, 29, 7, 59, 59),
            B,
            "2025-12-22T08:00:00-05:00",
            "2025-12-29T08:00:00-05:00",
            (B, C, A),
            id="before-anchor-07:59:59",
        ),
        pytest.param(
            bog(2025, 12, 22, 7, 59, 59),
            A,
            "2025-12-15T08:00:00-05:00",
            "2025-12-22T08:00:00-05:00",
            (A, B, C),
            id="three-weeks-before-anchor",
        ),
    ],
)
def test_bogota_weekly(
    at: datetime, contact: Contact, since: str, until: str, order: tuple[Contact, ...]
) -> None:
    """Weekly turns change at exactly Monday 08:00 local, also counting back from the anchor."""
    rotation = bogota_weekly()
    assert summary(rotation.on_call(at)) == (contact, "rotation", since, until)
    assert rotation.on_call(at).override is None
    assert rotation.order(at) == order


D = Contact("gerencia", "+573001110004")


@pytest.mark.parametrize(
    ("at", "contact"),
    [
        (bog(2025, 12, 22, 8, 0), C),
        (bog(2025, 12, 29, 8, 0), D),
        (bog(2026, 1, 5, 8, 0), A),
        (bog(2026, 1, 12, 8, 0), B),
        (bog(2026, 1, 19, 8, 0), C),
        (bog(2026, 1, 26, 8, 0), D),
        (bog(2026, 2, 2, 8, 0), A),
        (bog(2026, 2, 2, 7, 59, 59), D),
    ],
)
def test_weekly_rotation_counts_weeks_not_days(at: datetime, contact: Contact) -> None:
    """With four contacts each week moves one step (seven days would move three)."""
    rotation = Rotation((A, B, C, D), BOGOTA, Handoff("week", 0, 480), date(2026, 1, 5))
    assert rotation.on_call(at).contact == contact


# ---------------------------------------------------------------------------
# New York: hand-offs across the 2026 DST changes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "at", "contact", "since", "until"),
    [
        # Daily at 08:00: the turn on the spring-forward day lasts 23 hours, not 24.
        pytest.param(
            ny_daily_0800,
            ny(2026, 3, 7, 8, 0),
            A,
            "2026-03-07T08:00:00-05:00",
            "2026-03-08T08:00:00-04:00",
            id="daily-0800-saturday",
        ),
        pytest.param(
            ny_daily_0800,
            ny(2026, 3, 8, 7, 59, 59),
            A,
            "2026-03-07T08:00:00-05:00",
            "2026-03-08T08:00:00-04:00",
            id="daily-0800-spring-07:59:59",
        ),
        pytest.param(
            ny_daily_0800,
            utc(2026, 3, 8, 12, 0),
            B,
            "2026-03-08T08:00:00-04:00",
            "2026-03-09T08:00:00-04:00",
            id="daily-0800-spring-08:00-in-utc",
        ),
        pytest.param(
            ny_daily_0800,
            ny(2026, 11, 1, 7, 59, 59),
            B,
            "2026-10-31T08:00:00-04:00",
            "2026-11-01T08:00:00-05:00",
            id="daily-0800-fall-07:59:59",
        ),
        pytest.param(
            ny_daily_0800,
            utc(2026, 11, 1, 12, 59, 59),
            B,
            "2026-10-31T08:00:00-04:00",
            "2026-11-01T08:00:00-05:00",
            id="daily-0800-fall-24h-after-is-still-before",
        ),
        pytest.param(
            ny_daily_0800,
            ny(2026, 11, 1, 8, 0),
            C,
            "2026-11-01T08:00:00-05:00",
            "2026-11-02T08:00:00-05:00",
            id="daily-0800-fall-08:00",
        ),
        # Daily at 02:30: skipped on 2026-03-08, so that hand-off happens at 03:00 EDT.
        pytest.param(
            ny_daily_0230,
            ny(2026, 3, 7, 12, 0),
            A,
            "2026-03-07T02:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
            id="daily-0230-until-first-valid-instant",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 3, 8, 1, 59, 59),
            A,
            "2026-03-07T02:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
            id="daily-0230-spring-01:59:59",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 3, 8, 3, 0),
            B,
            "2026-03-08T03:00:00-04:00",
            "2026-03-09T02:30:00-04:00",
            id="daily-0230-spring-03:00",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 3, 8, 2, 45),
            B,
            "2026-03-08T03:00:00-04:00",
            "2026-03-09T02:30:00-04:00",
            id="daily-0230-spring-imaginary-02:45-input",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 3, 9, 2, 29, 59),
            B,
            "2026-03-08T03:00:00-04:00",
            "2026-03-09T02:30:00-04:00",
            id="daily-0230-next-day-02:29:59",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 3, 9, 2, 30),
            C,
            "2026-03-09T02:30:00-04:00",
            "2026-03-10T02:30:00-04:00",
            id="daily-0230-next-day-02:30",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 11, 1, 1, 30, fold=1),
            B,
            "2026-10-31T02:30:00-04:00",
            "2026-11-01T02:30:00-05:00",
            id="daily-0230-fall-repeated-hour",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 11, 1, 2, 30),
            C,
            "2026-11-01T02:30:00-05:00",
            "2026-11-02T02:30:00-05:00",
            id="daily-0230-fall-02:30",
        ),
        # Daily at 01:30: repeated on 2026-11-01, so that hand-off happens at 01:30 EDT only.
        pytest.param(
            ny_daily_0130,
            ny(2026, 11, 1, 1, 29, 59),
            A,
            "2026-10-31T01:30:00-04:00",
            "2026-11-01T01:30:00-04:00",
            id="daily-0130-fall-01:29:59-first-pass",
        ),
        pytest.param(
            ny_daily_0130,
            ny(2026, 11, 1, 1, 30),
            B,
            "2026-11-01T01:30:00-04:00",
            "2026-11-02T01:30:00-05:00",
            id="daily-0130-fall-01:30-first-pass",
        ),
        pytest.param(
            ny_daily_0130,
            ny(2026, 11, 1, 1, 15, fold=1),
            B,
            "2026-11-01T01:30:00-04:00",
            "2026-11-02T01:30:00-05:00",
            id="daily-0130-fall-01:15-second-pass",
        ),
        pytest.param(
            ny_daily_0130,
            ny(2026, 11, 1, 1, 30, fold=1),
            B,
            "2026-11-01T01:30:00-04:00",
            "2026-11-02T01:30:00-05:00",
            id="daily-0130-fall-01:30-second-pass-no-second-hand-off",
        ),
        pytest.param(
            ny_daily_0130,
            ny(2026, 11, 2, 1, 30),
            C,
            "2026-11-02T01:30:00-05:00",
            "2026-11-03T01:30:00-05:00",
            id="daily-0130-after-fall",
        ),
        pytest.param(
            ny_daily_0130,
            ny(2026, 3, 8, 1, 29, 59),
            C,
            "2026-03-07T01:30:00-05:00",
            "2026-03-08T01:30:00-05:00",
            id="daily-0130-spring-before-anchor",
        ),
        pytest.param(
            ny_daily_0130,
            ny(2026, 3, 8, 1, 30),
            A,
            "2026-03-08T01:30:00-05:00",
            "2026-03-09T01:30:00-04:00",
            id="daily-0130-spring-01:30-before-anchor",
        ),
        # Weekly on Mondays at 08:00: the week of the spring change lasts 167 hours.
        pytest.param(
            ny_monday_0800,
            ny(2026, 3, 9, 7, 59, 59),
            A,
            "2026-03-02T08:00:00-05:00",
            "2026-03-09T08:00:00-04:00",
            id="weekly-0800-spring-07:59:59",
        ),
        pytest.param(
            ny_monday_0800,
            utc(2026, 3, 9, 12, 0),
            B,
            "2026-03-09T08:00:00-04:00",
            "2026-03-16T08:00:00-04:00",
            id="weekly-0800-spring-08:00-in-utc",
        ),
        pytest.param(
            ny_monday_0800,
            ny(2026, 11, 2, 7, 59, 59),
            B,
            "2026-10-26T08:00:00-04:00",
            "2026-11-02T08:00:00-05:00",
            id="weekly-0800-fall-07:59:59",
        ),
        pytest.param(
            ny_monday_0800,
            ny(2026, 11, 2, 8, 0),
            C,
            "2026-11-02T08:00:00-05:00",
            "2026-11-09T08:00:00-05:00",
            id="weekly-0800-fall-08:00",
        ),
        # Weekly on Sundays, on the DST days themselves.
        pytest.param(
            ny_sunday_0230,
            ny(2026, 3, 8, 1, 59, 59),
            A,
            "2026-03-01T02:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
            id="weekly-0230-spring-01:59:59",
        ),
        pytest.param(
            ny_sunday_0230,
            ny(2026, 3, 8, 3, 0),
            B,
            "2026-03-08T03:00:00-04:00",
            "2026-03-15T02:30:00-04:00",
            id="weekly-0230-spring-03:00",
        ),
        pytest.param(
            ny_sunday_0230,
            ny(2026, 11, 1, 2, 29, 59),
            B,
            "2026-10-25T02:30:00-04:00",
            "2026-11-01T02:30:00-05:00",
            id="weekly-0230-fall-02:29:59",
        ),
        pytest.param(
            ny_sunday_0230,
            ny(2026, 11, 1, 2, 30),
            C,
            "2026-11-01T02:30:00-05:00",
            "2026-11-08T02:30:00-05:00",
            id="weekly-0230-fall-02:30",
        ),
        pytest.param(
            ny_sunday_0130,
            ny(2026, 11, 1, 1, 29, 59),
            A,
            "2026-10-25T01:30:00-04:00",
            "2026-11-01T01:30:00-04:00",
            id="weekly-0130-fall-01:29:59",
        ),
        pytest.param(
            ny_sunday_0130,
            ny(2026, 11, 1, 1, 30),
            B,
            "2026-11-01T01:30:00-04:00",
            "2026-11-08T01:30:00-05:00",
            id="weekly-0130-fall-01:30",
        ),
        pytest.param(
            ny_sunday_0130,
            ny(2026, 11, 1, 1, 0, fold=1),
            B,
            "2026-11-01T01:30:00-04:00",
            "2026-11-08T01:30:00-05:00",
            id="weekly-0130-fall-01:00-second-pass",
        ),
        pytest.param(
            ny_sunday_0130,
            ny(2026, 3, 8, 1, 29, 59),
            C,
            "2026-03-01T01:30:00-05:00",
            "2026-03-08T01:30:00-05:00",
            id="weekly-0130-spring-before-anchor",
        ),
        pytest.param(
            ny_sunday_0130,
            ny(2026, 3, 8, 1, 30),
            A,
            "2026-03-08T01:30:00-05:00",
            "2026-03-15T01:30:00-04:00",
            id="weekly-0130-spring-01:30-before-anchor",
        ),
    ],
)
def test_new_york_across_dst(
    make: Callable[[], Rotation], at: datetime, contact: Contact, since: str, until: str
) -> None:
    """Hand-offs stay at their local time across DST; skipped times move to the next instant."""
    rotation = make()
    result = rotation.on_call(at)
    assert summary(result) == (contact, "rotation", since, until)
    assert result.since is not None and result.since.tzinfo is NEW_YORK
    assert result.until is not None and result.until.tzinfo is NEW_YORK


@pytest.mark.parametrize(
    ("make", "start", "end", "expected"),
    [
        pytest.param(
            ny_daily_0800,
            ny(2026, 3, 7),
            ny(2026, 3, 9),
            ["2026-03-07T08:00:00-05:00", "2026-03-08T08:00:00-04:00"],
            id="daily-0800-spring",
        ),
        pytest.param(
            ny_daily_0800,
            ny(2026, 10, 31),
            ny(2026, 11, 2),
            ["2026-10-31T08:00:00-04:00", "2026-11-01T08:00:00-05:00"],
            id="daily-0800-fall",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 3, 7),
            ny(2026, 3, 10),
            [
                "2026-03-07T02:30:00-05:00",
                "2026-03-08T03:00:00-04:00",
                "2026-03-09T02:30:00-04:00",
            ],
            id="daily-0230-spring",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 3, 8, 3, 0),
            ny(2026, 3, 9, 2, 30),
            ["2026-03-08T03:00:00-04:00"],
            id="start-included-end-excluded",
        ),
        pytest.param(
            ny_daily_0230,
            ny(2026, 3, 8, 3, 0) + TICK,
            ny(2026, 3, 9, 2, 30) + TICK,
            ["2026-03-09T02:30:00-04:00"],
            id="start-after-hand-off",
        ),
        pytest.param(
            ny_daily_0130,
            ny(2026, 10, 31),
            ny(2026, 11, 3),
            [
                "2026-10-31T01:30:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-02T01:30:00-05:00",
            ],
            id="daily-0130-fall-once",
        ),
        pytest.param(
            ny_daily_0130,
            ny(2026, 11, 1, 1, 0, fold=1),
            ny(2026, 11, 1, 2, 0),
            [],
            id="daily-0130-none-in-repeated-hour",
        ),
        pytest.param(
            ny_sunday_0230,
            ny(2026, 2, 20),
            ny(2026, 3, 20),
            [
                "2026-02-22T02:30:00-05:00",
                "2026-03-01T02:30:00-05:00",
                "2026-03-08T03:00:00-04:00",
                "2026-03-15T02:30:00-04:00",
            ],
            id="weekly-0230-spring",
        ),
        pytest.param(
            ny_monday_0800,
            utc(2026, 10, 20),
            utc(2026, 11, 10),
            [
                "2026-10-26T08:00:00-04:00",
                "2026-11-02T08:00:00-05:00",
                "2026-11-09T08:00:00-05:00",
            ],
            id="weekly-0800-fall-range-in-utc",
        ),
        pytest.param(
            bogota_weekly,
            bog(2026, 1, 1),
            bog(2026, 2, 1),
            [
                "2026-01-05T08:00:00-05:00",
                "2026-01-12T08:00:00-05:00",
                "2026-01-19T08:00:00-05:00",
                "2026-01-26T08:00:00-05:00",
            ],
            id="bogota-weekly",
        ),
        pytest.param(bogota_weekly, bog(2026, 1, 12, 8), bog(2026, 1, 12, 8), [], id="empty-range"),
        pytest.param(cco, utc(2026, 1, 1), utc(2027, 1, 1), [], id="fixed-order"),
    ],
)
def test_handoffs(
    make: Callable[[], Rotation], start: datetime, end: datetime, expected: list[str]
) -> None:
    """handoffs() lists each hand-off in [start, end) once, at its local wall time."""
    rotation = make()
    result = rotation.handoffs(start, end)
    assert [iso(instant) for instant in result] == expected
    assert all(instant.tzinfo is rotation.tz for instant in result)


APIA = ZoneInfo("Pacific/Apia")


@pytest.mark.parametrize(
    ("minute", "expected", "at", "contact"),
    [
        pytest.param(
            0,
            ["2011-12-29T00:00:00-10:00", "2011-12-31T00:00:00+14:00", "2012-01-01T00:00:00+14:00"],
            datetime(2011, 12, 31, 0, 0, tzinfo=APIA),
            A,
            id="midnight-two-dates-one-instant",
        ),
        pytest.param(
            480,
            [
                "2011-12-29T08:00:00-10:00",
                "2011-12-31T00:00:00+14:00",
                "2011-12-31T08:00:00+14:00",
                "2012-01-01T08:00:00+14:00",
            ],
            datetime(2011, 12, 31, 7, 59, tzinfo=APIA),
            C,
            id="08:00-moves-to-the-first-instant-after",
        ),
    ],
)
def test_skipped_calendar_day(
    minute: int, expected: list[str], at: datetime, contact: Contact
) -> None:
    """Samoa skipped 2011-12-30: its hand-off happens at the first instant after, listed once."""
    rotation = Rotation(ABC, APIA, Handoff("day", 0, minute), date(2011, 12, 28))
    start, end = datetime(2011, 12, 29, tzinfo=APIA), datetime(2012, 1, 2, tzinfo=APIA)
    assert [iso(instant) for instant in rotation.handoffs(start, end)] == expected
    assert rotation.on_call(at).contact == contact


def test_long_handoff_report_is_daily_and_in_order() -> None:
    """A year of daily hand-offs: one per local day, strictly increasing, always at 08:00."""
    result = ny_daily_0800().handoffs(ny(2026, 1, 1), ny(2027, 1, 1))
    assert len(result) == 365
    assert [instant.date() for instant in result] == [
        date(2026, 1, 1) + timedelta(days=offset) for offset in range(365)
    ]
    assert {(instant.hour, instant.minute) for instant in result} == {(8, 0)}
    utc_instants = [instant.astimezone(UTC) for instant in result]
    assert utc_instants == sorted(set(utc_instants))


# ---------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------

EVENING = Override(bog(2026, 1, 7, 18, 0), bog(2026, 1, 8, 6, 0), 2)
WIDE = Override(bog(2026, 1, 7, 0, 0), bog(2026, 1, 10, 0, 0), 1)
NARROW = Override(bog(2026, 1, 8, 0, 0), bog(2026, 1, 9, 0, 0), 2)
TIE_B = Override(bog(2026, 1, 8, 0, 0), bog(2026, 1, 9, 0, 0), 1)
TIE_C_SHORT = Override(utc(2026, 1, 8, 5, 0), utc(2026, 1, 8, 17, 0), 2)
ACROSS_HANDOFF = Override(bog(2026, 1, 12, 6, 0), bog(2026, 1, 12, 10, 0), 2)
IN_UTC = Override(utc(2026, 1, 21, 0, 0), utc(2026, 1, 22, 0, 0), 1)


@pytest.mark.parametrize(
    ("overrides", "at", "expected", "decider", "order"),
    [
        pytest.param(
            (EVENING,),
            bog(2026, 1, 7, 17, 59, 59),
            (A, "rotation", "2026-01-05T08:00:00-05:00", "2026-01-07T18:00:00-05:00"),
            None,
            (A, B, C),
            id="until-is-the-override-start-before-the-hand-off",
        ),
        pytest.param(
            (EVENING,),
            bog(2026, 1, 7, 18, 0),
            (C, "override", "2026-01-07T18:00:00-05:00", "2026-01-08T06:00:00-05:00"),
            EVENING,
            (C, A, B),
            id="begins-at-its-start",
        ),
        pytest.param(
            (EVENING,),
            bog(2026, 1, 8, 5, 59, 59, 999999),
            (C, "override", "2026-01-07T18:00:00-05:00", "2026-01-08T06:00:00-05:00"),
            EVENING,
            (C, A, B),
            id="last-microsecond",
        ),
        pytest.param(
            (EVENING,),
            bog(2026, 1, 8, 6, 0),
            (A, "rotation", "2026-01-05T08:00:00-05:00", "2026-01-12T08:00:00-05:00"),
            None,
            (A, B, C),
            id="expires-at-its-until",
        ),
        pytest.param(
            (WIDE, NARROW),
            bog(2026, 1, 7, 12, 0),
            (B, "override", "2026-01-07T00:00:00-05:00", "2026-01-08T00:00:00-05:00"),
            WIDE,
            (B, A, C),
            id="overlap-until-the-inner-one-starts",
        ),
        pytest.param(
            (WIDE, NARROW),
            bog(2026, 1, 8, 12, 0),
            (C, "override", "2026-01-08T00:00:00-05:00", "2026-01-09T00:00:00-05:00"),
            NARROW,
            (C, A, B),
            id="overlap-latest-start-wins",
        ),
        pytest.param(
            (NARROW, WIDE),
            bog(2026, 1, 8, 12, 0),
            (C, "override", "2026-01-08T00:00:00-05:00", "2026-01-09T00:00:00-05:00"),
            NARROW,
            (C, A, B),
            id="overlap-latest-start-wins-whatever-the-listing",
        ),
        pytest.param(
            (WIDE, NARROW),
            bog(2026, 1, 9, 0, 0),
            (B, "override", "2026-01-07T00:00:00-05:00", "2026-01-10T00:00:00-05:00"),
            WIDE,
            (B, A, C),
            id="overlap-outer-one-resumes",
        ),
        pytest.param(
            (NARROW, TIE_B),
            bog(2026, 1, 8, 0, 0),
            (B, "override", "2026-01-08T00:00:00-05:00", "2026-01-09T00:00:00-05:00"),
            TIE_B,
            (B, A, C),
            id="tie-later-listed-wins",
        ),
        pytest.param(
            (TIE_B, NARROW),
            bog(2026, 1, 8, 0, 0),
            (C, "override", "2026-01-08T00:00:00-05:00", "2026-01-09T00:00:00-05:00"),
            NARROW,
            (C, A, B),
            id="tie-later-listed-wins-reversed",
        ),
        pytest.param(
            (TIE_B, TIE_C_SHORT),
            bog(2026, 1, 8, 11, 59),
            (C, "override", "2026-01-08T00:00:00-05:00", "2026-01-08T12:00:00-05:00"),
            TIE_C_SHORT,
            (C, A, B),
            id="tie-given-in-another-zone",
        ),
        pytest.param(
            (TIE_B, TIE_C_SHORT),
            bog(2026, 1, 8, 12, 0),
            (B, "override", "2026-01-08T00:00:00-05:00", "2026-01-09T00:00:00-05:00"),
            TIE_B,
            (B, A, C),
            id="tie-other-resumes-when-the-winner-ends",
        ),
        pytest.param(
            (ACROSS_HANDOFF,),
            bog(2026, 1, 12, 7, 0),
            (C, "override", "2026-01-12T06:00:00-05:00", "2026-01-12T10:00:00-05:00"),
            ACROSS_HANDOFF,
            (C, A, B),
            id="across-hand-off-before-it",
        ),
        pytest.param(
            (ACROSS_HANDOFF,),
            bog(2026, 1, 12, 9, 0),
            (C, "override", "2026-01-12T06:00:00-05:00", "2026-01-12T10:00:00-05:00"),
            ACROSS_HANDOFF,
            (C, B, A),
            id="across-hand-off-after-it",
        ),
        pytest.param(
            (ACROSS_HANDOFF,),
            bog(2026, 1, 12, 10, 0),
            (B, "rotation", "2026-01-12T08:00:00-05:00", "2026-01-19T08:00:00-05:00"),
            None,
            (B, C, A),
            id="across-hand-off-rotation-resumes",
        ),
        pytest.param(
            (IN_UTC,),
            bog(2026, 1, 20, 18, 59, 59),
            (C, "rotation", "2026-01-19T08:00:00-05:00", "2026-01-20T19:00:00-05:00"),
            None,
            (C, A, B),
            id="utc-override-upcoming",
        ),
        pytest.param(
            (IN_UTC,),
            bog(2026, 1, 20, 19, 0),
            (B, "override", "2026-01-20T19:00:00-05:00", "2026-01-21T19:00:00-05:00"),
            IN_UTC,
            (B, C, A),
            id="utc-override-active-rest-follows-current",
        ),
        pytest.param(
            (Override(bog(2026, 1, 13), bog(2026, 1, 14), 0),),
            bog(2026, 1, 5, 12, 0),
            (A, "rotation", "2026-01-05T08:00:00-05:00", "2026-01-12T08:00:00-05:00"),
            None,
            (A, B, C),
            id="override-after-the-hand-off-leaves-until-alone",
        ),
    ],
)
def test_overrides(
    overrides: tuple[Override, ...],
    at: datetime,
    expected: tuple[Contact, str, str, str],
    decider: Override | None,
    order: tuple[Contact, ...],
) -> None:
    """Active overrides win (latest start, then later listed); `until` sees the next change."""
    rotation = bogota_weekly(*overrides)
    result = rotation.on_call(at)
    assert summary(result) == expected
    assert result.override is decider
    assert rotation.order(at) == order


def test_order_lists_each_contact_once() -> None:
    """A contact listed twice in the rotation is rung once, at its first place."""
    rotation = Rotation((A, B, A, C), BOGOTA, Handoff("day", 0, 0), date(2026, 1, 1))
    assert rotation.order(bog(2026, 1, 1, 12)) == (A, B, C)
    assert rotation.order(bog(2026, 1, 2, 12)) == (B, A, C)
    assert rotation.order(bog(2026, 1, 3, 12)) == (A, C, B)
    assert rotation.order(bog(2026, 1, 4, 12)) == (C, A, B)


def test_rotation_is_frozen_and_hashable() -> None:
    """A Rotation is an immutable value; a list of contacts is stored as a tuple."""
    rotation = Rotation([A, B], BOGOTA)  # type: ignore[arg-type]
    assert rotation.contacts == (A, B)
    assert hash(rotation) == hash(Rotation((A, B), BOGOTA))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rotation.tz = CARACAS  # type: ignore[misc]


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------

def test_daily_handoff_ignores_weekday() -> None:
    """A daily hand-off does not look at its weekday, nor at the anchor's."""
    rotation = Rotation((A, B), BOGOTA, Handoff("day", 99, 480), date(2026, 1, 6))
    assert rotation.on_call(bog(2026, 1, 7, 8)).contact == B


@pytest.mark.parametrize("method", ["on_call", "order"])
def test_instant_must_be_aware(method: str) -> None:
    """Naive instants are refused, saying how to make them aware."""
    with pytest.raises(ValueError, match=r"at datetime\.datetime\(2026, 1, 5, 8, 0\) is naive"):
        getattr(bogota_weekly(), method)(datetime(2026, 1, 5, 8))
    with pytest.raises(TypeError, match=r"at must be a datetime, got '2026-01-05'"):
        getattr(bogota_weekly(), method)("2026-01-05")


def test_range_must_be_aware_and_ordered() -> None:
    """Report ranges need aware ends, the earlier one first."""
    call = bogota_weekly().handoffs
    with pytest.raises(ValueError, match=r"end datetime\.datetime\(2026, 2, 1, 0, 0\) is naive"):
        call(bog(2026, 1, 1), datetime(2026, 2, 1))
    with pytest.raises(ValueError, match=r"is before start .*pass the earlier instant as start"):
        call(bog(2026, 2, 1), bog(2026, 1, 1))


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

NEW_YORK_DST_CHANGES = (utc(2026, 3, 8, 7, 0), utc(2026, 11, 1, 6, 0))
WINDOW_START = utc(2026, 2, 20)
WINDOW_MINUTES = 300 * 24 * 60
AWARE_DATETIMES = st.datetimes(
    min_value=datetime(2025, 6, 1),
    max_value=datetime(2027, 6, 1),
    timezones=st.sampled_from([UTC, BOGOTA, CARACAS, NEW_YORK, timezone(timedelta(hours=5.5))]),
)
NEAR_DST_CHANGES = st.builds(
    lambda change, seconds: change + timedelta(seconds=seconds),
    st.sampled_from(NEW_YORK_DST_CHANGES),
    st.integers(min_value=-3 * 86400, max_value=3 * 86400),
)
INSTANTS = st.one_of(AWARE_DATETIMES, NEAR_DST_CHANGES)
PROPERTY_ROTATIONS = (
    certicamara,
    cco,
    bogota_weekly,
    ny_daily_0800,
    ny_daily_0230,
    ny_daily_0130,
    ny_monday_0800,
    ny_sunday_0230,
    ny_sunday_0130,
)


OVERRIDE_STARTS = st.one_of(
    st.integers(0, WINDOW_MINUTES).map(lambda minutes: WINDOW_START + timedelta(minutes=minutes)),
    NEAR_DST_CHANGES,
)


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    """Draw an override of up to ten days, often starting near a New York DST change."""
    start = draw(OVERRIDE_STARTS)
    until = start + timedelta(minutes=draw(st.integers(1, 10 * 24 * 60)))
    zone = draw(st.sampled_from([UTC, NEW_YORK]))
    return Override(start.astimezone(zone), until.astimezone(zone), draw(st.integers(0, 2)))


def with_overrides(make: Callable[[], Rotation], extra: list[Override]) -> Rotation:
    """Rebuild a rotation with extra overrides (contact indexes wrapped to fit)."""
    rotation = make()
    count = len(rotation.contacts)
    fitted = tuple(dataclasses.replace(item, contact=item.contact % count) for item in extra)
    return dataclasses.replace(rotation, overrides=fitted)


def boundaries(rotation: Rotation, after: datetime, upto: datetime) -> list[datetime]:
    """Return the hand-offs and override ends/starts in (after, upto], in UTC."""
    edges = [edge for item in rotation.overrides for edge in (item.start, item.until)]
    found = rotation.handoffs(after + TICK, upto + TICK) + edges
    return sorted({edge.astimezone(UTC) for edge in found if after < edge.astimezone(UTC) <= upto})


@pytest.mark.parametrize("make", PROPERTY_ROTATIONS)
@settings(database=None, deadline=None, max_examples=60)
@given(at=INSTANTS, other=st.timezones(), extra=st.lists(overrides(), max_size=3))
@example(at=ny(2026, 11, 1, 1, 15, fold=1), other=UTC, extra=[])
@example(at=ny(2026, 3, 8, 2, 30), other=NEW_YORK, extra=[])
def test_on_call_independent_of_input_zone(
    make: Callable[[], Rotation], at: datetime, other: ZoneInfo, extra: list[Override]
) -> None:
    """The same instant expressed in any zone gives the same answer and the same order."""
    rotation = with_overrides(make, extra)
    assert rotation.on_call(at) == rotation.on_call(at.astimezone(UTC))
    assert rotation.on_call(at) == rotation.on_call(at.astimezone(other))
    assert rotation.order(at) == rotation.order(at.astimezone(UTC))


@pytest.mark.parametrize("make", PROPERTY_ROTATIONS)
@settings(database=None, deadline=None, max_examples=60)
@given(
    at=INSTANTS,
    seconds=st.integers(min_value=0, max_value=9 * 86400),
    extra=st.lists(overrides(), max_size=3),
)
def test_changes_only_at_handoffs_or_override_edges(
    make: Callable[[], Rotation], at: datetime, seconds: int, extra: list[Override]
) -> None:
    """With no hand-off or override edge in (a, b], who is on call at a and b is the same."""
    rotation = with_overrides(make, extra)
    start = at.astimezone(UTC)
    later = start + timedelta(seconds=seconds)
    if not boundaries(rotation, start, later):
        assert rotation.on_call(later) == rotation.on_call(start)
        assert rotation.order(later) == rotation.order(start)


@pytest.mark.parametrize("make", PROPERTY_ROTATIONS)
@settings(database=None, deadline=None, max_examples=60)
@given(at=INSTANTS, extra=st.lists(overrides(), max_size=3))
def test_since_and_until_bound_the_answer(
    make: Callable[[], Rotation], at: datetime, extra: list[Override]
) -> None:
    """`until` is the next edge where the answer changes; `since` is a hand-off or start."""
    rotation = with_overrides(make, extra)
    result = rotation.on_call(at)
    moment = at.astimezone(UTC)
    if result.until is not None:
        until = result.until.astimezone(UTC)
        assert until > moment
        assert until in boundaries(rotation, moment, until)
        assert rotation.on_call(until - TICK) == result
        assert rotation.on_call(until) != result
    if result.source == "override":
        assert result.override is not None
        assert result.since is not None
        assert result.since.astimezone(UTC) == result.override.start.astimezone(UTC)
    if result.source == "rotation":
        assert result.since is not None
        since = result.since.astimezone(UTC)
        assert since <= moment
        assert [item.astimezone(UTC) for item in rotation.handoffs(since, since + TICK)] == [since]
        assert rotation.handoffs(since + TICK, moment + TICK) == []


# ---------------------------------------------------------------------------
# Module hygiene
# ---------------------------------------------------------------------------

ROTATION_SOURCE = Path(__file__).resolve().parents[1] / "ivr" / "core" / "rotation.py"


def test_rotation_module_documents_every_function_and_class() -> None:
    """Every function and class in ivr.core.rotation has a docstring."""
    tree = ast.parse(ROTATION_SOURCE.read_text(encoding="utf-8"))
    nodes = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("<")
    ]
    assert [node.name for node in nodes if ast.get_docstring(node) is None] == []
