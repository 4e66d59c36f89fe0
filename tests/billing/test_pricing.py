"""Quotes: bands, day types, holidays, unit rounding, caps, multipliers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.pricing import Band, Caps, DayType, NoTariff, quote, unit_price

KST = ZoneInfo("Asia/Seoul")
BANDS = [
    Band(DayType.WEEKDAY, 0, 540, 30, 300),
    Band(DayType.WEEKDAY, 540, 1080, 30, 600),  # 09:00-18:00
    Band(DayType.WEEKDAY, 1080, 1440, 30, 400),
    Band(DayType.WEEKEND, 0, 1440, 60, 500),
    Band(DayType.HOLIDAY, 0, 1440, 60, 0),
]
MONDAY = datetime(2026, 11, 23, tzinfo=KST)


def test_a_stay_across_bands_and_midnight():
    q = quote(MONDAY.replace(hour=17, minute=10), MONDAY.replace(hour=19), timezone="Asia/Seoul", bands=BANDS)
    assert [(line.band, line.units, line.amount_krw) for line in q.lines] == [
        ("weekday 09:00-18:00", 2, 1200),  # 50 minutes: two 30-minute units
        ("weekday 18:00-24:00", 2, 800),
    ]
    friday_night = MONDAY + timedelta(days=4, hours=23)
    q = quote(friday_night, friday_night + timedelta(hours=2), timezone="Asia/Seoul", bands=BANDS)
    assert [line.band for line in q.lines] == ["weekday 18:00-24:00", "weekend 00:00-24:00"]
    assert q.total_krw == 2 * 400 + 500


def test_holidays_and_missing_tariffs():
    holiday = date(2026, 12, 25)
    start = datetime(2026, 12, 25, 10, tzinfo=KST)
    q = quote(start, start + timedelta(hours=3), timezone="Asia/Seoul", bands=BANDS, holidays=[holiday])
    assert q.total_krw == 0 and q.lines[0].band.startswith("holiday")
    with pytest.raises(NoTariff):
        quote(start, start + timedelta(hours=1), timezone="Asia/Seoul", bands=BANDS[:3], holidays=[holiday])


def test_caps_and_multiplier():
    band = BANDS[1]
    assert unit_price(band, multiplier_permille=1500) == 900
    assert unit_price(band, multiplier_permille=1500, caps=Caps(500, 1600)) == 800  # 1,600/h is 800 per 30 min
    assert unit_price(band, multiplier_permille=500, caps=Caps(1500, 3000)) == 750


@given(start=st.integers(0, 7 * 24 * 60), minutes=st.integers(1, 72 * 60))
def test_quotes_cover_the_stay_and_round_up(start: int, minutes: int):
    begin = MONDAY + timedelta(minutes=start)
    q = quote(begin, begin + timedelta(minutes=minutes), timezone="Asia/Seoul", bands=BANDS)
    assert q.lines[0].start == begin and q.lines[-1].end == begin + timedelta(minutes=minutes)
    for line, following in zip(q.lines, q.lines[1:], strict=False):
        assert line.end == following.start
    for line in q.lines:
        billed = line.units * line.unit_minutes
        actual = (line.end - line.start).total_seconds() / 60
        assert actual <= billed < actual + line.unit_minutes
        assert line.amount_krw == line.units * line.unit_price_krw
