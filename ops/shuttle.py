"""Pick-up rides ("마중"): in hours when few buses run, a van driver of the village enterprise carries residents between
two points of the village, several riders at once (a dial-a-ride service).

A ride is two tasks of the van driver: `ride_pickup` (at the rider's origin; its destination is where they go) and
`ride_dropoff` (at that destination; `leg_of` names the pickup). The pickup task's id is the ride's id.

Time windows: a rider asks for a pickup window, a drop-off window, or neither (an immediate ride: pickup from now to
`wait` minutes on). With the direct van time d between their stops and the longest ride R = factor x d:
- pickup window [a, b]: drop off within [a + d, b + R];
- drop-off window [a, b]: pickup within [max(now, a - R), b - d];
- every rider rides at most R (from boarding to alighting: the routing model's maximum ride time), and a van's route
  never outlasts its driver's shift.

Answering (`request`, within a second): the rider is inserted into the vans' routes in force where it adds the
fewest metres, every other rider's stops kept in order and on time (`routing.insertion`); if it fits nowhere, one
re-optimisation of every route with the new rider (OR-Tools, `dispatch_time_limit_s`) gets a last chance; else a
409 `no_staff_available` with the reason, and nothing is kept. The re-optimisation's objective is van metres plus
`time_value` metres per second of every stop's time from now: a plan that serves riders earlier keeps the vans free
for the riders still to come (on the benchmark's evenings, 5 m/s served more riders with shorter waits than metres
alone, which packs riders into long shared rides). The answer has the planned pickup time (the estimate)
and the drop-off. Every few minutes the worker (or an operator) re-optimises every route from the routes in force
(`reoptimise`), never dropping an accepted rider and never moving a stop under way.

Under way: the stop a driver is on the way to (or at) begins their route; riders on board (pickup done) are dropped
by their van, held to the drop-off window stored at request time (widened if the van is late: late, not refused).

By hand: an operator may give a ride to a driver on shift (`assign_by_hand`); later plans keep it with them (the
routing model's pinned vehicle) until they clock out.

Fare (billing): per rider, base fare + per km of the direct route, rounded up to 10 KRW; held at request, captured
whole for the village enterprise when the rider is dropped off, released if the ride fails. Cancelling is free until
the van is on the way to the rider, then the cancellation fee; once the van is at the stop the driver fails the
pickup (no-show, with a reason) instead. Every task state is on the ledger.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from billing.models import PaymentHold
from billing.wallet import Wallet
from core.errors import Forbidden, InvalidInput
from core.settings import Settings
from geo.spatial import geography_point
from ledger import log as ledger
from ops import repository
from ops.dispatch import Carrier, CarrierPlan, Dispatch, Job, Legs, Visit, insert_job, plan_carriers
from ops.errors import InvalidTaskTransition, NoStaffAvailable, TaskNotFound
from ops.models import Skill, Task, TaskKind, TaskState
from ops.service import check_move, reassign_check, refuse, release, stamp, task_for, task_record
from ops.states import MOVABLE, OPEN, UNDER_WAY
from ops.valet import FEE_SHARES, HOLD_AFTER, seconds_from, travel_times
from routing.pdptw import Infeasible, Search
from routing.travel import Mode, Point, TravelTimes

RIDE_KINDS = (TaskKind.RIDE_PICKUP, TaskKind.RIDE_DROPOFF)
LEGS = Legs(empty=Mode.VAN, loaded=Mode.VAN)
PLANNING_LOCK = 0x6D6175_03  # one shuttle plan at a time
ACCEPTED_PENALTY_M = 1_000_000.0  # an accepted rider is never dropped for a new one
NEW_PENALTY_M = 100_000.0
FAR_S = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class ShuttleRules:
    seats: int
    max_ride_factor: float
    boarding_s: float
    wait: timedelta
    base_fare_krw: int
    per_km_krw: int
    cancel_fee_krw: int
    answer_time_limit_s: float
    reoptimise_time_limit_s: float
    time_value: float
    travel: TravelTimes

    @classmethod
    def from_settings(cls, settings: Settings) -> ShuttleRules:
        return cls(
            seats=settings.shuttle_seats,
            max_ride_factor=settings.shuttle_max_ride_factor,
            boarding_s=settings.shuttle_boarding_seconds,
            wait=timedelta(minutes=settings.shuttle_wait_minutes),
            base_fare_krw=settings.shuttle_base_fare_krw,
            per_km_krw=settings.shuttle_per_km_krw,
            cancel_fee_krw=settings.shuttle_cancel_fee_krw,
            answer_time_limit_s=settings.dispatch_time_limit_s,
            reoptimise_time_limit_s=settings.shuttle_reoptimise_time_limit_s,
            time_value=settings.shuttle_time_value_m_per_s,
            travel=travel_times(settings),
        )

    def dispatch(self, carriers: Sequence[Carrier], jobs: Sequence[Job]) -> Dispatch:
        """The vans' planning data: van travel both ways, seats, boarding time, stops served early."""
        return Dispatch(carriers, jobs, self.travel, LEGS, self.boarding_s, self.seats, self.time_value)

    def fare(self, direct_m: float, passengers: int) -> int:
        """Per rider: base + per km of the direct route; rounded up to 10 KRW."""
        each = self.base_fare_krw + self.per_km_krw * direct_m / 1000
        return int(math.ceil(passengers * each / 10) * 10)


@dataclass(frozen=True, slots=True)
class Windows:
    pickup: tuple[datetime, datetime]
    dropoff: tuple[datetime, datetime]


def windows(
    *,
    now: datetime,
    direct: timedelta,
    rules: ShuttleRules,
    pickup: tuple[datetime, datetime] | None,
    dropoff: tuple[datetime, datetime] | None,
) -> Windows:
    """Both ends' windows from the one the rider gave (see the module's docstring); 422 when they cannot be met."""
    longest = direct * rules.max_ride_factor
    if pickup is not None and dropoff is not None:
        raise InvalidInput("give a pickup window or a drop-off window, not both")
    for what, window in (("pickup", pickup), ("drop-off", dropoff)):
        if window is not None and window[1] <= window[0]:
            raise InvalidInput(f"the {what} window must end after it starts")
        if window is not None and window[1] <= now:
            raise InvalidInput(f"the {what} window has already closed")
    if dropoff is not None:
        earliest, latest = max(now, dropoff[0] - longest), dropoff[1] - direct
        if latest <= now:
            raise InvalidInput(
                "the drop-off window closes too soon: the direct ride alone takes "
                f"{math.ceil(direct.total_seconds() / 60)} minutes"
            )
        return Windows((earliest, latest), dropoff)
    opens, closes = pickup if pickup is not None else (now, now + rules.wait)
    return Windows((max(now, opens), closes), (max(now, opens) + direct, closes + longest))


# ---------------------------------------------------------------- the vans' routes in force


@dataclass(frozen=True, slots=True)
class Live:
    """The open rides as the planner sees them: carriers (drivers on shift), jobs, the routes in force, and the tasks
    behind each stop."""

    dispatch: Dispatch
    current: list[list[Visit]]
    task_of: dict[Visit, Task]
    drivers: list[uuid.UUID]


async def _live(
    session: AsyncSession,
    *,
    rules: ShuttleRules,
    now: datetime,
    new: Task | None = None,
    new_dropoff: Task | None = None,
) -> Live:
    tasks = list(
        await session.scalars(
            select(Task)
            .where(Task.kind.in_(RIDE_KINDS), Task.state.in_(OPEN))
            .order_by(Task.sequence.nulls_last(), Task.created_at, Task.id)
            .with_for_update()
        )
    )
    pickups = {task.id: task for task in tasks if task.kind == TaskKind.RIDE_PICKUP}
    dropoffs = {task.leg_of: task for task in tasks if task.kind == TaskKind.RIDE_DROPOFF and task.leg_of}
    boarded = set(dropoffs) - set(pickups)  # a drop-off open, its pickup done: the rider is on board
    places = await repository.places_of(session, [task.id for task in tasks])
    staff = await repository.on_shift(session, skill=Skill.DRIVER)
    index = {member.staff_id: c for c, member in enumerate(staff)}
    task_of: dict[Visit, Task] = {(job_id, False): task for job_id, task in pickups.items()}
    task_of |= {(job_id, True): task for job_id, task in dropoffs.items()}
    current: list[list[Visit]] = [[] for _ in staff]
    order = sorted(task_of.items(), key=lambda item: (item[1].state not in UNDER_WAY, item[1].sequence or 0))
    for visit, task in order:
        if task.staff_id in index and task.state != TaskState.UNASSIGNED:
            current[index[task.staff_id]].append(visit)
    carriers = []
    for c, member in enumerate(staff):
        route = current[c]
        first = tuple(visit for visit in route[:1] if task_of[visit].state in UNDER_WAY)
        on_board = tuple(job_id for job_id, at_destination in route if at_destination and job_id in boarded)
        carriers.append(
            Carrier(
                staff_id=member.staff_id,
                at=Point(member.lon, member.lat),
                available_s=max(0.0, (member.shift_end - now).total_seconds()),
                first=first,
                on_board=on_board,
            )
        )
    jobs = []
    for job_id in [*pickups, *boarded]:
        dropoff = dropoffs.get(job_id)
        if dropoff is None:
            continue  # a pickup without its drop-off cannot be (they are made and closed together)
        pickup = pickups.get(job_id)
        driver = dropoff.staff_id
        under_way = job_id in boarded or (pickup is not None and pickup.state in UNDER_WAY)
        if under_way and driver not in index:
            continue  # its driver clocked out or has no position: shown on the board, not planned
        origin = places[job_id].origin if job_id in places else places[dropoff.id].origin  # on board: unused
        jobs.append(
            Job(
                job_id=job_id,
                origin=Point(*origin),
                destination=Point(*places[dropoff.id].origin),
                origin_window=(
                    seconds_from(now, pickup.origin_from, 0.0) if pickup else 0.0,
                    seconds_from(now, pickup.origin_by, FAR_S) if pickup else FAR_S,
                ),
                destination_window=(
                    seconds_from(now, dropoff.origin_from, 0.0),
                    seconds_from(now, dropoff.origin_by, FAR_S),
                ),
                penalty=None if under_way else NEW_PENALTY_M if pickup is new else ACCEPTED_PENALTY_M,
                carrier=index.get(driver) if (under_way or dropoff.pinned) and driver is not None else None,
                load=dropoff.passengers or 1,
                max_ride_factor=rules.max_ride_factor,
            )
        )
    dispatch = rules.dispatch(carriers, jobs)
    return Live(dispatch, current, task_of, [member.staff_id for member in staff])


def _apply(live: Live, plan: CarrierPlan, *, now: datetime) -> None:
    """The plan's order and times onto the tasks; a task that moved to another driver is assigned anew."""
    for driver, route in zip(live.drivers, plan.routes, strict=True):
        arrivals = {stop.job_id: stop.at_s for stop in route if stop.at_destination}
        for sequence, stop in enumerate(route):
            task = live.task_of[(stop.job_id, stop.at_destination)]
            task.sequence = sequence
            task.eta_origin = now + timedelta(seconds=stop.at_s)
            if not stop.at_destination:  # the ride's pickup shows when the rider gets there too (same van, later)
                task.eta_destination = now + timedelta(seconds=arrivals[stop.job_id])
            if task.state in MOVABLE and task.staff_id != driver:
                task.staff_id, task.pinned = driver, False
                stamp(task, TaskState.ASSIGNED, now=now)
    for job_id in plan.unserved:
        for visit in ((job_id, False), (job_id, True)):
            left = live.task_of.get(visit)
            if left is not None and left.state == TaskState.ASSIGNED:
                release(left, now=now)


async def _run(pool: Executor | None, work: Callable[[], CarrierPlan | None]) -> CarrierPlan | None:
    return work() if pool is None else await asyncio.get_running_loop().run_in_executor(pool, work)


@dataclass(frozen=True, slots=True)
class ShuttlePlan:
    drivers_on_shift: int
    planned: int  # rides in someone's route
    unserved: frozenset[uuid.UUID]
    solve_s: float


async def reoptimise(
    session: AsyncSession, *, rules: ShuttleRules, pool: Executor | None, now: datetime
) -> ShuttlePlan:
    """Re-optimise every van's route from the routes in force (OR-Tools; never worse than them, never dropping an
    accepted rider while it can be served, stops under way kept)."""
    await session.execute(select(func.pg_advisory_xact_lock(PLANNING_LOCK)))
    live = await _live(session, rules=rules, now=now)
    search = Search(time_limit_s=rules.reoptimise_time_limit_s)
    try:
        plan = await _run(pool, partial(plan_carriers, live.dispatch, search, live.current))
    except Infeasible:  # nothing in time: the routes in force stay
        plan = None
    if plan is None:
        return ShuttlePlan(len(live.drivers), 0, frozenset(), rules.reoptimise_time_limit_s)
    _apply(live, plan, now=now)
    await session.flush()
    planned = {stop.job_id for route in plan.routes for stop in route}
    return ShuttlePlan(len(live.drivers), len(planned), plan.unserved, plan.solve_s)


async def assign_by_hand(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    staff_id: uuid.UUID,
    rules: ShuttleRules,
    pool: Executor | None,
    now: datetime,
) -> Task:
    """An operator gives a ride (either of its two tasks names it) to a van driver on shift; later plans keep it with
    them. Refused (409 `no_staff_available`, nothing changed) when that driver cannot fit it without breaking a window
    or another rider's ride; a ride whose van is on the way, or whose rider is on board, is not moved (409)."""
    await session.execute(select(func.pg_advisory_xact_lock(PLANNING_LOCK)))
    task = await session.get(Task, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise TaskNotFound(f"task {task_id} not found")
    if task.kind not in RIDE_KINDS:
        raise InvalidInput(f"task {task_id} is not a pick-up ride")
    ride_id = task.id if task.kind == TaskKind.RIDE_PICKUP else task.leg_of
    pickup = task if task.id == ride_id else await session.get(Task, ride_id, with_for_update=True)
    dropoff = await session.scalar(
        select(Task).where(Task.leg_of == ride_id, Task.kind == TaskKind.RIDE_DROPOFF).with_for_update()
    )
    assert pickup is not None and dropoff is not None  # made together
    refuse(pickup, "reassign", MOVABLE)
    await reassign_check(session, staff_id=staff_id, skill=Skill.DRIVER)
    for leg in (pickup, dropoff):
        if leg.staff_id != staff_id:
            leg.staff_id = staff_id
            stamp(leg, TaskState.ASSIGNED, now=now)
        leg.pinned = True
    await session.flush()
    live = await _live(session, rules=rules, now=now)
    search = Search(time_limit_s=rules.answer_time_limit_s)
    try:
        plan = await _run(pool, partial(plan_carriers, live.dispatch, search, live.current))
    except Infeasible:
        plan = None
    if plan is None or ride_id in plan.unserved:
        raise NoStaffAvailable(
            "that driver cannot pick the rider up in their window without breaking another rider's ride",
            extra={"drivers_on_shift": len(live.drivers)},
        )
    _apply(live, plan, now=now)
    await session.flush()
    return task


# ---------------------------------------------------------------- riders


@dataclass(frozen=True, slots=True)
class Ride:
    pickup: Task
    dropoff: Task
    fare_krw: int  # held, or charged once dropped off


async def ride_of(session: AsyncSession, *, actor: Actor, ride_id: uuid.UUID, lock: bool = False) -> Ride:
    """A ride by its id (its pickup task's), for its rider, its driver and operators."""
    pickup = await task_for(session, actor=actor, task_id=ride_id, lock=lock)
    if pickup.kind != TaskKind.RIDE_PICKUP:
        raise InvalidInput(f"task {ride_id} is not a pick-up ride")
    query = select(Task).where(Task.leg_of == pickup.id, Task.kind == TaskKind.RIDE_DROPOFF)
    dropoff = await session.scalar(query.with_for_update() if lock else query)
    assert dropoff is not None  # made with its pickup
    held = await session.get(PaymentHold, pickup.hold_id) if pickup.hold_id is not None else None
    return Ride(pickup, dropoff, pickup.fee_krw if pickup.fee_krw is not None else held.amount_krw if held else 0)


async def request(
    session: AsyncSession,
    *,
    rider: Actor,
    origin: Point,
    destination: Point,
    passengers: int,
    pickup: tuple[datetime, datetime] | None,
    dropoff: tuple[datetime, datetime] | None,
    rules: ShuttleRules,
    pool: Executor | None,
    now: datetime,
) -> Ride:
    """Plan a ride into the vans' day at once, or refuse it (409 `no_staff_available`, nothing kept)."""
    if passengers > rules.seats:
        raise InvalidInput(f"a van seats {rules.seats} riders", extra={"seats": rules.seats})
    table = await asyncio.to_thread(rules.travel.table, [origin, destination], Mode.VAN)
    direct_m, direct_s = table.metres[0][1], table.seconds[0][1]
    if not math.isfinite(direct_s):
        raise InvalidInput("no road joins these two points")
    if direct_m < 50:
        raise InvalidInput("the two points are less than 50 m apart: walk", extra={"metres": round(direct_m)})
    when = windows(now=now, direct=timedelta(seconds=direct_s), rules=rules, pickup=pickup, dropoff=dropoff)
    fare = rules.fare(direct_m, passengers)
    await session.execute(select(func.pg_advisory_xact_lock(PLANNING_LOCK)))
    ride_id = uuid.uuid4()
    wallet = Wallet()
    if fare:
        await wallet.can_hold(session, driver_id=rider.id, amount=fare)
    common = dict(state=TaskState.UNASSIGNED, pinned=False, requested_by=rider.id, state_changed_at=now)
    first = Task(
        id=ride_id,
        kind=TaskKind.RIDE_PICKUP,
        origin=geography_point(origin.lon, origin.lat),
        destination=geography_point(destination.lon, destination.lat),
        origin_from=when.pickup[0],
        origin_by=when.pickup[1],
        destination_from=when.dropoff[0],
        destination_by=when.dropoff[1],
        passengers=passengers,
        **common,
    )
    second = Task(
        kind=TaskKind.RIDE_DROPOFF,
        origin=geography_point(destination.lon, destination.lat),
        origin_from=when.dropoff[0],
        origin_by=when.dropoff[1],
        leg_of=ride_id,
        passengers=passengers,
        **common,
    )
    session.add_all([first, second])
    await session.flush()
    live = await _live(session, rules=rules, now=now, new=first)
    current = [[visit for visit in route if visit[0] != ride_id] for route in live.current]
    times = [[seconds_from(now, live.task_of[visit].eta_origin, 0.0) for visit in route] for route in current]
    plan = await _run(pool, partial(insert_job, live.dispatch, current, times, ride_id))
    if plan is None and live.drivers:  # fits nowhere as the routes stand: one re-optimisation with the rider in
        search = Search(time_limit_s=rules.answer_time_limit_s)
        try:
            plan = await _run(pool, partial(plan_carriers, live.dispatch, search, current))
        except Infeasible:
            plan = None
    if plan is None or ride_id in plan.unserved:
        raise NoStaffAvailable(
            "no van driver is on shift"
            if not live.drivers
            else "no van can pick you up in your window without breaking another rider's ride",
            extra={"drivers_on_shift": len(live.drivers)},
        )
    _apply(live, plan, now=now)
    if fare:  # the hold and the entries after the solve: they append to the ledger, whose head stays locked to commit
        hold = await wallet.hold(
            session,
            driver_id=rider.id,
            amount=fare,
            booking_id=None,
            expires_at=when.dropoff[1] + HOLD_AFTER,
            now=now,
        )
        first.hold_id = hold.id
    await session.flush()
    for task in (first, second):
        await session.refresh(task)
    await ledger.append(session, *(task_record(task, now=now) for task in (first, second)))
    return Ride(first, second, fare)


async def _settle(session: AsyncSession, pickup: Task, amount: int, *, now: datetime) -> None:
    wallet = Wallet()
    if pickup.hold_id is not None:
        if amount:
            await wallet.capture(session, hold_id=pickup.hold_id, amount=amount, shares=FEE_SHARES, now=now)
        await wallet.release(session, hold_id=pickup.hold_id, now=now)
    pickup.fee_krw = amount


async def _close(session: AsyncSession, task: Task, target: TaskState, *, now: datetime) -> None:
    task.sequence = None
    stamp(task, target, now=now)
    await session.flush()
    await ledger.append(session, task_record(task, now=now))


async def move(
    session: AsyncSession, *, actor: Actor, task: Task, target: TaskState, reason: str | None, now: datetime
) -> Task:
    """A van driver's step on a ride task (or an operator failing it); `task` read with a row lock. A pickup done:
    the rider is on board; a drop-off done: the fare is charged. A drop-off is not set off for before its rider is
    on board. Failing a pickup (a no-show) cancels its drop-off and releases the fare; failing a drop-off releases
    it too."""
    if target == TaskState.CANCELLED:
        raise InvalidInput("riders cancel with DELETE on the ride")
    await check_move(session, actor=actor, task=task, target=target, reason=reason)
    ride = await ride_of(session, actor=actor, ride_id=task.leg_of or task.id, lock=True)
    if task.kind == TaskKind.RIDE_DROPOFF and target != TaskState.FAILED and ride.pickup.state != TaskState.DONE:
        raise InvalidTaskTransition(
            "the rider is not on board yet: pick them up first",
            extra={"state": task.state, "task_ids": [str(ride.pickup.id)]},
        )
    if target == TaskState.FAILED:
        task.failure_reason = reason
        await _settle(session, ride.pickup, 0, now=now)
        if task.kind == TaskKind.RIDE_PICKUP and ride.dropoff.state in OPEN:
            await _close(session, ride.dropoff, TaskState.CANCELLED, now=now)
    elif target == TaskState.DONE and task.kind == TaskKind.RIDE_DROPOFF:
        await _settle(session, ride.pickup, ride.fare_krw, now=now)  # the fare held (ride_of read it)
        await ledger.append(session, task_record(ride.pickup, now=now))  # the ride's fare, on the ride's subject
    stamp(task, target, now=now)
    await session.flush()
    await ledger.append(session, task_record(task, now=now))
    return task


async def cancel(
    session: AsyncSession, *, actor: Actor, ride_id: uuid.UUID, rules: ShuttleRules, now: datetime
) -> Ride:
    """The rider (or an operator) cancels: free until the van is on the way to them, then the cancellation fee; once
    the van is at the stop or the rider on board, 409."""
    ride = await ride_of(session, actor=actor, ride_id=ride_id, lock=True)
    if not (actor.is_operator or actor.id == ride.pickup.requested_by):
        raise Forbidden("only the rider or an operator may cancel a ride")
    await check_move(session, actor=actor, task=ride.pickup, target=TaskState.CANCELLED)
    fee = min(rules.cancel_fee_krw, ride.fare_krw) if ride.pickup.state == TaskState.EN_ROUTE else 0
    await _settle(session, ride.pickup, fee, now=now)
    await _close(session, ride.pickup, TaskState.CANCELLED, now=now)
    await _close(session, ride.dropoff, TaskState.CANCELLED, now=now)
    return Ride(ride.pickup, ride.dropoff, fee)


async def my_rides(session: AsyncSession, *, rider: uuid.UUID, limit: int, offset: int) -> Sequence[Task]:
    rows = await session.scalars(
        select(Task)
        .where(Task.kind == TaskKind.RIDE_PICKUP, Task.requested_by == rider)
        .order_by(Task.created_at.desc(), Task.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows)
