"""Table-driven tests for ivr.core.schedule (business hours, holidays, next_change across DST)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.core.schedule import (
    Interval,
    Schedule,
    Status,
    build_calendar,
    build_weekly,
    format_clock,
    parse_clock,
    parse_days,
    parse_intervals,
)
from ivr.core.wall_clock import WEEKDAYS

BOGOTA = ZoneInfo("America/Bogota")
CARACAS = ZoneInfo("America/Caracas")
NEW_YORK = ZoneInfo("America/New_York")
TICK = timedelta(microseconds=1)

CERTICAMARA_HOURS = {"mon-fri": "07:00-19:00", "sat": "08:00-13:00"}
CCO_HOURS = {"mon-fri": "08:30-12:00, 14:00-17:30"}


def certicamara() -> Schedule:
    """Certicámara Bogotá: weekdays 07-19, Saturdays 08-13, Colombian holidays."""
    return Schedule(BOGOTA, build_weekly(CERTICAMARA_HOURS), holidays=build_calendar(["CO"]))


def cco() -> Schedule:
    """CCO Caracas: split shift on weekdays, Venezuelan holidays."""
    return Schedule(CARACAS, build_weekly(CCO_HOURS), holidays=build_calendar(["VE"]))


def new_york(hours: dict[str, str]) -> Schedule:
    """A New York schedule (observes DST) without holidays."""
    return Schedule(NEW_YORK, build_weekly(hours))


def bogota(hours: dict[str, str]) -> Schedule:
    """A Bogotá schedule without holidays."""
    return Schedule(BOGOTA, build_weekly(hours))


def utc(*args: int) -> datetime:
    """Build a UTC datetime."""
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------------------
# parse_days
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon-fri", [0, 1, 2, 3, 4]),
        ("sat", [5]),
        ("sun", [6]),
        ("sat,sun", [5, 6]),
        ("mon-wed,fri", [0, 1, 2, 4]),
        ("fri,mon", [0, 4]),
        ("daily", [0, 1, 2, 3, 4, 5, 6]),
        ("DAILY", [0, 1, 2, 3, 4, 5, 6]),
        ("Mon-Fri", [0, 1, 2, 3, 4]),
        (" sat , sun ", [5, 6]),
        ("mon - wed", [0, 1, 2]),
        ("mon-mon", [0]),
        ("mon-wed,tue-thu", [0, 1, 2, 3]),
    ],
)
def test_parse_days(text: str, expected: list[int]) -> None:
    """Day specs expand to sorted weekday numbers, Monday = 0."""
    assert parse_days(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("fri-mon", "day range 'fri-mon' in 'fri-mon' is reversed"),
        ("sat-sun,fri-mon", "'fri-mon' in 'sat-sun,fri-mon' is reversed"),
        ("funday", "unknown day 'funday' in 'funday'"),
        ("lunes-viernes", "unknown day 'lunes'"),
        ("monday", "unknown day 'monday'"),
        ("mon,,tue", "unknown day '' in 'mon,,tue'"),
        ("", "unknown day '' in ''"),
        ("mon-", "unknown day '' in 'mon-'"),
        ("mon-fri-sat", "unknown day 'fri-sat'"),
    ],
)
def test_parse_days_rejects(text: str, fragment: str) -> None:
    """Bad day specs name the offending text and say what is accepted."""
    with pytest.raises(ValueError) as info:
        parse_days(text)
    message = str(info.value)
    assert fragment in message
    assert "mon-fri" in message


def test_parse_days_rejects_non_string() -> None:
    """A non-string day spec is a TypeError naming the value."""
    with pytest.raises(TypeError, match=r"\['mon'\]"):
        parse_days(["mon"])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# parse_intervals / clock helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07:00-19:00", ((420, 1140),)),
        ("08:30-12:00, 14:00-17:30", ((510, 720), (840, 1050))),
        ("14:00-17:30,08:30-12:00", ((510, 720), (840, 1050))),
        (["08:30-12:00", "14:00-17:30"], ((510, 720), (840, 1050))),
        (["14:00-17:30", "08:30-12:00"], ((510, 720), (840, 1050))),
        (["06:00-07:00, 08:00-09:00", "10:00-11:00"], ((360, 420), (480, 540), (600, 660))),
        ("7:05 - 9:00", ((425, 540),)),
        ("00:00-24:00", ((0, 1440),)),
        ("22:00-24:00", ((1320, 1440),)),
        ("08:00-12:00,12:00-13:00", ((480, 720), (720, 780))),
        ("closed", ()),
        ("Closed", ()),
        ("", ()),
        ("   ", ()),
        ([], ()),
        (["closed"], ()),
    ],
)
def test_parse_intervals(text: str | list[str], expected: tuple[Interval, ...]) -> None:
    """Opening-hour text becomes sorted half-open minute intervals."""
    assert parse_intervals(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "08:00-12:00, 11:00-13:00",
            "08:00-12:00 overlaps 11:00-13:00 in '08:00-12:00, 11:00-13:00'",
        ),
        ("11:00-13:00, 08:00-12:00", "08:00-12:00 overlaps 11:00-13:00"),
        (["08:00-12:00", "11:00-13:00"], "08:00-12:00 overlaps 11:00-13:00 in ['08:00-12:00'"),
        ("08:00-12:00, 09:00-10:00", "08:00-12:00 overlaps 09:00-10:00"),
        ("19:00-07:00", "interval '19:00-07:00' ends before it starts"),
        ("09:00-09:00", "interval '09:00-09:00' ends before it starts"),
        ("08:00-09:00, 18:00-17:00", "'18:00-17:00' in '08:00-09:00, 18:00-17:00' ends before"),
        ("8-17", "bad opening hours '8-17'"),
        ("07:00 to 19:00", "bad opening hours '07:00 to 19:00'"),
        ("07h00-19h00", "bad opening hours '07h00-19h00'"),
        ("08:00-12:00,", "bad opening hours '' in '08:00-12:00,'"),
        ("open", "bad opening hours 'open'"),
        ("25:00-26:00", "hour 25 in '25:00-26:00'"),
        ("07:60-08:00", "minute 60 in '07:60-08:00'"),
        ("08:00-08:75", "minute 75 in '08:00-08:75'"),
        ("22:00-24:30", "'22:00-24:30' is past midnight"),
    ],
)
def test_parse_intervals_rejects(text: str | list[str], fragment: str) -> None:
    """Bad opening hours name the offending text in the error."""
    with pytest.raises(ValueError) as info:
        parse_intervals(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize("value", [None, 7, [1, 2], ("08:00-09:00", 5)])
def test_parse_intervals_rejects_wrong_type(value: object) -> None:
    """Non-string input is a TypeError that shows the value and the expected format."""
    with pytest.raises(TypeError, match="HH:MM-HH:MM"):
        parse_intervals(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("00:00", 0), ("07:30", 450), ("7:30", 450), ("12:00", 720), ("23:59", 1439), ("24:00", 1440)],
)
def test_parse_and_format_clock(text: str, minutes: int) -> None:
    """Clock strings round-trip through minutes from midnight."""
    assert parse_clock(text) == minutes
    assert parse_clock(format_clock(minutes)) == minutes


@pytest.mark.parametrize("text", ["7", "07-30", "24:01", "25:00", "10:61", ""])
def test_parse_clock_rejects(text: str) -> None:
    """Invalid clock strings are refused with the text in the message."""
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_clock(text)


# ---------------------------------------------------------------------------
# build_weekly
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            CERTICAMARA_HOURS,
            (((420, 1140),),) * 5 + (((480, 780),), ()),
        ),
        ({}, ((),) * 7),
        ({"daily": "00:00-24:00"}, (((0, 1440),),) * 7),
        ({"sat,sun": "closed", "mon-fri": "09:00-10:00"}, (((540, 600),),) * 5 + ((), ())),
    ],
)
def test_build_weekly(spec: dict[str, str], expected: tuple[tuple[Interval, ...], ...]) -> None:
    """A {days: hours} mapping becomes the 7-entry weekly table; unlisted days are closed."""
    assert build_weekly(spec) == expected


def test_build_weekly_rejects_duplicate_day() -> None:
    """A day listed twice is refused, naming the day and the spec."""
    with pytest.raises(ValueError, match=r"'fri' is given twice \(again in 'fri'\)"):
        build_weekly({"mon-fri": "07:00-19:00", "fri": "08:00-12:00"})


# ---------------------------------------------------------------------------
# Schedule.status
# ---------------------------------------------------------------------------

OPEN = Status(open=True, reason="schedule", holiday=None)
CLOSED = Status(open=False, reason="schedule", holiday=None)


@pytest.mark.parametrize(
    ("make", "local", "expected"),
    [
        # CCO Caracas, split shift 08:30-12:00 & 14:00-17:30.
        pytest.param(cco, datetime(2026, 3, 2, 9, 0), OPEN, id="cco-mon-0900"),
        pytest.param(cco, datetime(2026, 3, 2, 12, 30), CLOSED, id="cco-mon-1230-lunch"),
        pytest.param(cco, datetime(2026, 3, 2, 14, 0), OPEN, id="cco-mon-1400"),
        pytest.param(cco, datetime(2026, 3, 2, 17, 45), CLOSED, id="cco-mon-1745"),
        pytest.param(cco, datetime(2026, 3, 2, 8, 29, 59), CLOSED, id="cco-mon-082959"),
        pytest.param(cco, datetime(2026, 3, 2, 8, 30), OPEN, id="cco-mon-0830"),
        pytest.param(cco, datetime(2026, 3, 2, 11, 59, 59), OPEN, id="cco-mon-115959"),
        pytest.param(cco, datetime(2026, 3, 2, 12, 0), CLOSED, id="cco-mon-1200"),
        pytest.param(cco, datetime(2026, 3, 7, 10, 0), CLOSED, id="cco-sat"),
        pytest.param(
            cco,
            datetime(2026, 6, 24, 10, 0),
            Status(open=False, reason="holiday", holiday="Batalla de Carabobo"),
            id="cco-holiday-carabobo",
        ),
        pytest.param(
            cco,
            datetime(2026, 12, 25, 9, 0),
            Status(open=False, reason="holiday", holiday="Día de Navidad"),
            id="cco-holiday-navidad",
        ),
        # Certicámara Bogotá, weekdays 07:00-19:00, Saturday 08:00-13:00.
        pytest.param(certicamara, datetime(2026, 3, 3, 10, 0), OPEN, id="cert-tue-1000"),
        pytest.param(certicamara, datetime(2026, 3, 8, 3, 0), CLOSED, id="cert-sun-0300"),
        pytest.param(certicamara, datetime(2026, 3, 8, 10, 0), CLOSED, id="cert-sun-1000"),
        pytest.param(certicamara, datetime(2026, 3, 7, 12, 30), OPEN, id="cert-sat-1230"),
        pytest.param(certicamara, datetime(2026, 3, 7, 13, 30), CLOSED, id="cert-sat-1330"),
        pytest.param(certicamara, datetime(2026, 3, 7, 7, 59), CLOSED, id="cert-sat-0759"),
        pytest.param(certicamara, datetime(2026, 3, 2, 18, 59, 59), OPEN, id="cert-mon-185959"),
        pytest.param(
            certicamara, datetime(2026, 3, 2, 18, 59, 59, 999999), OPEN, id="cert-mon-last-us"
        ),
        pytest.param(certicamara, datetime(2026, 3, 2, 19, 0), CLOSED, id="cert-mon-1900"),
        pytest.param(certicamara, datetime(2026, 3, 2, 7, 0), OPEN, id="cert-mon-0700"),
        pytest.param(certicamara, datetime(2026, 3, 2, 0, 0), CLOSED, id="cert-mon-midnight"),
        pytest.param(
            certicamara,
            datetime(2026, 12, 8, 10, 0),
            Status(open=False, reason="holiday", holiday="La Inmaculada Concepción"),
            id="cert-holiday-inmaculada",
        ),
        pytest.param(
            certicamara,
            datetime(2026, 7, 20, 10, 0),
            Status(open=False, reason="holiday", holiday="Día de la Independencia"),
            id="cert-holiday-independencia",
        ),
        pytest.param(
            certicamara,
            datetime(2027, 1, 1, 10, 0),
            Status(open=False, reason="holiday", holiday="Año Nuevo"),
            id="cert-holiday-next-year",
        ),
    ],
)
def test_status(make: Callable[[], Schedule], local: datetime, expected: Status) -> None:
    """Status at a local wall-clock time of the schedule's own zone."""
    schedule = make()
    at = local.replace(tzinfo=schedule.tz)
    assert schedule.status(at) == expected
    assert schedule.is_open(at) is expected.open


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        pytest.param(utc(2026, 3, 3, 12, 0), True, id="utc-1200-is-bogota-0700"),
        pytest.param(utc(2026, 3, 3, 11, 59, 59), False, id="utc-115959-is-bogota-065959"),
        pytest.param(utc(2026, 3, 2, 23, 59), True, id="utc-2359-is-bogota-1859"),
        pytest.param(utc(2026, 3, 3, 0, 0), False, id="utc-tue-0000-is-bogota-mon-1900"),
        pytest.param(utc(2026, 3, 3, 0, 30), False, id="utc-tue-0030-is-bogota-mon-1930"),
        pytest.param(utc(2026, 3, 7, 17, 59), True, id="utc-sat-1759-is-bogota-1259"),
        pytest.param(utc(2026, 3, 7, 18, 0), False, id="utc-sat-1800-is-bogota-1300"),
        pytest.param(utc(2026, 12, 8, 15, 0), False, id="utc-on-colombian-holiday"),
        pytest.param(
            datetime(2026, 3, 3, 21, 0, tzinfo=timezone(timedelta(hours=9))),
            True,
            id="tokyo-offset-2100-is-bogota-0700",
        ),
        pytest.param(datetime(2026, 3, 3, 9, 0, tzinfo=NEW_YORK), True, id="new-york-0900"),
    ],
)
def test_status_converts_other_zones(at: datetime, expected: bool) -> None:
    """An `at` in another zone is converted to the schedule's zone first."""
    assert certicamara().is_open(at) is expected


@pytest.mark.parametrize("method", ["status", "is_open", "next_change"])
def test_naive_datetime_refused(method: str) -> None:
    """Naive datetimes are refused, naming the value."""
    naive = datetime(2026, 3, 3, 10, 0)
    with pytest.raises(ValueError, match=r"datetime\.datetime\(2026, 3, 3, 10, 0\) is naive"):
        getattr(certicamara(), method)(naive)


def test_status_rejects_non_datetime() -> None:
    """A date (not a datetime) is refused with a TypeError."""
    with pytest.raises(TypeError, match=r"datetime\.date\(2026, 3, 3\)"):
        certicamara().status(date(2026, 3, 3))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Special hours and closed dates
# ---------------------------------------------------------------------------

HOLIDAY = date(2026, 12, 8)  # La Inmaculada Concepción (Colombia), a Tuesday
WORKDAY = date(2026, 3, 3)  # an ordinary Tuesday


def with_overrides(
    special: dict[date, tuple[Interval, ...]] | None = None,
    closed: frozenset[date] = frozenset(),
) -> Schedule:
    """Certicámara's schedule plus special dates and closed dates."""
    return Schedule(
        BOGOTA,
        build_weekly(CERTICAMARA_HOURS),
        holidays=build_calendar(["CO"]),
        closed_dates=closed,
        special=special or {},
    )


@pytest.mark.parametrize(
    ("schedule_args", "local", "expected"),
    [
        pytest.param(
            {"special": {HOLIDAY: parse_intervals("09:00-12:00")}},
            datetime(2026, 12, 8, 10, 0),
            Status(open=True, reason="special", holiday=None),
            id="special-opens-holiday",
        ),
        pytest.param(
            {"special": {HOLIDAY: parse_intervals("09:00-12:00")}},
            datetime(2026, 12, 8, 12, 0),
            Status(open=False, reason="special", holiday=None),
            id="special-holiday-after-hours",
        ),
        pytest.param(
            {"special": {HOLIDAY: parse_intervals("09:00-12:00")}},
            datetime(2026, 12, 8, 8, 59, 59),
            Status(open=False, reason="special", holiday=None),
            id="special-holiday-before-hours",
        ),
        pytest.param(
            {"special": {WORKDAY: ()}},
            datetime(2026, 3, 3, 10, 0),
            Status(open=False, reason="special", holiday=None),
            id="special-empty-closes-workday",
        ),
        pytest.param(
            {"special": {WORKDAY: parse_intervals("07:00-12:00, 14:00-21:00")}},
            datetime(2026, 3, 3, 20, 0),
            Status(open=True, reason="special", holiday=None),
            id="special-extends-workday",
        ),
        pytest.param(
            {"special": {WORKDAY: parse_intervals("07:00-12:00, 14:00-21:00")}},
            datetime(2026, 3, 3, 13, 0),
            Status(open=False, reason="special", holiday=None),
            id="special-adds-lunch-break",
        ),
        pytest.param(
            {"closed": frozenset({WORKDAY})},
            datetime(2026, 3, 3, 10, 0),
            Status(open=False, reason="closed_date", holiday=None),
            id="closed-date",
        ),
        pytest.param(
            {"closed": frozenset({WORKDAY})},
            datetime(2026, 3, 4, 10, 0),
            Status(open=True, reason="schedule", holiday=None),
            id="day-after-closed-date",
        ),
        pytest.param(
            {"closed": frozenset({HOLIDAY})},
            datetime(2026, 12, 8, 10, 0),
            Status(open=False, reason="closed_date", holiday=None),
            id="closed-date-beats-holiday",
        ),
        pytest.param(
            {"closed": frozenset({WORKDAY}), "special": {WORKDAY: parse_intervals("09:00-10:00")}},
            datetime(2026, 3, 3, 9, 30),
            Status(open=True, reason="special", holiday=None),
            id="special-beats-closed-date",
        ),
    ],
)
def test_overrides(schedule_args: dict[str, object], local: datetime, expected: Status) -> None:
    """Special dates win over closed dates, which win over holidays, which win over weekly."""
    schedule = with_overrides(**schedule_args)  # type: ignore[arg-type]
    assert schedule.status(local.replace(tzinfo=BOGOTA)) == expected


@pytest.mark.parametrize(
    ("schedule_args", "day", "expected"),
    [
        pytest.param({}, WORKDAY, ((420, 1140),), id="weekly"),
        pytest.param({}, HOLIDAY, (), id="holiday"),
        pytest.param({"closed": frozenset({WORKDAY})}, WORKDAY, (), id="closed-date"),
        pytest.param({"special": {HOLIDAY: ((540, 720),)}, "closed": frozenset({HOLIDAY})},
                     HOLIDAY, ((540, 720),), id="special-beats-closed-date-and-holiday"),
    ],
)
def test_hours_on(
    schedule_args: dict[str, object], day: date, expected: tuple[Interval, ...]
) -> None:
    """hours_on gives the intervals of the rule that wins on that date."""
    assert with_overrides(**schedule_args).hours_on(day) == expected  # type: ignore[arg-type]


def test_special_is_a_read_only_copy() -> None:
    """Mutating the dict passed as `special` does not change the schedule."""
    special = {WORKDAY: ()}
    schedule = with_overrides(special=special)  # type: ignore[arg-type]
    special[WORKDAY] = ((0, 1440),)
    assert not schedule.is_open(datetime(2026, 3, 3, 10, 0, tzinfo=BOGOTA))
    with pytest.raises(TypeError):
        schedule.special[WORKDAY] = ()  # type: ignore[index]


def test_schedule_is_hashable_and_frozen() -> None:
    """Schedules can be used as dict keys and cannot be reassigned."""
    schedule = certicamara()
    assert hash(schedule) == hash(certicamara())
    with pytest.raises(AttributeError):
        schedule.tz = CARACAS  # type: ignore[misc]


# ---------------------------------------------------------------------------
# build_calendar
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("countries", "language", "day", "name"),
    [
        (["CO"], "es", date(2026, 12, 8), "La Inmaculada Concepción"),
        (["co"], "es", date(2026, 12, 8), "La Inmaculada Concepción"),
        (["CO"], "en_US", date(2026, 12, 8), "Immaculate Conception"),
        (["CO"], "en", date(2026, 12, 8), "Immaculate Conception"),
        (["VE"], "es", date(2026, 6, 24), "Batalla de Carabobo"),
        (["CO", "VE"], "es", date(2026, 6, 24), "Batalla de Carabobo"),
        (["CO", "VE"], "es", date(2026, 6, 29), "San Pedro y San Pablo"),
        (["CO", "VE"], "es", date(2026, 3, 3), None),
        (["US"], "es", date(2026, 7, 4), "Independence Day"),  # no Spanish: default language
        (["CO", "US"], "es", date(2026, 7, 20), "Día de la Independencia"),
    ],
)
def test_build_calendar(countries: list[str], language: str, day: date, name: str | None) -> None:
    """Calendars are combined, localised when possible, and fall back silently otherwise."""
    calendar = build_calendar(countries, language=language)
    assert calendar is not None
    assert calendar.get(day) == name


def test_build_calendar_empty() -> None:
    """No countries means no calendar."""
    assert build_calendar([]) is None


def test_build_calendar_subdivision() -> None:
    """A subdivision adds its regional holidays."""
    calendar = build_calendar(["US"], subdiv="MA", language="en_US")
    assert calendar is not None
    assert calendar.get(date(2026, 4, 20)) == "Patriots' Day"


@pytest.mark.parametrize(
    ("countries", "subdiv", "error", "fragment"),
    [
        (["XX"], None, ValueError, "unknown country code 'XX'"),
        (["CO", "Colombia"], None, ValueError, "unknown country code 'Colombia'"),
        ([""], None, ValueError, "holidays.list_supported_countries()"),
        (["CO"], "ZZ", ValueError, "country 'CO' has no subdivision 'ZZ'"),
        ("CO", None, TypeError, "['CO']"),
    ],
)
def test_build_calendar_rejects(
    countries: list[str], subdiv: str | None, error: type[Exception], fragment: str
) -> None:
    """Unknown countries and subdivisions are named and point to list_supported_countries()."""
    with pytest.raises(error) as info:
        build_calendar(countries, subdiv=subdiv)
    assert fragment in str(info.value)


# ---------------------------------------------------------------------------
# next_change
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "at", "expected"),
    [
        # Certicámara Bogotá.
        pytest.param(
            certicamara,
            datetime(2026, 3, 3, 10, 0, tzinfo=BOGOTA),
            datetime(2026, 3, 3, 19, 0, tzinfo=BOGOTA),
            id="cert-open-until-1900",
        ),
        pytest.param(
            certicamara,
            datetime(2026, 3, 3, 18, 59, 59, tzinfo=BOGOTA),
            datetime(2026, 3, 3, 19, 0, tzinfo=BOGOTA),
            id="cert-one-second-before-closing",
        ),
        pytest.param(
            certicamara,
            datetime(2026, 3, 3, 19, 0, tzinfo=BOGOTA),
            datetime(2026, 3, 4, 7, 0, tzinfo=BOGOTA),
            id="cert-exactly-at-closing-is-strictly-after",
        ),
        pytest.param(
            certicamara,
            datetime(2026, 3, 7, 12, 30, tzinfo=BOGOTA),
            datetime(2026, 3, 7, 13, 0, tzinfo=BOGOTA),
            id="cert-sat-closes-1300",
        ),
        pytest.param(
            certicamara,
            datetime(2026, 3, 7, 13, 30, tzinfo=BOGOTA),
            datetime(2026, 3, 9, 7, 0, tzinfo=BOGOTA),
            id="cert-weekend-to-monday",
        ),
        pytest.param(
            certicamara,
            datetime(2026, 12, 7, 19, 30, tzinfo=BOGOTA),
            datetime(2026, 12, 9, 7, 0, tzinfo=BOGOTA),
            id="cert-skips-holiday",
        ),
        pytest.param(
            certicamara,
            utc(2026, 3, 3, 23, 0),
            datetime(2026, 3, 3, 19, 0, tzinfo=BOGOTA),
            id="cert-at-given-in-utc",
        ),
        # CCO Caracas split shift.
        pytest.param(
            cco,
            datetime(2026, 3, 2, 9, 0, tzinfo=CARACAS),
            datetime(2026, 3, 2, 12, 0, tzinfo=CARACAS),
            id="cco-morning-closes-1200",
        ),
        pytest.param(
            cco,
            datetime(2026, 3, 2, 12, 30, tzinfo=CARACAS),
            datetime(2026, 3, 2, 14, 0, tzinfo=CARACAS),
            id="cco-lunch-reopens-1400",
        ),
        pytest.param(
            cco,
            datetime(2026, 6, 19, 17, 45, tzinfo=CARACAS),
            datetime(2026, 6, 22, 8, 30, tzinfo=CARACAS),
            id="cco-friday-evening-to-monday",
        ),
        pytest.param(
            cco,
            datetime(2026, 6, 23, 18, 0, tzinfo=CARACAS),
            datetime(2026, 6, 25, 8, 30, tzinfo=CARACAS),
            id="cco-skips-carabobo",
        ),
        # New York, across the DST changes of 2026-03-08 and 2026-11-01.
        pytest.param(
            lambda: new_york({"mon-fri": "09:00-17:00"}),
            datetime(2026, 3, 6, 17, 30, tzinfo=NEW_YORK),
            utc(2026, 3, 9, 13, 0),
            id="ny-weekend-into-edt",
        ),
        pytest.param(
            lambda: new_york({"mon-fri": "09:00-17:00"}),
            datetime(2026, 10, 30, 17, 30, tzinfo=NEW_YORK),
            utc(2026, 11, 2, 14, 0),
            id="ny-weekend-into-est",
        ),
        pytest.param(
            lambda: new_york({"sun": "09:00-17:00"}),
            datetime(2026, 3, 8, 9, 30, tzinfo=NEW_YORK),
            utc(2026, 3, 8, 21, 0),
            id="ny-spring-forward-day-closing",
        ),
        pytest.param(
            lambda: new_york({"sun": "09:00-17:00"}),
            datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK),
            utc(2026, 11, 1, 14, 0),
            id="ny-fall-back-day-opening",
        ),
        pytest.param(
            lambda: new_york({"daily": "02:30-04:00"}),
            utc(2026, 3, 8, 6, 0),  # 01:00 EST
            utc(2026, 3, 8, 7, 0),  # 02:30 does not exist: opens as the clock jumps to 03:00 EDT
            id="ny-opening-inside-spring-gap",
        ),
        pytest.param(
            lambda: new_york({"daily": "02:30-04:00"}),
            utc(2026, 3, 8, 7, 0),
            utc(2026, 3, 8, 8, 0),  # 04:00 EDT
            id="ny-closing-after-spring-gap",
        ),
        pytest.param(
            lambda: new_york({"daily": "01:00-03:00"}),
            utc(2026, 3, 8, 6, 30),  # 01:30 EST
            utc(2026, 3, 8, 7, 0),  # clock jumps 02:00 EST -> 03:00 EDT, which is closing time
            id="ny-closing-at-spring-gap",
        ),
        pytest.param(
            lambda: new_york({"daily": "00:00-01:30"}),
            utc(2026, 11, 1, 5, 15),  # 01:15 EDT
            utc(2026, 11, 1, 5, 30),  # 01:30 EDT
            id="ny-fall-back-first-closing",
        ),
        pytest.param(
            lambda: new_york({"daily": "00:00-01:30"}),
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 1, 6, 0),  # clock goes back to 01:00 EST: open again
            id="ny-fall-back-reopens-at-transition",
        ),
        pytest.param(
            lambda: new_york({"daily": "00:00-01:30"}),
            utc(2026, 11, 1, 6, 0),
            utc(2026, 11, 1, 6, 30),  # 01:30 EST
            id="ny-fall-back-second-closing",
        ),
        pytest.param(
            lambda: new_york({"daily": "01:15-01:45"}),
            utc(2026, 11, 1, 5, 50),  # 01:50 EDT, closed
            utc(2026, 11, 1, 6, 15),  # 01:15 EST, the second 01:15
            id="ny-fall-back-repeated-hour-opens-twice",
        ),
        # Across midnight.
        pytest.param(
            lambda: bogota({"fri": "18:00-24:00", "sat": "00:00-02:00"}),
            datetime(2026, 3, 6, 20, 0, tzinfo=BOGOTA),
            datetime(2026, 3, 7, 2, 0, tzinfo=BOGOTA),
            id="midnight-24-00-then-00-00-is-not-a-flip",
        ),
        pytest.param(
            lambda: bogota({"fri": "18:00-24:00", "sat": "00:00-02:00"}),
            datetime(2026, 3, 6, 17, 0, tzinfo=BOGOTA),
            datetime(2026, 3, 6, 18, 0, tzinfo=BOGOTA),
            id="midnight-before-evening-shift",
        ),
        pytest.param(
            lambda: bogota({"fri": "18:00-24:00", "sat": "00:00-02:00"}),
            datetime(2026, 3, 7, 2, 0, tzinfo=BOGOTA),
            datetime(2026, 3, 13, 18, 0, tzinfo=BOGOTA),
            id="midnight-next-week",
        ),
        pytest.param(
            lambda: bogota({"fri": "18:00-24:00"}),
            datetime(2026, 3, 6, 20, 0, tzinfo=BOGOTA),
            datetime(2026, 3, 7, 0, 0, tzinfo=BOGOTA),
            id="closes-at-24-00",
        ),
        pytest.param(
            lambda: new_york({"sat": "20:00-24:00", "sun": "00:00-24:00", "mon": "00:00-06:00"}),
            datetime(2026, 3, 7, 21, 0, tzinfo=NEW_YORK),
            utc(2026, 3, 9, 10, 0),  # Monday 06:00 EDT
            id="ny-open-through-dst-weekend",
        ),
        pytest.param(
            lambda: bogota({"mon-fri": "08:00-12:00, 12:00-13:00"}),
            datetime(2026, 3, 2, 9, 0, tzinfo=BOGOTA),
            datetime(2026, 3, 2, 13, 0, tzinfo=BOGOTA),
            id="adjacent-intervals-are-not-a-flip",
        ),
    ],
)
def test_next_change(make: Callable[[], Schedule], at: datetime, expected: datetime) -> None:
    """next_change finds the exact instant the open state flips, in the schedule's zone."""
    schedule = make()
    result = schedule.next_change(at)
    assert result is not None
    assert result.astimezone(UTC) == expected.astimezone(UTC)
    assert result.tzinfo is schedule.tz
    assert schedule.is_open(result) is not schedule.is_open(at)
    assert schedule.is_open(result.astimezone(UTC) - TICK) is schedule.is_open(at)


@pytest.mark.parametrize(
    ("schedule", "at", "horizon_days"),
    [
        pytest.param(bogota({"daily": "00:00-24:00"}), utc(2026, 3, 3), 400, id="always-open"),
        pytest.param(bogota({}), utc(2026, 3, 3), 400, id="always-closed"),
        pytest.param(
            Schedule(BOGOTA, build_weekly({}), special={date(2026, 6, 1): ((540, 600),)}),
            utc(2026, 3, 1),
            30,
            id="special-beyond-horizon",
        ),
        pytest.param(certicamara(), datetime(2026, 3, 7, 13, 30, tzinfo=BOGOTA), 1, id="short"),
        pytest.param(certicamara(), datetime(2026, 3, 3, 10, 0, tzinfo=BOGOTA), 0, id="zero"),
    ],
)
def test_next_change_none(schedule: Schedule, at: datetime, horizon_days: int) -> None:
    """No flip within the horizon gives None."""
    assert schedule.next_change(at, horizon_days=horizon_days) is None


def test_next_change_special_within_horizon() -> None:
    """A lone special opening far ahead is found when the horizon reaches it."""
    schedule = Schedule(BOGOTA, build_weekly({}), special={date(2026, 6, 1): ((540, 600),)})
    assert schedule.next_change(utc(2026, 3, 1)) == datetime(2026, 6, 1, 9, 0, tzinfo=BOGOTA)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

AWARE_DATETIMES = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.timezones(),
)
NEW_YORK_DST_CHANGES = (utc(2026, 3, 8, 7, 0), utc(2026, 11, 1, 6, 0))
NEAR_DST_CHANGES = st.builds(
    lambda change, seconds: change + timedelta(seconds=seconds),
    st.sampled_from(NEW_YORK_DST_CHANGES),
    st.integers(min_value=-2 * 86400, max_value=2 * 86400),
)


def ny_tricky() -> Schedule:
    """A New York schedule with boundaries inside the hours that DST skips or repeats."""
    return new_york(
        {"mon-fri": "09:00-17:00", "sat": "01:15-02:30", "sun": "00:00-01:30, 02:00-24:00"}
    )


def ny_overrides() -> Schedule:
    """A New York schedule with holidays, a closed date and a special date on a DST day."""
    return Schedule(
        NEW_YORK,
        build_weekly({"daily": "01:30-02:30, 03:00-24:00"}),
        holidays=build_calendar(["US"], language="en_US"),
        closed_dates=frozenset({date(2026, 3, 9)}),
        special={date(2026, 11, 1): parse_intervals("00:00-01:30")},
    )


PROPERTY_SCHEDULES = (certicamara, cco, ny_tricky, ny_overrides)


@pytest.mark.parametrize("make", PROPERTY_SCHEDULES)
@settings(database=None, deadline=None, max_examples=100)
@given(at=AWARE_DATETIMES, other=st.timezones())
def test_status_independent_of_input_zone(
    make: Callable[[], Schedule], at: datetime, other: ZoneInfo
) -> None:
    """The same instant expressed in any zone gives the same status."""
    schedule = make()
    assert schedule.status(at).open == schedule.status(at.astimezone(other)).open
    assert schedule.status(at) == schedule.status(at.astimezone(UTC))


@pytest.mark.parametrize("make", PROPERTY_SCHEDULES)
@settings(database=None, deadline=None, max_examples=100)
@given(
    at=st.one_of(AWARE_DATETIMES, NEAR_DST_CHANGES),
    fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_next_change_is_the_first_flip(
    make: Callable[[], Schedule], at: datetime, fraction: float
) -> None:
    """next_change flips the state, and the state is unchanged at any instant before it."""
    schedule = make()
    result = schedule.next_change(at, horizon_days=30)
    assert result is not None
    assert result > at
    before = schedule.is_open(at)
    # Instant arithmetic must be done in UTC: aware arithmetic in a DST zone is wall-clock.
    start, change = at.astimezone(UTC), result.astimezone(UTC)
    assert schedule.is_open(change) is not before
    assert schedule.is_open(change - TICK) is before
    steps = (change - start) // TICK
    assert schedule.is_open(start + TICK * min(int(steps * fraction), steps - 1)) is before


@pytest.mark.parametrize(
    "at",
    [
        utc(2026, 3, 8, 6, 59, 59),
        utc(2026, 3, 8, 7, 0),
        utc(2026, 11, 1, 5, 59, 59),
        utc(2026, 11, 1, 6, 0),
        datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK),
    ],
)
@pytest.mark.parametrize("make", [ny_tricky, ny_overrides])
def test_next_change_around_dst_transitions(make: Callable[[], Schedule], at: datetime) -> None:
    """Walking next_change from just before each DST change visits only real flips."""
    schedule = make()
    current = at
    for _ in range(6):
        result = schedule.next_change(current, horizon_days=30)
        assert result is not None
        assert result > current
        assert schedule.is_open(result) is not schedule.is_open(current)
        assert schedule.is_open(result.astimezone(UTC) - TICK) is schedule.is_open(current)
        current = result


# ---------------------------------------------------------------------------
# Module hygiene
# ---------------------------------------------------------------------------



def test_weekdays_constant() -> None:
    """WEEKDAYS is Monday-first, like date.weekday()."""
    assert WEEKDAYS[date(2026, 3, 2).weekday()] == "mon"
    assert len(WEEKDAYS) == 7
