"""Park-and-ride through HTTP on real PostGIS and Redis: a parking booking carries a vehicle reservation for the last
leg, made in the same request, undone with the booking, held from the check-out."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from billing import mileage
from core.clock import FixedClock
from mobility.models import ParkAndRide, Trip, Vehicle
from mobility.park_and_ride import follow_bookings
from mobility.reservations import expire_reservations
from parking.models import Booking
from tests.factories import (
    auth,
    booking_body,
    error_of,
    make_account,
    make_fleet,
    make_slot,
    make_vehicle,
)


async def _bookings_of(session: AsyncSession, driver_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).select_from(Booking).where(Booking.driver_id == driver_id)))


async def test_the_last_leg_is_held_at_check_out_and_ridden(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    fleet = await make_fleet(session, now=now)
    partner = fleet["partner"].id  # type: ignore[attr-defined]
    slot_id = await make_slot(session, now=now)
    near, _, _ = await make_vehicle(session, provider_id=partner, east_m=60, now=now)
    far, _, _ = await make_vehicle(session, provider_id=partner, east_m=250, now=now)
    await make_vehicle(session, provider_id=partner, type_code="ebike", east_m=10, now=now)  # another type
    flat, _, _ = await make_vehicle(session, provider_id=partner, east_m=20, battery_pct=5, now=now)  # too low
    driver = await make_account(session)
    await session.commit()
    headers = auth(state, driver)

    start, end = now + timedelta(minutes=10), now + timedelta(hours=2)
    body = booking_body(slot_id, start, end) | {"park_and_ride": {"type_code": "scooter", "radius_m": 300}}
    created = await client.post("/bookings", json=body, headers=headers)
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["park_and_ride"]["status"] == "waiting" and booking["park_and_ride"]["vehicle_id"] is None
    # nothing is held before the parking session ends
    assert (await session.get(Vehicle, near, populate_existing=True)).state == "available"  # type: ignore[union-attr]

    clock.set(start)
    assert (await client.post(f"/bookings/{booking['id']}/check-in", headers=headers)).status_code == 200
    clock.set(start + timedelta(minutes=50))
    headers = auth(state, driver)  # tokens last an hour
    out = await client.post(f"/bookings/{booking['id']}/check-out", headers=headers)
    assert out.status_code == 200, out.text
    leg = out.json()["park_and_ride"]
    assert leg["status"] == "held" and leg["vehicle_id"] == str(near), leg  # nearest scooter with battery
    assert leg["held_until"] is not None
    held_for = (clock.now() + timedelta(minutes=state.fleet.reservation.total_seconds() / 60)).isoformat()
    assert leg["held_until"].replace("Z", "+00:00") == held_for
    assert flat and far  # the too-low and the farther scooter were passed over

    # nobody else can take it, and it left the live index
    other = await make_account(session)
    await session.commit()
    taken = await client.post("/rides", json={"vehicle_id": str(near)}, headers=auth(state, other))
    assert taken.status_code == 409 and error_of(taken) == "vehicle_unavailable"
    around = await client.get("/rides/nearby", params={"lon": 126.78, "lat": 37.52}, headers=auth(state, other))
    assert str(near) not in [v["id"] for v in around.json()]

    clock.advance(timedelta(minutes=3))
    ride = await client.post("/rides", json={"vehicle_id": str(near)}, headers=headers)
    assert ride.status_code == 201, ride.text
    trip = await session.get(Trip, uuid.UUID(ride.json()["id"]))
    assert trip is not None and str(trip.parking_booking_id) == booking["id"]
    seen = await client.get(f"/bookings/{booking['id']}", headers=headers)
    assert seen.json()["park_and_ride"]["status"] == "ridden"

    # the ride ends in the centre parking area: the park-and-ride mileage rule (within 30 minutes) pays
    clock.advance(timedelta(minutes=4))
    ended = await client.post(f"/rides/{trip.id}/end", headers=headers)
    assert ended.status_code == 200, ended.text
    earned = await mileage.balance(session, driver.id, now=clock.now())
    assert earned > 0


async def test_the_leg_is_made_with_the_booking_or_not_at_all_and_undone_with_it(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    await make_fleet(session, now=now)
    slot_id = await make_slot(session, now=now)
    driver = await make_account(session)
    await session.commit()
    headers = auth(state, driver)
    start, end = now + timedelta(hours=1), now + timedelta(hours=2)

    for ride, status, code in [
        ({"type_code": "car"}, 422, "invalid_input"),  # a car is no last leg
        ({"type_code": "hovercraft"}, 404, "vehicle_type_not_found"),
        ({"type_code": "scooter", "radius_m": 5000}, 422, "invalid_request"),
    ]:
        refused = await client.post(
            "/bookings", json=booking_body(slot_id, start, end) | {"park_and_ride": ride}, headers=headers
        )
        assert refused.status_code == status and error_of(refused) == code, refused.text
    assert await _bookings_of(session, driver.id) == 0  # nothing half-made

    created = await client.post(
        "/bookings", json=booking_body(slot_id, start, end) | {"park_and_ride": {"type_code": "ebike"}}, headers=headers
    )
    assert created.status_code == 201 and created.json()["park_and_ride"]["radius_m"] == 300
    cancelled = await client.post(f"/bookings/{created.json()['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    leg = cancelled.json()["park_and_ride"]
    assert leg["status"] == "cancelled" and "cancelled" in leg["note"]

    # the city sees the booking, never the driver's last leg
    city = await make_account(session, role=Role.CITY)
    await session.commit()
    seen = await client.get(f"/bookings/{created.json()['id']}", headers=auth(state, city))
    assert seen.status_code == 200 and seen.json()["park_and_ride"] is None


async def test_no_vehicle_at_check_out_leaves_parking_alone_and_says_why(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    fleet = await make_fleet(session, now=now)
    slot_id = await make_slot(session, now=now)
    await make_vehicle(session, provider_id=fleet["partner"].id, east_m=900, now=now)  # type: ignore[attr-defined]
    driver = await make_account(session)
    await session.commit()
    headers = auth(state, driver)
    start, end = now + timedelta(minutes=5), now + timedelta(hours=1)
    body = booking_body(slot_id, start, end) | {"park_and_ride": {"type_code": "scooter", "radius_m": 200}}
    booking = (await client.post("/bookings", json=body, headers=headers)).json()
    clock.set(start)
    await client.post(f"/bookings/{booking['id']}/check-in", headers=headers)
    out = await client.post(f"/bookings/{booking['id']}/check-out", headers=headers)
    assert out.status_code == 200 and out.json()["status"] == "completed"
    leg = out.json()["park_and_ride"]
    assert leg["status"] == "unfulfilled" and "within 200 m" in leg["note"], leg


async def test_the_worker_undoes_a_no_show_and_expires_an_unused_hold(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    fleet = await make_fleet(session, now=now)
    slot_id = await make_slot(session, now=now)
    other_slot = await make_slot(session, east_m=40, now=now)
    vehicle, _, _ = await make_vehicle(session, provider_id=fleet["partner"].id, east_m=30, now=now)  # type: ignore[attr-defined]
    driver = await make_account(session)
    await session.commit()
    headers = auth(state, driver)
    leg = {"park_and_ride": {"type_code": "scooter"}}

    no_show = (
        await client.post(
            "/bookings",
            json=booking_body(slot_id, now + timedelta(minutes=5), now + timedelta(hours=1)) | leg,
            headers=headers,
        )
    ).json()
    used = (
        await client.post(
            "/bookings",
            json=booking_body(other_slot, now + timedelta(minutes=5), now + timedelta(minutes=30)) | leg,
            headers=headers,
        )
    ).json()
    clock.set(now + timedelta(minutes=5))
    await client.post(f"/bookings/{used['id']}/check-in", headers=headers)
    held = (await client.post(f"/bookings/{used['id']}/check-out", headers=headers)).json()["park_and_ride"]
    assert held["status"] == "held" and held["vehicle_id"] == str(vehicle)

    clock.set(now + timedelta(hours=2))  # the other booking was never checked in; the hold ran out
    headers = auth(state, driver)
    # the worker's sweep, as fleet_upkeep runs it
    assert await expire_reservations(session, now=clock.now()) == 1
    await follow_bookings(session, rules=state.fleet, policy=state.policy, now=clock.now())
    await session.commit()
    legs = {
        str(row.booking_id): row
        for row in (await session.execute(select(ParkAndRide).execution_options(populate_existing=True))).scalars()
    }
    assert legs[no_show["id"]].status == "cancelled" and "no_show" in (legs[no_show["id"]].note or "")
    assert legs[used["id"]].status == "expired"
    assert (await session.get(Vehicle, vehicle, populate_existing=True)).state == "available"  # type: ignore[union-attr]
