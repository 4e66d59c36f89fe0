"""Dynamic pricing: the curve, hourly multipliers in quotes, occupancy computed from bookings, the city's caps."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from billing.dynamic import reprice
from billing.models import PriceMultiplier, ZonePriceCap
from billing.pricing import Band, DayType, multiplier_for, quote
from sim.pilot import CENTRE
from sim.sangsalmi import offset
from tests.conftest import NOW
from tests.factories import auth, booking_body, make_account, make_slot, make_zone


@given(st.integers(-100, 1100), st.integers(-100, 1100))
def test_curve_is_monotone_and_bounded(a: int, b: int):
    low, high = sorted((a, b))
    assert 900 <= multiplier_for(low) <= multiplier_for(high) <= 1500
    assert multiplier_for(300) == 1000 and multiplier_for(1000) == 1500


def test_hourly_multipliers_cut_the_quote_at_the_hour():
    band = [Band(DayType.WEEKDAY, 0, 1440, 30, 1000)]
    start = datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo("Asia/Seoul"))
    q = quote(start, start + timedelta(hours=1), timezone="Asia/Seoul", bands=band, multipliers={10: 1500})
    assert [(line.start.hour, line.unit_price_krw) for line in q.lines] == [(9, 1000), (10, 1500)]


async def test_busy_hours_cost_more_within_the_caps(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    zone = await make_zone(session)  # 500 KRW per 30 minutes
    slots = [await make_slot(session, east_m=10 * i, now=NOW) for i in range(4)]
    driver = await make_account(session)
    ten = NOW.replace(hour=10)
    for slot in slots[:3]:  # three of four slots taken from 10:00 to 11:00
        booked = await client.post(
            "/bookings", json=booking_body(slot, ten, ten + timedelta(hours=1)), headers=auth(state, driver)
        )
        assert booked.status_code == 201 and booked.json()["quote_krw"] == 1000
    await reprice(session, now=NOW, timezone="Asia/Seoul")
    hour_ten = await session.scalar(
        select(PriceMultiplier).where(PriceMultiplier.zone_id == zone, PriceMultiplier.hour == 10)
    )
    assert hour_ten is not None and hour_ten.occupancy_permille == 750
    assert hour_ten.multiplier_permille == multiplier_for(750) == 1214
    last = await client.post(
        "/bookings", json=booking_body(slots[3], ten, ten + timedelta(hours=1)), headers=auth(state, driver)
    )
    assert last.json()["quote_krw"] == 2 * 607  # 500 x 1.214, rounded half up, per 30 minutes
    await client.post(f"/bookings/{last.json()['id']}/cancel", headers=auth(state, driver))
    session.add(ZonePriceCap(zone_id=zone, min_krw_per_hour=0, max_krw_per_hour=1100))
    await session.flush()
    capped = await client.post(
        "/bookings", json=booking_body(slots[3], ten, ten + timedelta(hours=1)), headers=auth(state, driver)
    )
    assert capped.json()["quote_krw"] == 1100  # the city's cap: 1,100 KRW an hour


async def test_matching_prices_include_the_multiplier(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    await make_zone(session)
    slots = [await make_slot(session, east_m=10 * i, now=NOW) for i in range(4)]
    driver = await make_account(session)
    ten = NOW.replace(hour=10)
    for slot in slots[:3]:
        await client.post(
            "/bookings", json=booking_body(slot, ten, ten + timedelta(hours=1)), headers=auth(state, driver)
        )
    await reprice(session, now=NOW, timezone="Asia/Seoul")
    lon, lat = offset(*CENTRE, east_m=15, north_m=0)
    body = {
        "destination": {"lon": lon, "lat": lat},
        "start": ten.isoformat(),
        "end": (ten + timedelta(hours=1)).isoformat(),
        "vehicle_plate": "12가3456",
    }
    matched = (await client.post("/matching/instant", json=body, headers=auth(state, driver))).json()
    assert matched["booking"]["slot_id"] == str(slots[3])
    assert matched["explanation"]["chosen"]["price_krw"] == matched["booking"]["quote_krw"] == 2 * 607
