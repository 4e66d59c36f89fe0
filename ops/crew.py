"""The crews' rebalancing and battery-swap tours, on the live fleet: the database side of `ops/rebalance.py`.

Planning (`plan`, by an operator or the worker):
- The areas are the parking geofences in force; a vehicle belongs to the one that covers it. Targets come from the
  trip history by the documented rule (`ops.rebalance.targets_from_history`) for the Seoul hour the tours end in,
  on days of the same kind (weekday, or Saturday/Sunday).
- A tour once started is the crew member's until it is done: crew with a task under way or a vehicle on board keep
  their tour, and its vehicles are left out of the new plan. Every other crew member on shift gets a new tour; their
  tasks not yet started are cancelled and replaced (a re-plan replaces tours not yet started).
- Each tour is tasks in order: `rebalance_pickup` (at the vehicle; the area it goes to is its destination),
  `rebalance_dropoff` (at the area), `battery_swap` (at the vehicle).

Doing the tasks (`move`): the crew member steps each task assigned -> en_route -> arrived -> done, one at a time,
and each done task is one MDS event on the vehicle: a pickup `rebalance_pick_up` (the vehicle is removed), a dropoff
`provider_drop_off` at the area (available again), a swap `battery_charged` (battery 100%, available). A vehicle the
state machine no longer allows it for (a rider took it meanwhile) is a 409 `invalid_vehicle_transition`: the crew
member fails the task with a reason; failing a pickup cancels its dropoff.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from geoalchemy2 import Geometry
from sqlalchemy import cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from core.errors import InvalidInput
from core.settings import Settings
from geo.spatial import geography_point, latitude, longitude
from ledger import log as ledger
from mobility import repository as fleet_repository
from mobility.models import Geofence, GeofenceKind, Trip, Vehicle
from mobility.states import VehicleState
from mobility.vehicles import deploy, staff_action
from ops import repository
from ops.models import Skill, Task, TaskKind, TaskState
from ops.rebalance import (
    Action,
    Area,
    FleetVehicle,
    Score,
    Times,
    Tours,
    Values,
    Van,
    evaluate,
    plan_tours,
    supply,
    targets_from_history,
)
from ops.service import check_move, stamp, task_record
from ops.states import MOVABLE, OPEN, UNDER_WAY
from ops.valet import travel_times
from routing.pdptw import Infeasible, Search
from routing.travel import Point, TravelTimes

CREW_KINDS = (TaskKind.REBALANCE_PICKUP, TaskKind.REBALANCE_DROPOFF, TaskKind.BATTERY_SWAP)
PLANNING_LOCK = 0x6D6175_02  # one crew plan at a time
KIND_OF = {
    Action.PICKUP: TaskKind.REBALANCE_PICKUP,
    Action.DROPOFF: TaskKind.REBALANCE_DROPOFF,
    Action.SWAP: TaskKind.BATTERY_SWAP,
}


@dataclass(frozen=True, slots=True)
class CrewRules:
    van_capacity: int
    van_batteries: int
    times: Times
    values: Values
    tour: timedelta
    history_days: int
    reserve: int
    low_battery_pct: int
    time_limit_s: float
    timezone: ZoneInfo
    travel: TravelTimes

    @classmethod
    def from_settings(cls, settings: Settings) -> CrewRules:
        return cls(
            van_capacity=settings.crew_van_capacity,
            van_batteries=settings.crew_van_batteries,
            times=Times(settings.crew_pickup_seconds, settings.crew_dropoff_seconds, settings.crew_swap_seconds),
            values=Values(settings.rebalance_unit_value_s, settings.swap_value_s),
            tour=timedelta(minutes=settings.rebalance_tour_minutes),
            history_days=settings.rebalance_history_days,
            reserve=settings.rebalance_reserve,
            low_battery_pct=settings.battery_low_pct,
            time_limit_s=settings.rebalance_time_limit_s,
            timezone=ZoneInfo(settings.local_timezone),
            travel=travel_times(settings),
        )


@dataclass(frozen=True, slots=True)
class AreaTarget:
    geofence_id: uuid.UUID
    name: str
    type_code: str
    target: int
    supply: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The fleet as the planner sees it now, with the areas' names and ids beside the pure data."""

    areas: list[Area]
    area_ids: list[uuid.UUID]
    area_names: list[str]
    vehicles: list[FleetVehicle]
    hour: int

    def targets(self) -> list[AreaTarget]:
        have = supply(self.vehicles)
        return [
            AreaTarget(self.area_ids[a], self.area_names[a], type_code, target, have.get((a, type_code), 0))
            for a, area in enumerate(self.areas)
            for type_code, target in sorted(area.targets.items())
        ]


@dataclass(frozen=True, slots=True)
class CrewPlan:
    crew_planned: int  # crew members given a new tour
    crew_on_tour: int  # crew members who keep the tour they started
    tasks: list[Task]
    score: Score
    solve_s: float


def _weekend(day: datetime) -> bool:
    return day.weekday() >= 5


async def snapshot(session: AsyncSession, *, rules: CrewRules, now: datetime, busy: set[uuid.UUID]) -> Snapshot:
    """Areas with targets for the hour the tours end in, and every vehicle on the street not in a kept tour."""
    area_rows = (
        await session.execute(
            select(
                Geofence.id,
                Geofence.name,
                longitude(func.ST_PointOnSurface(Geofence.area)),
                latitude(func.ST_PointOnSurface(Geofence.area)),
            )
            .where(Geofence.kind == GeofenceKind.PARKING, fleet_repository.effective(now))
            .order_by(Geofence.name, Geofence.id)
        )
    ).all()
    index = {row[0]: a for a, row in enumerate(area_rows)}
    local_end = (now + rules.tour).astimezone(rules.timezone)
    hour = local_end.hour
    start = now - timedelta(days=rules.history_days)
    start_point = func.ST_SetSRID(func.ST_MakePoint(Trip.start_lon, Trip.start_lat), 4326)
    local_start = func.timezone(str(rules.timezone), Trip.started_at)
    history = await session.execute(
        select(Geofence.id, Trip.type_code, func.extract("isodow", local_start))
        .join(Geofence, func.ST_Covers(Geofence.area, start_point))
        .where(
            Geofence.kind == GeofenceKind.PARKING,
            fleet_repository.effective(now),
            Trip.started_at >= start,
            Trip.started_at < now,
            func.extract("hour", local_start) == hour,
        )
    )
    weekend = _weekend(local_end)
    starts = [
        (index[area_id], type_code, hour)
        for area_id, type_code, iso_day in history
        if area_id in index and (int(iso_day) >= 6) == weekend
    ]
    days = sum(1 for d in range(1, rules.history_days + 1) if _weekend(local_end - timedelta(days=d)) == weekend)
    targets = targets_from_history(starts, days=days, hour=hour, reserve=rules.reserve)
    rows = (
        await session.execute(
            select(
                Vehicle.id,
                Vehicle.type_code,
                Vehicle.state,
                Vehicle.battery_pct,
                longitude(Vehicle.location),
                latitude(Vehicle.location),
                select(Geofence.id)
                .where(
                    Geofence.kind == GeofenceKind.PARKING,
                    fleet_repository.effective(now),
                    func.ST_Covers(Geofence.area, cast(Vehicle.location, Geometry)),
                )
                .order_by(Geofence.name, Geofence.id)
                .limit(1)
                .scalar_subquery(),
            )
            .where(
                Vehicle.state.in_((VehicleState.AVAILABLE, VehicleState.NON_OPERATIONAL)),
                Vehicle.location.is_not(None),
            )
            .order_by(Vehicle.label)
        )
    ).all()
    types = sorted({row[1] for row in rows})
    areas = [
        Area(row[0], Point(row[2], row[3]), {t: targets.get((a, t), rules.reserve) for t in types})
        for a, row in enumerate(area_rows)
    ]
    vehicles = [
        FleetVehicle(
            vehicle_id=vehicle_id,
            type_code=type_code,
            at=Point(lon, lat),
            battery_pct=battery,
            area=index.get(area_id) if area_id is not None else None,
            usable=state == VehicleState.AVAILABLE and battery >= rules.low_battery_pct,
            flat=state == VehicleState.NON_OPERATIONAL and battery < rules.low_battery_pct,
        )
        for vehicle_id, type_code, state, battery, lon, lat, area_id in rows
        if vehicle_id not in busy
    ]
    return Snapshot(areas, [row[0] for row in area_rows], [row[1] for row in area_rows], vehicles, hour)


async def plan(session: AsyncSession, *, rules: CrewRules, pool: Executor | None, now: datetime) -> CrewPlan:
    """New tours for the crew on shift who are not on one; see the module's docstring."""
    await session.execute(select(func.pg_advisory_xact_lock(PLANNING_LOCK)))
    open_tasks = list(
        await session.scalars(select(Task).where(Task.kind.in_(CREW_KINDS), Task.state.in_(OPEN)).with_for_update())
    )
    staff_ids = list({task.staff_id for task in open_tasks if task.staff_id is not None})
    carrying = set(await repository.carrying(session, staff_ids))  # a vehicle in the van: its dropoff's pickup done
    on_tour = carrying | {task.staff_id for task in open_tasks if task.state in UNDER_WAY}
    kept = [task for task in open_tasks if task.staff_id in on_tour]
    cancelled = [task for task in open_tasks if task.staff_id not in on_tour]
    for task in cancelled:
        task.sequence = None
        stamp(task, TaskState.CANCELLED, now=now)
    crew = [member for member in await repository.on_shift(session, skill=Skill.CREW) if member.staff_id not in on_tour]
    seen = await snapshot(session, rules=rules, now=now, busy={t.vehicle_id for t in kept if t.vehicle_id})
    vans = [
        Van(
            staff_id=member.staff_id,
            at=Point(member.lon, member.lat),
            available_s=max(0.0, min(rules.tour, member.shift_end - now).total_seconds()),
            capacity=rules.van_capacity,
            batteries=rules.van_batteries,
        )
        for member in crew
    ]
    search = Search(time_limit_s=rules.time_limit_s)
    run = partial(plan_tours, seen.areas, seen.vehicles, vans, rules.travel, rules.times, rules.values, search)
    try:
        tours = run() if pool is None else await asyncio.get_running_loop().run_in_executor(pool, run)
    except Infeasible:  # nothing in time: no new tours this round
        tours = Tours(tuple(() for _ in vans), rules.time_limit_s)
    where = {vehicle.vehicle_id: vehicle for vehicle in seen.vehicles}
    made = []
    for van, route in zip(vans, tours.routes, strict=True):
        destination = {step.vehicle_id: step.area for step in route if step.action == Action.DROPOFF}
        pickup_of: dict[uuid.UUID, uuid.UUID] = {}  # vehicle -> its pickup task in this tour (the dropoff's first leg)
        for sequence, step in enumerate(route):
            vehicle = where[step.vehicle_id]
            goes_to = destination.get(step.vehicle_id)
            area = seen.areas[goes_to].at if goes_to is not None else None
            at = area if step.action == Action.DROPOFF and area is not None else vehicle.at
            if step.action == Action.PICKUP:
                pickup_of[step.vehicle_id] = uuid.uuid4()
            task = Task(
                id=pickup_of[step.vehicle_id] if step.action == Action.PICKUP else uuid.uuid4(),
                leg_of=pickup_of.get(step.vehicle_id) if step.action == Action.DROPOFF else None,
                kind=KIND_OF[step.action],
                state=TaskState.ASSIGNED,
                staff_id=van.staff_id,
                pinned=False,
                origin=geography_point(at.lon, at.lat),
                destination=geography_point(area.lon, area.lat)
                if step.action == Action.PICKUP and area is not None
                else None,
                sequence=sequence,
                eta_origin=now + timedelta(seconds=step.at_s),
                vehicle_id=step.vehicle_id,
                geofence_id=seen.area_ids[goes_to] if goes_to is not None and step.action != Action.SWAP else None,
                state_changed_at=now,
                assigned_at=now,
            )
            session.add(task)
            made.append(task)
    await session.flush()
    for task in made:
        await session.refresh(task)  # the row's server defaults (created_at), for the answer
    # on the ledger last, after the solve: an append holds the ledger's head until commit, and every other append
    # (every booking, every payment) waits for it
    await ledger.append(session, *(task_record(task, now=now) for task in (*cancelled, *made)))
    score = evaluate(seen.areas, seen.vehicles, tours, rules.times)
    return CrewPlan(len(vans), len(on_tour), made, score, tours.solve_s)


async def move(
    session: AsyncSession, *, actor: Actor, task: Task, target: TaskState, reason: str | None, now: datetime
) -> Task:
    """A crew member's step on a crew task (or an operator failing it); `task` read with a row lock
    (`ops.service.task_for`). A task done is its MDS event."""
    if target == TaskState.CANCELLED:
        raise InvalidInput("crew tasks are cancelled by re-planning, not by hand")
    await check_move(session, actor=actor, task=task, target=target, reason=reason)
    if target == TaskState.FAILED:
        task.failure_reason = reason
        if task.kind == TaskKind.REBALANCE_PICKUP:  # the vehicle was not taken: its dropoff cannot happen
            for dropoff in await session.scalars(
                select(Task)
                .where(
                    Task.kind == TaskKind.REBALANCE_DROPOFF,
                    Task.vehicle_id == task.vehicle_id,
                    Task.state.in_(MOVABLE),
                )
                .with_for_update()
            ):
                stamp(dropoff, TaskState.CANCELLED, now=now)
                await ledger.append(session, task_record(dropoff, now=now))
    elif target == TaskState.DONE and task.vehicle_id is not None:
        if task.kind == TaskKind.REBALANCE_PICKUP:
            await staff_action(session, task.vehicle_id, "rebalance", now=now)
        elif task.kind == TaskKind.REBALANCE_DROPOFF:
            lon, lat = (await repository.places_of(session, [task.id]))[task.id].origin
            await deploy(session, task.vehicle_id, lon=lon, lat=lat, now=now)
        else:
            await staff_action(session, task.vehicle_id, "charged", now=now)
    stamp(task, target, now=now)
    await session.flush()
    await ledger.append(session, task_record(task, now=now))
    return task
