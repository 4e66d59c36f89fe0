"""The demo fleet loads through the real services, and the worker's simulator rides it through the real telemetry
endpoint: fixes are accepted, rides end in a parking area and are paid."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from core.clock import FixedClock
from mobility.ingest import prepare_telemetry
from mobility.models import TelemetryPoint, Trip, TripStatus, Vehicle
from sim.fleet import FleetSimulator, load_fleet
from tests.factories import make_account, make_zone


async def test_the_simulator_rides_demo_vehicles_through_the_api(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    await make_zone(session)
    loaded = await load_fleet(session, now=clock.now())
    assert loaded.created and loaded.vehicles == 80
    assert not (await load_fleet(session, now=clock.now())).created  # idempotent
    await prepare_telemetry(session, now=clock.now(), retention_days=90)
    for _ in range(2):
        await make_account(session)
    await session.commit()
    simulator = FleetSimulator(rides=2, api_url=str(client.base_url), tick_s=10)
    posted = 0
    for _ in range(80):
        posted += await simulator.tick(session, client, rules=state.fleet, now=clock.now())
        clock.advance(timedelta(seconds=10))
    ids = [ride.vehicle_id for ride in simulator.active]
    assert len(ids) == 2 and posted > 10
    stored = await session.scalar(
        select(func.count()).select_from(TelemetryPoint).where(TelemetryPoint.vehicle_id.in_(ids))
    )
    assert stored == posted
    done = (
        (await session.execute(select(Trip).where(Trip.vehicle_id.in_(ids), Trip.status == TripStatus.COMPLETED)))
        .scalars()
        .all()
    )
    assert done and all(t.fare_krw and t.fare_krw > 1000 and t.distance_m for t in done)
    labels = (await session.execute(select(Vehicle.label).where(Vehicle.id.in_(ids)))).scalars().all()
    assert sorted(labels) == ["SC-0001", "SC-0002"]
