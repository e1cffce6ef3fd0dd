"""Hypothesis properties of the business-hours engine, checked against a slow reference walk."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from supportctl.package import manifest as package
from supportctl.schedule.calendar import BusinessCalendar, Schedule
from supportctl.schedule.holidays import holidays_for

SCHEDULE: Schedule = package.load(package.bundled_root()).process.schedule
CAL = BusinessCalendar(SCHEDULE)
TZ = ZoneInfo("Europe/Berlin")

# Instants from 2025 to 2028, to the second, covering both DST changes every year.
instants = st.integers(
    min_value=int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()),
    max_value=int(datetime(2028, 12, 31, tzinfo=timezone.utc).timestamp()),
)
slas = st.sampled_from([3600, 9 * 3600, 1800, 27 * 3600, 30 * 9 * 3600]) | st.integers(1, 20 * 9 * 3600)
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])


def reference_due(start: float, seconds: float) -> float:
    """Walk day by day through the windows: obviously correct, slow."""
    d = datetime.fromtimestamp(start, TZ).date() - timedelta(days=1)
    left = seconds
    while True:
        if d.weekday() < 5 and d not in holidays_for("DE", d.year):
            a = datetime.combine(d, time(9), TZ).timestamp()
            b = datetime.combine(d, time(18), TZ).timestamp()
            a = max(a, start)
            if b > a:
                if b - a >= left:
                    return a + left
                left -= b - a
        d += timedelta(days=1)


def in_hours_or_at_close(ts: float) -> bool:
    local = datetime.fromtimestamp(ts, TZ)
    d: date = local.date()
    if d.weekday() >= 5 or d in holidays_for("DE", d.year):
        return False
    return time(9) < local.time() <= time(18)


@settings(max_examples=300, deadline=None)
@given(instants, slas)
def test_matches_reference_and_basic_laws(start: int, sla: int) -> None:
    clock, due = CAL.add(start, sla)
    assert due >= start
    assert due >= clock >= start
    assert in_hours_or_at_close(due)
    assert due == reference_due(start, sla)


@settings(max_examples=300, deadline=None)
@given(instants, slas)
def test_consumes_exactly_the_sla(start: int, sla: int) -> None:
    clock, due = CAL.add(start, sla)
    assert CAL.business_seconds_between(clock, due) == sla
    assert CAL.business_seconds_between(start, due) == sla


@settings(max_examples=300, deadline=None)
@given(instants, instants, slas)
def test_monotone_in_start(a: int, b: int, sla: int) -> None:
    lo, hi = sorted((a, b))
    assert CAL.add(lo, sla)[1] <= CAL.add(hi, sla)[1]


@settings(max_examples=200, deadline=None)
@given(instants, zones, zones)
def test_same_instant_in_any_input_zone(ts: int, z1: str, z2: str) -> None:
    from supportctl.schedule.eta import Engine
    from supportctl.schedule.timeparse import parse_when

    classes = package.load(package.bundled_root()).process.classes
    e = Engine(SCHEDULE, classes)
    t1 = datetime.fromtimestamp(ts, ZoneInfo(z1)).isoformat()
    t2 = datetime.fromtimestamp(ts, ZoneInfo(z2)).isoformat()
    for name in classes:
        r1 = e.compute(parse_when(t1, ZoneInfo("UTC")), name)
        r2 = e.compute(parse_when(t2, ZoneInfo("UTC")), name)
        assert r1.due == r2.due and r1.clock_starts == r2.clock_starts


@settings(max_examples=300, deadline=None)
@given(instants, slas, st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]))
def test_fast_iso_formatting_matches_zoneinfo(start: int, sla: int, tz: str) -> None:
    cal = BusinessCalendar(SCHEDULE._replace(timezone=tz))
    clock, i, due, j = cal.add_indexed(start + 0.5 * (start % 2), sla)
    assert cal.iso_at(clock, i) == cal.to_local(clock).isoformat()
    assert cal.iso_at(due, j) == cal.to_local(due).isoformat()
