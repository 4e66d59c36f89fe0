"""The Sangsalmi demo data: deterministic, about 280 slots of the four kinds within about 1 km."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from core.clock import FixedClock
from parking.models import SlotKind
from sim.pilot import CENTRE, DEMO_PASSWORD, generate, load
from tests.conftest import NOW
from tests.factories import POLICY, booking_body


def test_generation_is_deterministic_and_shaped_like_the_pilot():
    pilot = generate(2019)
    assert pilot == generate(2019)
    assert pilot != generate(7)
    assert len(pilot.slots) == 280
    kinds = Counter(slot.kind for slot in pilot.slots)
    assert set(kinds) == set(SlotKind) and all(count >= 30 for count in kinds.values())
    lon0, lat0 = CENTRE
    for slot in pilot.slots:
        east = (slot.lon - lon0) * 111_320 * math.cos(math.radians(lat0))
        north = (slot.lat - lat0) * 111_320
        assert abs(east) <= 520 and abs(north) <= 520, slot.code
    resident = [s for s in pilot.slots if s.kind == SlotKind.RESIDENT_PRIORITY]
    assert all(any(set(w.weekdays) >= {1, 2, 3, 4, 5} for w in s.windows) for s in resident)
    assert len({s.code for s in pilot.slots}) == 280
    assert len({a.email for a in pilot.accounts}) == len(pilot.accounts)


@pytest.mark.pilot_data
async def test_demo_search_near_a_sangsalmi_destination(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    """On the demo data (loaded once a session by tests/conftest.py::pilot_database, whose load creates it)."""
    again = await load(session, clock=clock, policy=POLICY)  # loading twice adds nothing
    assert not again.created and (again.slots, again.lots, again.accounts) == (280, 4, 141)
    token = await client.post("/auth/token", data={"username": "resident@maeul.demo", "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    start = NOW.replace(hour=10)  # a Monday morning: resident slots are shared while their holders work
    params = {
        "lat": 37.5205,
        "lon": 126.7795,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=3)).isoformat(),
    }
    found = (await client.get("/slots/search", params=params, headers=headers)).json()["items"]
    assert len(found) == 20
    assert {item["slot"]["kind"] for item in found} >= {"resident_priority"}
    assert all(item["walk_m"] <= 500 for item in found)
    night = {
        **params,
        "start": NOW.replace(hour=22).isoformat(),
        "end": (NOW.replace(hour=22) + timedelta(hours=8)).isoformat(),
    }
    night_kinds = {
        i["slot"]["kind"]
        for i in (
            await client.get("/slots/search", params={**night, "max_walk_m": 3000, "limit": 100}, headers=headers)
        ).json()["items"]
    }
    assert "resident_priority" not in night_kinds and "public_lot" in night_kinds


@pytest.mark.pilot_data
async def test_search_offers_only_what_can_be_booked_on_the_demo_data(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    """For random intervals over a week, every slot the search offers has a price, and booking it is never refused
    for want of one (the driver is never offered what they cannot book)."""
    token = await client.post("/auth/token", data={"username": "resident@maeul.demo", "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    rng = random.Random(9162)
    for _ in range(12):
        start = NOW + timedelta(minutes=15 * rng.randrange(4, 4 * 24 * 7))
        end = start + timedelta(minutes=30 * rng.randrange(1, 24))
        params = {"lat": 37.5205, "lon": 126.7795, "start": start.isoformat(), "end": end.isoformat()}
        params |= {"max_walk_m": 1500, "limit": 50}
        found = (await client.get("/slots/search", params=params, headers=headers)).json()["items"]
        assert all(item["price_krw"] is not None and item["price_krw"] >= 0 for item in found)
        for item in found[:2]:
            booked = await client.post("/bookings", json=booking_body(item["slot"]["id"], start, end), headers=headers)
            assert booked.status_code in (201, 402), booked.text  # 402: the demo wallet ran dry, never 409
