"""Pure parking rules, with hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.settings import Settings
from parking.errors import InvalidInterval, InvalidPlate, InvalidWindow
from parking.policy import (
    PAST_TOLERANCE,
    WEEKDAY_NAMES,
    BookingPolicy,
    WeeklyWindow,
    format_clock,
    normalize_plate,
    parse_clock,
)

POLICY = BookingPolicy.from_settings(Settings(env="test"))  # 72 h max, 60 days ahead
NOW = datetime(2026, 11, 23, tzinfo=UTC)
clock_times = st.integers(0, 23 * 60 + 59).map(format_clock)


@given(
    days=st.lists(st.sampled_from(WEEKDAY_NAMES), min_size=1, max_size=7),
    start=clock_times,
    end=st.one_of(clock_times, st.just("24:00")),
)
def test_weekly_window_round_trip(days: list[str], start: str, end: str):
    window = WeeklyWindow.parse(days, start, end)
    assert 0 <= window.start_minute < 1440
    assert window.start_minute < window.end_minute <= window.start_minute + 1440
    assert WeeklyWindow.parse(window.weekday_names, window.start, window.end) == window
    assert window.start == start
    same_clock = parse_clock(window.end, allow_end_of_day=True) % 1440 == parse_clock(end, allow_end_of_day=True) % 1440
    assert same_clock


@pytest.mark.parametrize("value", ["", "9:00", "24:01", "12:60", "noon", "12:00:00", "-1:00"])
def test_bad_clock_times(value: str):
    with pytest.raises(InvalidWindow):
        WeeklyWindow.parse(["mon"], value, "18:00")


@given(start_min=st.integers(-10_000, 100_000), duration_min=st.integers(-100, 6000))
def test_interval_rule(start_min: int, duration_min: int):
    start = NOW + timedelta(minutes=start_min)
    end = start + timedelta(minutes=duration_min)
    acceptable = (
        duration_min > 0
        and timedelta(minutes=duration_min) <= POLICY.max_duration
        and start >= NOW - PAST_TOLERANCE
        and start <= NOW + POLICY.horizon
    )
    if acceptable:
        POLICY.check_interval(start, end, now=NOW)
    else:
        with pytest.raises(InvalidInterval):
            POLICY.check_interval(start, end, now=NOW)


def test_naive_times_are_refused():
    with pytest.raises(InvalidInterval):
        POLICY.check_interval(datetime(2026, 11, 24, 9), datetime(2026, 11, 24, 10), now=NOW)


@pytest.mark.parametrize(
    ("raw", "clean"), [("12가 3456", "12가3456"), ("서울 12-가-3456", "서울12가3456"), ("ab 123", "AB123")]
)
def test_plates(raw: str, clean: str):
    assert normalize_plate(raw) == clean


@pytest.mark.parametrize("raw", ["", "x", "12가3456!", "<script>", "1" * 13])
def test_bad_plates(raw: str):
    with pytest.raises(InvalidPlate):
        normalize_plate(raw)
