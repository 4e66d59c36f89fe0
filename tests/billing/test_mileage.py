"""Mileage: rules as data, earned at check-out, expiring, redeemed into the wallet through the journal."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from billing.mileage import Event, applies
from core.clock import FixedClock
from tests.conftest import NOW
from tests.factories import WALLET_KRW, auth, booking_body, make_account, make_slot, make_zone

START, END = NOW.replace(hour=10), NOW.replace(hour=12)


def test_conditions_are_data():
    event = Event("booking_completed", "booking:x", uuid.uuid4(), "samjeong-dong", "public_lot", 90, 1500)
    assert applies({}, event)
    assert applies({"zone_code_not_in": ["sangsalmi"], "min_minutes": 60}, event)
    assert not applies({"zone_code_in": ["sangsalmi"]}, event)
    assert not applies({"min_minutes": 120}, event)
    assert not applies({"weather": "sunny"}, event)  # a condition the code does not know earns nothing


async def test_earn_expire_and_redeem(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    await make_zone(session)  # a test zone: not the village core, so both default rules apply
    slot = await make_slot(session, now=NOW)
    driver = await make_account(session)
    booking = (await client.post("/bookings", json=booking_body(slot, START, END), headers=auth(state, driver))).json()
    clock.set(START)
    await client.post(f"/bookings/{booking['id']}/check-in", headers=auth(state, driver))
    clock.set(END - timedelta(minutes=1))
    headers = auth(state, driver)
    await client.post(f"/bookings/{booking['id']}/check-out", headers=headers)
    earned = (await client.get("/mileage", headers=headers)).json()
    assert earned["balance_points"] == 300 + 2000 * 10 // 1000  # outside the core, and 1% of 2,000 KRW
    assert {e["reference"] for e in earned["entries"]} == {f"booking:{booking['id']}"}

    too_many = await client.post("/mileage/redemptions", json={"points": 10_000}, headers=headers)
    assert too_many.status_code == 409 and too_many.json()["available_points"] == 320
    redeemed = await client.post("/mileage/redemptions", json={"points": 120}, headers=headers)
    assert redeemed.status_code == 201 and redeemed.json()["balance_krw"] == WALLET_KRW - 2000 + 120
    assert (await client.get("/mileage", headers=headers)).json()["balance_points"] == 200

    clock.set(END + timedelta(days=366))  # a year later the rest has expired
    headers = auth(state, driver)
    assert (await client.get("/mileage", headers=headers)).json()["balance_points"] == 0
    assert (await client.post("/mileage/redemptions", json={"points": 1}, headers=headers)).status_code == 409
