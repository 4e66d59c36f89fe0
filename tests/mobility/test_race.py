"""Races for one vehicle over real HTTP (uvicorn on loopback, real commits): one trip, the rest a clear 409; a retried
unlock with one Idempotency-Key never opens a second trip."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from mobility import repository
from mobility.models import Trip
from mobility.vehicles import record
from tests.api.test_concurrency import _sign_in
from tests.factories import make_account, make_fleet, make_vehicle

RIDERS = 20


async def _trips(engine: AsyncEngine, vehicle_id: uuid.UUID) -> int:
    async with AsyncSession(engine) as session:
        return int(
            await session.scalar(select(func.count()).select_from(Trip).where(Trip.vehicle_id == vehicle_id)) or 0
        )


async def test_riders_racing_for_one_vehicle_get_one_trip(live_server: str, engine: AsyncEngine):
    now = datetime.now(UTC)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        made = await make_fleet(session, now=now)
        vehicles = [
            await make_vehicle(session, provider_id=made["partner"].id, east_m=5 * i, now=now)  # type: ignore[attr-defined]
            for i in range(2)
        ]
        riders = [await make_account(session) for _ in range(RIDERS)]
        await session.commit()
    contested, retried = vehicles[0][0], vehicles[1][0]
    async with httpx.AsyncClient(
        base_url=live_server, timeout=60, limits=httpx.Limits(max_connections=RIDERS)
    ) as client:
        headers = [await _sign_in(client, rider.id, engine) for rider in riders]
        barrier = asyncio.Event()

        async def unlock(n: int, vehicle_id: uuid.UUID, extra: dict[str, str]) -> httpx.Response:
            await barrier.wait()
            return await client.post("/rides", json={"vehicle_id": str(vehicle_id)}, headers=headers[n] | extra)

        race = [asyncio.create_task(unlock(n, contested, {})) for n in range(RIDERS - 1)]
        key = {"Idempotency-Key": str(uuid.uuid4())}
        retries = [asyncio.create_task(unlock(RIDERS - 1, retried, key)) for _ in range(10)]
        await asyncio.sleep(0.1)
        barrier.set()
        raced = await asyncio.gather(*race)
        repeated = await asyncio.gather(*retries)
    statuses = Counter(r.status_code for r in raced)
    assert statuses == {201: 1, 409: RIDERS - 2}, statuses
    assert {r.json()["error"] for r in raced if r.status_code == 409} <= {"vehicle_unavailable", "conflict"}
    assert await _trips(engine, contested) == 1
    assert {r.status_code for r in repeated} <= {201, 422}, [r.text for r in repeated if r.status_code >= 400]
    assert len({r.json()["id"] for r in repeated if r.status_code == 201}) == 1
    assert await _trips(engine, retried) == 1
    # leave nothing rentable behind for later tests, through the state machine (events and trips are history)
    async with AsyncSession(engine) as session:
        for trip in (await session.execute(select(Trip).where(Trip.vehicle_id.in_([contested, retried])))).scalars():
            trip.status = "cancelled"
            vehicle = await repository.vehicle_for_update(session, trip.vehicle_id)
            await record(session, vehicle, "trip_cancel", now=now, trip_id=trip.id)
            await record(session, vehicle, "decommissioned", now=now)
        await session.commit()
