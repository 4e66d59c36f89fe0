"""The primary user's time, as properties over random weeks: interval arithmetic against minute-by-minute sets, and
whatever a booking the rules accept for someone else, it never touches the primary user's guaranteed time (nor its
buffer); releases give time back, extras take it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cars import windows as w
from parking.policy import WeeklyWindow

SEOUL = ZoneInfo("Asia/Seoul")
ORIGIN = datetime(2026, 11, 23, tzinfo=SEOUL)  # a Monday
WEEK = 7 * 24 * 60

minutes = st.integers(min_value=0, max_value=WEEK)
spans = st.lists(st.tuples(minutes, st.integers(min_value=1, max_value=600)), max_size=6)


def at(minute: int) -> datetime:
    return ORIGIN + timedelta(minutes=minute)


def intervals(raw: list[tuple[int, int]]) -> list[w.Interval]:
    return [(at(s), at(s + n)) for s, n in raw]


def as_minutes(found: list[w.Interval]) -> set[int]:
    return {
        m
        for s, e in found
        for m in range(int((s - ORIGIN).total_seconds() // 60), int((e - ORIGIN).total_seconds() // 60))
    }


windows = st.lists(
    st.builds(
        lambda days, start, length: WeeklyWindow(tuple(sorted(set(days))), start, start + length),
        st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=7),
        st.integers(min_value=0, max_value=1439),
        st.integers(min_value=15, max_value=1440),
    ),
    max_size=3,
)


@given(spans, spans)
def test_interval_arithmetic_is_set_arithmetic_on_minutes(a: list[tuple[int, int]], b: list[tuple[int, int]]):
    first, second = intervals(a), intervals(b)
    assert as_minutes(w.merged(first)) == as_minutes(first)
    assert as_minutes(w.minus(first, second)) == as_minutes(first) - as_minutes(second)
    merged = w.merged(first)
    assert all(e1 < s2 for (_, e1), (s2, _) in zip(merged, merged[1:], strict=False))  # disjoint, not touching


@given(windows, spans, spans, minutes, st.integers(min_value=30, max_value=24 * 60))
@settings(max_examples=200)
def test_a_shareable_booking_never_touches_the_primary_users_time(
    weekly: list[WeeklyWindow], extras: list[tuple[int, int]], releases: list[tuple[int, int]], start: int, length: int
):
    buffer = timedelta(minutes=30)
    begin, end = at(start), at(start + length)
    around = w.guaranteed(weekly, intervals(extras), intervals(releases), begin - buffer, end + buffer, "Asia/Seoul")
    shareable = not w.touches(around, begin - buffer, end + buffer)
    # minute by minute: the weekly windows' minutes, plus extras, minus releases
    mine = set()
    for day in range(-1, 9):
        for window in weekly:
            weekday = (ORIGIN + timedelta(days=day)).isoweekday()
            if weekday in window.weekdays:
                mine |= set(range(day * 1440 + window.start_minute, day * 1440 + window.end_minute))
    mine = (mine | as_minutes(intervals(extras))) - as_minutes(intervals(releases))
    guarded = set(range(start - 30, start + length + 30))
    assert shareable == (not (mine & guarded))
    if shareable:
        assert not mine & set(range(start, start + length))


@given(windows, minutes, st.integers(min_value=1, max_value=3 * 24 * 60))
def test_weekly_occurrences_are_the_windows_minutes(weekly: list[WeeklyWindow], start: int, length: int):
    found = as_minutes(w.weekly(weekly, at(start), at(start + length), "Asia/Seoul"))
    expected = set()
    for day in range(-1, 12):
        weekday = (ORIGIN + timedelta(days=day)).isoweekday()
        for window in weekly:
            if weekday in window.weekdays:
                expected |= set(range(day * 1440 + window.start_minute, day * 1440 + window.end_minute))
    assert found == expected & set(range(start, start + length))
