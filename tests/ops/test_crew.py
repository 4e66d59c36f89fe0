"""Rebalancing and battery swaps through HTTP on `make demo`'s village (real PostGIS and Redis): targets from trip
history, a tour planned with OR-Tools for the crew on shift, done step by step by the crew member, each task done
being the vehicle's MDS event; tours under way are kept by a re-plan; a vehicle a rider took fails its task."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Account
from api.state import AppState
from core.clock import FixedClock
from geo.models import Zone
from mobility.models import Geofence, Trip, TripStatus, Vehicle, VehicleEvent
from mobility.vehicles import record
from ops.rebalance import targets_from_history
from sim.fleet import load_fleet
from tests.factories import SolveWatch, appended, sign_in_demo, step_task

pytestmark = pytest.mark.pilot_data


async def _demo(session: AsyncSession, clock: FixedClock) -> None:
    """The demo village (the module's database holds its data: `pilot_data`) and its fleet."""
    await load_fleet(session, now=clock.now())
    await session.commit()


async def _flatten(session: AsyncSession, count: int) -> list[uuid.UUID]:
    """`count` demo vehicles run flat (battery 5%, `battery_low`), as the fleet's upkeep would record it."""
    vehicles = list(await session.scalars(select(Vehicle).order_by(Vehicle.label).limit(count)))
    for vehicle in vehicles:
        vehicle.battery_pct = 5
        await record(session, vehicle, "battery_low", now=vehicle.created_at)
    await session.commit()
    return [vehicle.id for vehicle in vehicles]


def test_the_target_rule_is_the_mean_per_day_rounded_up_plus_the_reserve() -> None:
    starts = [(0, "scooter", 18)] * 7 + [(0, "scooter", 9)] * 50 + [(1, "ebike", 18)] * 1
    assert targets_from_history(starts, days=4, hour=18, reserve=1) == {(0, "scooter"): 2 + 1, (1, "ebike"): 1 + 1}
    assert targets_from_history(starts, days=4, hour=9, reserve=0) == {(0, "scooter"): 13}


async def test_targets_come_from_the_trip_history_of_the_same_hour(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
) -> None:
    await _demo(session, clock)
    operator = await sign_in_demo(client, "operator")
    before = (await client.get("/rebalancing/targets", headers=operator)).json()
    assert before["areas"] and all(area["target"] == 1 for area in before["areas"])  # no history: the reserve
    hour, target_area = before["hour"], uuid.UUID(before["areas"][0]["geofence_id"])
    centre = func.ST_PointOnSurface(Geofence.area)
    lon, lat = (
        await session.execute(select(func.ST_X(centre), func.ST_Y(centre)).where(Geofence.id == target_area))
    ).one()
    vehicle = (await session.scalars(select(Vehicle).where(Vehicle.type_code == "scooter").limit(1))).one()
    rider = (await session.scalars(select(Account.id).where(Account.email == "resident@maeul.demo"))).one()
    zone = (await session.scalars(select(Zone.id).limit(1))).one()
    local_end = (clock.now() + state.crew.tour).astimezone(state.crew.timezone)
    same_kind = [
        day for day in range(1, 29) if ((local_end - timedelta(days=day)).weekday() >= 5) == (local_end.weekday() >= 5)
    ]
    for day in same_kind[:2]:  # 30 trips on each of two days, in that hour, from that area; one at another hour
        started = (local_end - timedelta(days=day)).replace(hour=hour, minute=10)
        for minutes in [*range(30), 70]:
            at = started + timedelta(minutes=minutes)
            session.add(
                Trip(
                    vehicle_id=vehicle.id,
                    rider_id=rider,
                    provider_id=vehicle.provider_id,
                    type_code="scooter",
                    zone_id=zone,
                    status=TripStatus.COMPLETED,
                    started_at=at,
                    ended_at=at + timedelta(minutes=5),
                    start_lon=lon,
                    start_lat=lat,
                )
            )
    await session.commit()
    after = (await client.get("/rebalancing/targets", headers=operator)).json()
    scooters = next(
        a for a in after["areas"] if a["geofence_id"] == str(target_area) and a["vehicle_type"] == "scooter"
    )
    assert scooters["target"] == math.ceil(60 / len(same_kind)) + 1
    assert scooters["shortfall"] == max(0, scooters["target"] - scooters["supply"])
    others = [a for a in after["areas"] if (a["geofence_id"], a["vehicle_type"]) != (str(target_area), "scooter")]
    assert all(a["target"] == 1 for a in others)
    city = await sign_in_demo(client, "city")
    assert (await client.get("/rebalancing/targets", headers=city)).status_code == 200
    resident = await sign_in_demo(client, "resident")
    assert (await client.get("/rebalancing/targets", headers=resident)).status_code == 403


async def test_a_crew_tour_is_planned_and_done_with_its_mds_events(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
) -> None:
    """Demo village, three flat vehicles; valet03 (crew skill) is on shift at load time: the operator plans, the
    crew member does the whole tour; every area short of its target gets what the tour brought."""
    await _demo(session, clock)
    flat = await _flatten(session, 3)
    operator = await sign_in_demo(client, "operator")
    planned = await client.post("/rebalancing/plan", headers=operator)
    assert planned.status_code == 200, planned.text
    plan = planned.json()
    assert plan["crew_planned"] == 1 and plan["crew_on_tour"] == 0
    assert plan["flat_before"] == 3 and plan["flat_after"] == 0  # a swap is worth far more than the way to it
    assert plan["unmet_before"] > 0 and plan["unmet_after"] < plan["unmet_before"]
    tasks = plan["tasks"]
    kinds = [task["kind"] for task in tasks]
    assert kinds.count("battery_swap") == 3 and {t["vehicle_id"] for t in tasks if t["kind"] == "battery_swap"} == {
        str(v) for v in flat
    }
    assert kinds.count("rebalance_pickup") == kinds.count("rebalance_dropoff") > 0
    assert [task["sequence"] for task in tasks] == list(range(len(tasks)))
    crew = await sign_in_demo(client, "valet03")
    mine = (await client.get("/tasks", headers=crew)).json()["items"]
    assert [task["id"] for task in mine] == [task["id"] for task in tasks]

    first = tasks[0]
    await step_task(client, first["id"], "en_route", crew)
    again = (await client.post("/rebalancing/plan", headers=operator)).json()  # a tour under way is kept
    assert again["crew_on_tour"] == 1 and again["crew_planned"] == 0 and again["tasks"] == []
    carried_checked = False
    for task in tasks:
        for target in ("en_route", "arrived", "done"):
            if task is first and target == "en_route":
                continue
            clock.advance(timedelta(seconds=20))
            await step_task(client, task["id"], target, crew)
        if task["kind"] == "rebalance_pickup" and not carried_checked:  # nothing under way, a vehicle on board
            kept = (await client.post("/rebalancing/plan", headers=operator)).json()
            assert kept["crew_on_tour"] == 1 and kept["tasks"] == []
            carried_checked = True
    assert carried_checked
    for task in tasks:
        events = (await client.get(f"/vehicles/{task['vehicle_id']}/events", headers=operator)).json()["items"]
        types = [event["event_types"][0] for event in events]
        expected = {
            "battery_swap": "battery_charged",
            "rebalance_pickup": "rebalance_pick_up",
            "rebalance_dropoff": "provider_drop_off",
        }
        assert expected[task["kind"]] in types
    targets = (await client.get("/rebalancing/targets", headers=operator)).json()["areas"]
    assert sum(area["shortfall"] for area in targets) == plan["unmet_after"]
    swapped = list(await session.scalars(select(Vehicle).where(Vehicle.id.in_(flat))))
    assert all(v.state == "available" and v.battery_pct == 100 for v in swapped)
    receipts = (await client.get(f"/tasks/{first['id']}", headers=operator)).json()["receipts"]
    assert len(receipts) == 4  # assigned, en_route, arrived, done: each on the ledger


async def test_a_vehicle_a_rider_took_fails_its_pickup_and_its_dropoff_is_cancelled(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
) -> None:
    await _demo(session, clock)
    operator = await sign_in_demo(client, "operator")
    plan = (await client.post("/rebalancing/plan", headers=operator)).json()
    pickup = next(task for task in plan["tasks"] if task["kind"] == "rebalance_pickup")
    vehicle = await session.get(Vehicle, uuid.UUID(pickup["vehicle_id"]))
    assert vehicle is not None
    await record(session, vehicle, "reservation_start", now=clock.now())  # a rider reserved it meanwhile
    await session.commit()
    crew = await sign_in_demo(client, "valet03")
    for target in ("en_route", "arrived"):
        await step_task(client, pickup["id"], target, crew)
    refused = await client.post(f"/tasks/{pickup['id']}/state", json={"state": "done"}, headers=crew)
    assert refused.status_code == 409 and refused.json()["error"] == "invalid_vehicle_transition"
    failed = await client.post(
        f"/tasks/{pickup['id']}/state", json={"state": "failed", "reason": "reserved by a rider"}, headers=crew
    )
    assert failed.status_code == 200, failed.text
    dropoff = next(
        t for t in plan["tasks"] if t["kind"] == "rebalance_dropoff" and t["vehicle_id"] == pickup["vehicle_id"]
    )
    assert (await client.get(f"/tasks/{dropoff['id']}", headers=operator)).json()["state"] == "cancelled"
    taken = uuid.UUID(pickup["vehicle_id"])
    events = await session.scalars(select(VehicleEvent.event_types).where(VehicleEvent.vehicle_id == taken))
    assert not any("rebalance_pick_up" in types for types in events)


async def test_a_re_plan_cancels_the_tour_not_begun_on_the_ledger_after_the_solve(
    client: httpx.AsyncClient,
    session: AsyncSession,
    state: AppState,
    clock: FixedClock,
    solve_watch: SolveWatch,
) -> None:
    """The crew member has not set off: a re-plan cancels the tour and plans a new one. Both are on the ledger, but
    only once the solve is done (an append keeps the ledger's head locked to commit: a crew solve takes seconds)."""
    await _demo(session, clock)
    await _flatten(session, 3)
    operator = await sign_in_demo(client, "operator")
    old = (await client.post("/rebalancing/plan", headers=operator)).json()["tasks"]
    assert old
    state.solver_pool, before = solve_watch, appended()
    replanned = await client.post("/rebalancing/plan", headers=operator)
    assert replanned.status_code == 200, replanned.text
    new = replanned.json()["tasks"]
    assert solve_watch.appended_at_solves == [before]
    assert appended() == before + len(old) + len(new)
    for task in old:
        seen = (await client.get(f"/tasks/{task['id']}", headers=operator)).json()
        assert seen["state"] == "cancelled" and len(seen["receipts"]) == 2  # assigned, cancelled
