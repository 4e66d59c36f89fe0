"""A rider's whole flow through HTTP on real PostGIS and Redis: nearby, reserve, unlock, ride, end, pay."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from billing import journal
from core.clock import FixedClock
from mobility import live
from mobility.models import Vehicle, VehicleEvent
from mobility.states import VehicleState, replay
from tests.factories import (
    RIDE_KRW_PER_MINUTE,
    WALLET_KRW,
    auth,
    device_headers,
    error_of,
    fix,
    make_account,
    make_fleet,
    make_vehicle,
)


async def test_a_ride_from_nearby_to_payment(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    fleet = await make_fleet(session, now=now)
    partner = fleet["partner"]
    vehicle_id, device, key = await make_vehicle(session, provider_id=partner.id, east_m=30, now=now)  # type: ignore[attr-defined]
    rider = await make_account(session)
    headers = auth(state, rider)
    await session.commit()

    # the device reports; the vehicle enters the live index
    posted = await client.post(
        "/telemetry", json={"points": [fix(now, east_m=30, battery_pct=88)]}, headers=device_headers(device, key)
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["accepted"] == 1

    near = await client.get("/rides/nearby", params={"lon": 126.78, "lat": 37.52, "radius_m": 300}, headers=headers)
    assert near.status_code == 200, near.text
    [found] = [v for v in near.json() if v["id"] == str(vehicle_id)]
    assert found["battery_pct"] == 88 and 30 <= found["walk_m"] <= 45
    assert found["range_m"] == 40_000 * 88 // 100
    too_far = await client.get("/rides/nearby", params={"lon": 126.78, "lat": 37.52, "trip_m": 39_000}, headers=headers)
    assert str(vehicle_id) not in [v["id"] for v in too_far.json()]

    reserved = await client.post("/rides/reservations", json={"vehicle_id": str(vehicle_id)}, headers=headers)
    assert reserved.status_code == 201, reserved.text
    other = await make_account(session)
    await session.commit()
    taken = await client.post("/rides", json={"vehicle_id": str(vehicle_id)}, headers=auth(state, other))
    assert taken.status_code == 409 and error_of(taken) == "vehicle_unavailable"

    clock.advance(timedelta(minutes=2))
    started = await client.post("/rides", json={"vehicle_id": str(vehicle_id)}, headers=headers)
    assert started.status_code == 201, started.text
    trip = started.json()
    assert trip["status"] == "on_trip" and len(trip["receipts"]) == 1
    held_wallet = await journal.balance(session, journal.wallet(rider.id))
    assert held_wallet == WALLET_KRW - (1000 + 30 * RIDE_KRW_PER_MINUTE)  # unlock + 30 minutes held

    # ride 400 m east into the no-parking square, over 4 minutes
    t = clock.now()
    clock.advance(timedelta(minutes=5))
    points = [fix(t + timedelta(seconds=60 * i), east_m=30 + 92 * i, battery_pct=80) for i in range(1, 5)]
    moved = await client.post("/telemetry", json={"points": points}, headers=device_headers(device, key))
    assert moved.json()["accepted"] == 4, moved.text
    refused = await client.post(f"/rides/{trip['id']}/end", headers=headers)
    assert refused.status_code == 409 and error_of(refused) == "ride_end_not_allowed_here"
    nearest = refused.json()["nearest_parking_area"]
    assert nearest["name"] == "east parking" and 200 < nearest["walk_m"] < 400

    # into the east parking area, then end
    t = clock.now()
    clock.advance(timedelta(minutes=3))
    moved = await client.post(
        "/telemetry",
        json={"points": [fix(t + timedelta(seconds=60), east_m=550), fix(t + timedelta(seconds=120), east_m=700)]},
        headers=device_headers(device, key),
    )
    assert moved.json()["accepted"] == 2, moved.text
    ended = await client.post(f"/rides/{trip['id']}/end", headers=headers)
    assert ended.status_code == 200, ended.text
    done = ended.json()
    minutes = 8
    assert done["status"] == "completed"
    assert (
        done["fare_krw"]
        == 1000 + minutes * RIDE_KRW_PER_MINUTE
        == sum(line["amount_krw"] for line in done["fare_lines"])
    )
    # the fixes during the trip: 122 m to 700 m east
    assert 570 < done["distance_m"] < 600 and done["route"]["type"] == "LineString"
    assert len(done["receipts"]) == 2
    assert await journal.balance(session, journal.wallet(rider.id)) == WALLET_KRW - done["fare_krw"]
    fare = done["fare_krw"]
    split = {
        f"provider:{partner.id}": await journal.balance(session, f"provider:{partner.id}"),  # type: ignore[attr-defined]
    }
    assert split[f"provider:{partner.id}"] == fare * 7000 // 10000  # type: ignore[attr-defined]

    # the event log replays to the stored state, and the GBFS id rotated
    vehicle = await session.get(Vehicle, vehicle_id, populate_existing=True)
    assert vehicle is not None and vehicle.state == VehicleState.AVAILABLE
    events = (
        await session.execute(
            select(VehicleEvent).where(VehicleEvent.vehicle_id == vehicle_id).order_by(VehicleEvent.seq)
        )
    ).scalars()
    history = [(e.event_types, VehicleState(e.state)) for e in events]
    assert [types[0] for types, _ in history] == ["provider_drop_off", "reservation_start", "trip_start", "trip_end"]
    assert replay(VehicleState.REMOVED, history) == vehicle.state
    again = await client.post(f"/rides/{trip['id']}/end", headers=headers)
    assert again.status_code == 409


async def test_reservation_expires_by_itself(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    fleet = await make_fleet(session, now=now)
    vehicle_id, _, _ = await make_vehicle(session, provider_id=fleet["enterprise"].id, now=now)  # type: ignore[attr-defined]
    first, second = await make_account(session), await make_account(session)
    await session.commit()
    assert (
        await client.post("/rides/reservations", json={"vehicle_id": str(vehicle_id)}, headers=auth(state, first))
    ).status_code == 201
    clock.advance(timedelta(minutes=state.settings.ride_reservation_minutes, seconds=1))
    taken = await client.post("/rides/reservations", json={"vehicle_id": str(vehicle_id)}, headers=auth(state, second))
    assert taken.status_code == 201, taken.text


async def test_staff_force_end_with_fee_and_low_battery(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    from accounts.models import Role

    now = clock.now()
    fleet = await make_fleet(session, now=now)
    vehicle_id, device, key = await make_vehicle(session, provider_id=fleet["enterprise"].id, now=now)  # type: ignore[attr-defined]
    rider, staff = await make_account(session), await make_account(session, role=Role.OPERATOR)
    await session.commit()
    trip = (await client.post("/rides", json={"vehicle_id": str(vehicle_id)}, headers=auth(state, rider))).json()
    t = clock.now()
    clock.advance(timedelta(minutes=2))
    await client.post(
        "/telemetry",
        json={"points": [fix(t + timedelta(seconds=90), east_m=400, battery_pct=9)]},
        headers=device_headers(device, key),
    )
    refused = await client.post(f"/rides/{trip['id']}/end", params={"force": True}, headers=auth(state, rider))
    assert refused.status_code == 403
    forced = await client.post(f"/rides/{trip['id']}/end", params={"force": True}, headers=auth(state, staff))
    assert forced.status_code == 200, forced.text
    kinds = [line["kind"] for line in forced.json()["fare_lines"]]
    assert kinds[-1] == "forced_end_fee" and forced.json()["fare_lines"][-1]["amount_krw"] == 5000
    vehicle = await session.get(Vehicle, vehicle_id, populate_existing=True)
    assert vehicle is not None and vehicle.state == VehicleState.NON_OPERATIONAL  # battery_low after trip_end
    # enterprise fleet: the provider share and the enterprise share both go to `enterprise`
    assert await journal.balance(session, journal.ENTERPRISE) >= forced.json()["fare_krw"] * 8500 // 10000


async def test_a_redis_failure_after_the_commit_never_rewrites_the_answer(
    client: httpx.AsyncClient,
    session: AsyncSession,
    state: AppState,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
):
    """The unlock is committed: Redis failing right after must not turn it into a 503 "retry" (whose retry would be
    a 409). The answer is 201, and the live index catches up at the worker's next rebuild."""
    now = clock.now()
    fleet = await make_fleet(session, now=now)
    vehicle_id, device, key = await make_vehicle(session, provider_id=fleet["partner"].id, east_m=30, now=now)  # type: ignore[attr-defined]
    rider = await make_account(session)
    await session.commit()
    await client.post("/telemetry", json={"points": [fix(now, east_m=30)]}, headers=device_headers(device, key))
    near = {"lon": 126.78, "lat": 37.52, "radius_m": 300}
    assert str(vehicle_id) in [
        v["id"] for v in (await client.get("/rides/nearby", params=near, headers=auth(state, rider))).json()
    ]

    async def redis_gone(*args: object, **kwargs: object) -> None:
        raise RedisConnectionError("Redis went away right after the commit")

    monkeypatch.setattr(live, "place", redis_gone)
    started = await client.post("/rides", json={"vehicle_id": str(vehicle_id)}, headers=auth(state, rider))
    assert started.status_code == 201, started.text
    monkeypatch.undo()
    # the index still shows the vehicle as free until the worker's rebuild puts it right
    await live.rebuild(state.redis, session)
    nearby = (await client.get("/rides/nearby", params=near, headers=auth(state, await make_account(session)))).json()
    assert str(vehicle_id) not in [v["id"] for v in nearby]
