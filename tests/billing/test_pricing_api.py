"""Managing prices through HTTP: tariffs (staff), caps (city), refunds (staff)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from billing import journal
from core.clock import FixedClock
from parking.models import Booking
from tests.conftest import NOW
from tests.factories import WALLET_KRW, auth, booking_body, make_account, make_slot, make_zone

START, END = NOW.replace(hour=10), NOW.replace(hour=12)


async def test_tariffs_and_caps(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    zone = await make_zone(session)
    slot = await make_slot(session, now=NOW)
    operator = await make_account(session, role=Role.OPERATOR)
    city = await make_account(session, role=Role.CITY)
    driver = await make_account(session)
    bands = [
        {"day_type": "weekday", "start": "00:00", "end": "09:00", "unit_minutes": 60, "unit_price_krw": 300},
        {"day_type": "weekday", "start": "09:00", "end": "24:00", "unit_minutes": 30, "unit_price_krw": 800},
        {"day_type": "weekend", "start": "00:00", "end": "24:00", "unit_minutes": 60, "unit_price_krw": 500},
        {"day_type": "holiday", "start": "00:00", "end": "24:00", "unit_minutes": 60, "unit_price_krw": 0},
    ]
    body = {"slot_kind": "private_individual", "bands": bands}
    saved = await client.put(f"/zones/{zone}/tariffs", json=body, headers=auth(state, operator))
    assert saved.status_code == 200, saved.text
    listed = (await client.get(f"/zones/{zone}/tariffs", headers=auth(state, driver))).json()
    mine = [b for t in listed if t["slot_kind"] == "private_individual" for b in t["bands"]]
    assert {(b["day_type"], b["start"], b["unit_price_krw"]) for b in mine} == {
        ("weekday", "00:00", 300),
        ("weekday", "09:00", 800),
        ("weekend", "00:00", 500),
        ("holiday", "00:00", 0),
    }
    quoted = await client.post("/bookings", json=booking_body(slot, START, END), headers=auth(state, driver))
    assert quoted.json()["quote_krw"] == 4 * 800

    overlapping = {"slot_kind": "private_individual", "bands": [bands[1], {**bands[1], "start": "12:00"}]}
    refused = await client.put(f"/zones/{zone}/tariffs", json=overlapping, headers=auth(state, operator))
    assert refused.status_code == 422 and "overlap" in refused.json()["detail"]
    bad_clock = {"slot_kind": "private_individual", "bands": [{**bands[1], "start": "25:00"}]}
    assert (
        await client.put(f"/zones/{zone}/tariffs", json=bad_clock, headers=auth(state, operator))
    ).status_code == 422
    backwards = {"slot_kind": "private_individual", "bands": [{**bands[1], "start": "18:00", "end": "09:00"}]}
    assert (
        await client.put(f"/zones/{zone}/tariffs", json=backwards, headers=auth(state, operator))
    ).status_code == 422

    caps = await client.put(
        f"/zones/{zone}/price-caps", json={"min_krw_per_hour": 0, "max_krw_per_hour": 1000}, headers=auth(state, city)
    )
    assert caps.status_code == 200
    capped = await client.post(
        "/bookings", json=booking_body(slot, END, END + timedelta(hours=2)), headers=auth(state, driver)
    )
    assert capped.json()["quote_krw"] == 2000  # 800 per 30 min is over the cap of 1,000 an hour
    inverted = await client.put(
        f"/zones/{zone}/price-caps", json={"min_krw_per_hour": 900, "max_krw_per_hour": 100}, headers=auth(state, city)
    )
    assert inverted.status_code == 422


async def test_staff_refund(client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock):
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    slot = await make_slot(session, owner=owner, now=NOW)
    driver = await make_account(session)
    operator = await make_account(session, role=Role.OPERATOR)
    booking = (await client.post("/bookings", json=booking_body(slot, START, END), headers=auth(state, driver))).json()
    clock.set(START)
    await client.post(f"/bookings/{booking['id']}/check-in", headers=auth(state, driver))
    clock.set(END)
    await client.post(f"/bookings/{booking['id']}/check-out", headers=auth(state, driver))
    staff = auth(state, operator)
    refunded = await client.post(
        f"/bookings/{booking['id']}/refund", json={"amount_krw": 500, "reason": "gate broken"}, headers=staff
    )
    assert refunded.status_code == 200, refunded.text
    wallet = (await client.get("/wallet", headers=auth(state, driver))).json()
    assert wallet["balance_krw"] == WALLET_KRW - 2000 + 500
    balances = (await client.get("/settlement/balances", headers=staff)).json()
    assert balances[journal.owner(owner.id)] == 1600 - 400  # the owner's 80% of 2,000, less 80% of the refund
    too_much = await client.post(
        f"/bookings/{booking['id']}/refund", json={"amount_krw": 1600, "reason": "again"}, headers=staff
    )
    assert too_much.status_code == 409 and too_much.json()["error"] == "refund_exceeds_capture"


async def test_a_refund_of_a_booking_nothing_was_paid_for_is_a_conflict(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    """What was paid is state, like an amount already refunded: 409, never 422 for a schema-valid body (schemathesis
    found a booking without a hold refused with an undeclared 422)."""
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    slot = await make_slot(session, owner=owner, now=NOW)
    driver = await make_account(session)
    operator = await make_account(session, role=Role.OPERATOR)
    booking = Booking(
        slot_id=slot,
        driver_id=driver.id,
        period=Range(START, END),
        vehicle_plate="12가3456",
        status_changed_at=NOW,
    )
    session.add(booking)
    await session.flush()
    refused = await client.post(
        f"/bookings/{booking.id}/refund",
        json={"amount_krw": 17, "reason": "gate broken"},
        headers=auth(state, operator),
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "refund_exceeds_capture"
