"""Valet parking on demand: a valet takes a resident's car from home to a shared slot matched by parking's matching
(`valet_pickup`), or from its slot back home (`valet_return`). Each request is planned into a live day at once.

Planning (`plan`) builds one pickup-and-delivery problem (`routing`) from every open valet task and every valet on
shift, and solves it with OR-Tools in the solver pool:
- A valet starts where the staff app last reported them, now (time 0, seconds), and must finish by their shift's end.
  Routes end wherever the last car is left (a free end node, zero time from anywhere).
- Capacity 1: a valet carries one car. From a pickup the valet drives the car (car speed); every other leg is on a
  shared e-scooter (scooter speed). `handover` minutes are spent at each end (keys, photos, parking).
- A task under way is never moved: `en_route` stays first in its valet's route; `arrived` (the car in the valet's
  hands) is on board and delivered by that valet; their windows are relaxed (they are late, not refused).
- A task assigned by hand stays with its valet (`Pair.vehicle`).
- Objective: metres travelled; an accepted request left out costs 1,000 km, the new one 100 km, so a plan never
  drops an accepted request for a new one, and refuses the new one only when no valet can serve it in its windows.
The request is answered with the plan's estimated times, or refused (409 `no_staff_available`) with a reason, and
nothing of it is kept: the booking, the fee hold and the task roll back together.

Money: the valet fee is held when a request is accepted, captured (the village enterprise's, whole) when the car is
delivered, and released if the task fails. Cancelling is free until the valet is on the way, then costs the
cancellation fee; cancelling a `valet_pickup` also cancels its parking booking under parking's own policy.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Role
from billing import journal
from billing.wallet import Wallet
from core.errors import Forbidden, InvalidInput
from core.settings import Settings
from geo.spatial import geography_point
from ledger import log as ledger
from ops import repository
from ops.dispatch import Carrier, CarrierPlan, Dispatch, Job, Legs, plan_carriers
from ops.errors import BookingNotParked, InvalidTaskTransition, NoStaffAvailable, TaskNotFound
from ops.models import Skill, Task, TaskKind, TaskState
from ops.service import check_move, reassign_check, refuse, release, stamp, task_for, task_record
from ops.states import MOVABLE, UNDER_WAY
from parking import allocation
from parking import service as parking
from parking.models import BookingStatus, SlotSize
from parking.policy import BookingPolicy
from routing.pdptw import Infeasible, Search
from routing.travel import Mode, OsrmTable, Point, StraightLine, TravelTimes

VALET_KINDS = (TaskKind.VALET_PICKUP, TaskKind.VALET_RETURN)
ACCEPTED_PENALTY_M = 1_000_000.0
NEW_PENALTY_M = 100_000.0
PLANNING_LOCK = 0x6D6175_01  # one valet plan at a time (a transaction-level advisory lock)
FEE_SHARES = {journal.ENTERPRISE: 10_000}
HOLD_AFTER = timedelta(days=1)  # a fee hold outlives the task's last window by this
LEGS = Legs(empty=Mode.SCOOTER, loaded=Mode.CAR)  # a valet rides a shared e-scooter to a car, then drives it


def seconds_from(now: datetime, at: datetime | None, default: float) -> float:
    """A time as seconds from now in a plan (never before now); `default` when there is none."""
    return default if at is None else max(0.0, (at - now).total_seconds())


def travel_times(settings: Settings) -> TravelTimes:
    """An OSRM server's table API when `MAEUL_OSRM_URL` is set, else straight line x the detour factor."""
    if settings.osrm_url:
        return OsrmTable(settings.osrm_url)
    return StraightLine(detour=settings.travel_detour_factor)


@dataclass(frozen=True, slots=True)
class ValetRules:
    fee_krw: int
    cancel_fee_krw: int
    reach_m: int
    handover: timedelta
    time_limit_s: float
    travel: TravelTimes

    @classmethod
    def from_settings(cls, settings: Settings) -> ValetRules:
        return cls(
            fee_krw=settings.valet_fee_krw,
            cancel_fee_krw=settings.valet_cancel_fee_krw,
            reach_m=settings.valet_reach_m,
            handover=timedelta(minutes=settings.valet_handover_minutes),
            time_limit_s=settings.dispatch_time_limit_s,
            travel=travel_times(settings),
        )


# ---------------------------------------------------------------- requests and planning


async def plan(
    session: AsyncSession, *, rules: ValetRules, pool: Executor | None, now: datetime, insist: Task | None = None
) -> CarrierPlan:
    """Re-plan every open valet task over the valets on shift, now. `insist`: the task this planning is for (a new
    request, or one assigned by hand): if the plan cannot serve it, `NoStaffAvailable` is raised."""
    await session.execute(select(func.pg_advisory_xact_lock(PLANNING_LOCK)))
    tasks = list(
        await session.scalars(
            select(Task)
            .where(Task.kind.in_(VALET_KINDS), Task.state.in_((*MOVABLE, *UNDER_WAY)))
            .order_by(Task.created_at, Task.id)
            .with_for_update()
        )
    )
    places = await repository.places_of(session, [task.id for task in tasks])
    staff = await repository.on_shift(session, skill=Skill.VALET)
    index = {member.staff_id: v for v, member in enumerate(staff)}
    under_way = {task.staff_id: task for task in tasks if task.state in UNDER_WAY}
    valets = []
    for member in staff:
        busy = under_way.get(member.staff_id)
        valets.append(
            Carrier(
                staff_id=member.staff_id,
                at=Point(member.lon, member.lat),
                available_s=None if busy else max(0.0, (member.shift_end - now).total_seconds()),
                first=((busy.id, False),) if busy is not None and busy.state == TaskState.EN_ROUTE else (),
                on_board=(busy.id,) if busy is not None and busy.state == TaskState.ARRIVED else (),
            )
        )
    far = 7 * 24 * 3600.0
    jobs = []
    for task in tasks:
        where = places[task.id]
        assert where.destination is not None  # valet tasks always carry a car somewhere
        if task.state in UNDER_WAY and task.staff_id not in index:
            continue  # its valet has no known position: kept as it is, shown on the board
        relaxed = task.state in UNDER_WAY
        jobs.append(
            Job(
                job_id=task.id,
                origin=Point(*where.origin),
                destination=Point(*where.destination),
                origin_window=(0.0, far)
                if relaxed
                else (seconds_from(now, task.origin_from, 0.0), seconds_from(now, task.origin_by, far)),
                destination_window=(0.0, far)
                if relaxed
                else (seconds_from(now, task.destination_from, 0.0), seconds_from(now, task.destination_by, far)),
                penalty=None if relaxed else NEW_PENALTY_M if task is insist else ACCEPTED_PENALTY_M,
                carrier=index.get(task.staff_id) if task.pinned and task.staff_id is not None else None,
            )
        )
    dispatch = Dispatch(valets, jobs, rules.travel, LEGS, rules.handover.total_seconds(), capacity=1)
    run = partial(plan_carriers, dispatch, Search(time_limit_s=rules.time_limit_s))
    try:
        result = run() if pool is None else await asyncio.get_running_loop().run_in_executor(pool, run)
    except Infeasible as error:  # nothing found in time: the plan in force stays
        if insist is not None:
            raise NoStaffAvailable(f"no plan was found in {rules.time_limit_s:g} s; try again") from error
        return CarrierPlan(tuple(() for _ in valets), frozenset(), rules.time_limit_s)
    by_id = {task.id: task for task in tasks}
    if insist is not None and insist.id in result.unserved:
        raise NoStaffAvailable(
            "no valet is on shift" if not valets else "no valet on shift can do it within its time windows",
            extra={"valets_on_shift": len(valets)},
        )
    for valet, route in zip(valets, result.routes, strict=True):
        sequence = 0
        for stop in route:
            task = by_id[stop.job_id]
            at = now + timedelta(seconds=stop.at_s)
            if stop.at_destination:
                task.eta_destination = at
                if task.state == TaskState.ARRIVED:
                    task.sequence = sequence
                    sequence += 1
                continue
            task.eta_origin = at
            task.sequence = sequence
            sequence += 1
            if task.state in MOVABLE and task.staff_id != valet.staff_id:  # a pinned task moves only if its valet left
                task.staff_id, task.pinned = valet.staff_id, False
                stamp(task, TaskState.ASSIGNED, now=now)
    for task_id in result.unserved:
        task = by_id[task_id]
        if task.state == TaskState.ASSIGNED:
            release(task, now=now)
    await session.flush()
    return result


async def _accept(
    session: AsyncSession, task: Task, *, rules: ValetRules, pool: Executor | None, now: datetime
) -> Task:
    """Plan the task in (or refuse it), hold the fee, and record it."""
    await _plan_in(session, task, rules=rules, pool=pool, now=now)
    return await _hold_and_record(session, task, rules=rules, now=now)


async def _plan_in(
    session: AsyncSession, task: Task, *, rules: ValetRules, pool: Executor | None, now: datetime
) -> None:
    """Refuse a resident who cannot pay the fee (402), then plan the task into the valets' day (or refuse it, 409)."""
    assert task.requested_by is not None
    await Wallet().can_hold(session, driver_id=task.requested_by, amount=rules.fee_krw)
    session.add(task)
    await session.flush()
    await plan(session, rules=rules, pool=pool, now=now, insist=task)


async def _hold_and_record(session: AsyncSession, task: Task, *, rules: ValetRules, now: datetime) -> Task:
    """Hold the fee and put the task on the ledger, after every solve of the request: an append keeps the ledger's
    head locked to commit, and every other append in the system waits for it."""
    assert task.requested_by is not None
    hold = await Wallet().hold(
        session,
        driver_id=task.requested_by,
        amount=rules.fee_krw,
        booking_id=None,
        expires_at=(task.destination_by or task.origin_by or now) + HOLD_AFTER,
        now=now,
    )
    task.hold_id = hold.id
    await session.flush()
    await ledger.append(session, task_record(task, now=now))
    return task


def _task(kind: TaskKind, *, requester: Actor, now: datetime, **fields: object) -> Task:
    return Task(
        kind=kind, state=TaskState.UNASSIGNED, pinned=False, requested_by=requester.id, state_changed_at=now, **fields
    )


def _check_window(earliest: datetime, latest: datetime, *, now: datetime, what: str) -> None:
    if latest <= earliest:
        raise InvalidInput(f"the {what} window must end after it starts")
    if latest <= now:
        raise InvalidInput(f"the {what} window has already closed")


async def request_parking(
    session: AsyncSession,
    *,
    resident: Actor,
    home: Point,
    vehicle_plate: str,
    pickup_from: datetime,
    pickup_by: datetime,
    park_until: datetime,
    needs_ev: bool,
    vehicle_size: SlotSize,
    rules: ValetRules,
    policy: BookingPolicy,
    solving: allocation.Solving,
    pool: Executor | None,
    now: datetime,
) -> Task:
    """A valet takes the car from `home` in [pickup_from, pickup_by] and parks it in a slot matched now and booked
    from `pickup_from` to `park_until` (the booking is the resident's, priced and held like any other). The valet
    is planned on each slot matched before it is booked, so no solve waits behind the booking's ledger entry."""
    _check_window(pickup_from, pickup_by, now=now, what="pickup")
    if park_until <= pickup_by:
        raise InvalidInput("park_until must be after the pickup window")
    start = max(pickup_from, now)
    need = allocation.Need(
        lon=home.lon,
        lat=home.lat,
        start=start,
        end=park_until,
        max_walk_m=rules.reach_m,
        needs_ev=needs_ev,
        needs_accessible=False,
        vehicle_size=vehicle_size,
        vehicle_plate=vehicle_plate,
    )
    task = _task(
        TaskKind.VALET_PICKUP,
        requester=resident,
        now=now,
        origin=geography_point(home.lon, home.lat),
        origin_from=start,
        origin_by=pickup_by,
        destination_by=start + policy.no_show_grace,  # parked and checked in before the booking is a no-show
    )

    async def plan_to(slot_id: uuid.UUID) -> None:  # the valet's solve, before the booking's ledger entry
        slot = await parking.get_slot(session, slot_id)
        task.destination = geography_point(slot.lon, slot.lat)
        await _plan_in(session, task, rules=rules, pool=pool, now=now)

    instant = await allocation.book_instant(
        session, driver=resident, need=need, policy=policy, solving=solving, now=now, before_booking=plan_to
    )
    booking = instant.booking.booking
    task.booking_id, task.vehicle_plate = booking.id, booking.vehicle_plate
    return await _hold_and_record(session, task, rules=rules, now=now)


async def request_return(
    session: AsyncSession,
    *,
    resident: Actor,
    booking_id: uuid.UUID,
    home: Point,
    deliver_from: datetime,
    deliver_by: datetime,
    rules: ValetRules,
    policy: BookingPolicy,
    pool: Executor | None,
    now: datetime,
) -> Task:
    """A valet fetches the car parked under `booking_id` (checked in) and brings it to `home` in [deliver_from,
    deliver_by]; taking the car checks the booking out (parking charges as usual)."""
    _check_window(deliver_from, deliver_by, now=now, what="delivery")
    row = await parking.get_booking(session, actor=resident, booking_id=booking_id, policy=policy, now=now)
    if row.booking.driver_id != resident.id:
        raise Forbidden("only the driver of the booking may ask for the car back")
    if row.booking.status not in (BookingStatus.ACTIVE, BookingStatus.OVERSTAYED):
        raise BookingNotParked(
            f"the car of booking {booking_id} is not parked (the booking is {row.booking.status})",
            extra={"status": row.booking.status},
        )
    pending = await session.scalar(
        select(Task.id).where(
            Task.booking_id == booking_id, Task.kind == TaskKind.VALET_RETURN, Task.state.in_((*MOVABLE, *UNDER_WAY))
        )
    )
    if pending is not None:
        raise BookingNotParked("a valet is already bringing this car back", extra={"task_id": str(pending)})
    slot = await parking.get_slot(session, row.booking.slot_id)
    task = _task(
        TaskKind.VALET_RETURN,
        requester=resident,
        now=now,
        origin=geography_point(slot.lon, slot.lat),
        destination=geography_point(home.lon, home.lat),
        origin_by=deliver_by,
        destination_from=deliver_from,
        destination_by=deliver_by,
        booking_id=booking_id,
        vehicle_plate=row.booking.vehicle_plate,
    )
    return await _accept(session, task, rules=rules, pool=pool, now=now)


def _driver(task: Task) -> Actor:
    """The requester, as parking sees the driver of their own booking (the valet acts on their behalf)."""
    assert task.requested_by is not None
    return Actor(id=task.requested_by, role=Role.RESIDENT)


async def _settle(session: AsyncSession, task: Task, amount: int, *, now: datetime) -> None:
    """Charge `amount` of the fee hold to the village enterprise and give the rest back."""
    wallet = Wallet()
    if task.hold_id is not None:
        if amount:
            await wallet.capture(session, hold_id=task.hold_id, amount=amount, shares=FEE_SHARES, now=now)
        await wallet.release(session, hold_id=task.hold_id, now=now)
    task.fee_krw = amount


async def move(
    session: AsyncSession,
    *,
    actor: Actor,
    task: Task,
    target: TaskState,
    reason: str | None,
    rules: ValetRules,
    policy: BookingPolicy,
    now: datetime,
) -> Task:
    """A staff member's step on a valet task (or an operator failing it); `task` read with a row lock
    (`ops.service.task_for`). Taking a parked car checks its booking out; parking a car checks its booking in;
    delivering captures the fee; failing releases it."""
    if target == TaskState.CANCELLED:
        raise InvalidInput("cancel with DELETE on the request")
    await check_move(session, actor=actor, task=task, target=target, reason=reason)
    if target == TaskState.FAILED:
        task.failure_reason = reason
        await _settle(session, task, 0, now=now)
    elif target == TaskState.ARRIVED and task.kind == TaskKind.VALET_RETURN and task.booking_id is not None:
        await parking.check_out(session, actor=_driver(task), booking_id=task.booking_id, policy=policy, now=now)
    elif target == TaskState.DONE:
        if task.kind == TaskKind.VALET_PICKUP and task.booking_id is not None:
            await parking.check_in(session, actor=_driver(task), booking_id=task.booking_id, policy=policy, now=now)
        await _settle(session, task, rules.fee_krw, now=now)
    stamp(task, target, now=now)
    await session.flush()
    await ledger.append(session, task_record(task, now=now))
    return task


async def cancel(
    session: AsyncSession, *, actor: Actor, task_id: uuid.UUID, rules: ValetRules, policy: BookingPolicy, now: datetime
) -> Task:
    """The requester (or an operator) cancels: free until the valet is on the way, then the cancellation fee. A
    parking request's booking is cancelled too, under parking's policy (free until its own deadline)."""
    task = await task_for(session, actor=actor, task_id=task_id, lock=True)
    if not (actor.is_operator or actor.id == task.requested_by):
        raise Forbidden("only the requester or an operator may cancel a request")
    await check_move(session, actor=actor, task=task, target=TaskState.CANCELLED)
    await _settle(session, task, rules.cancel_fee_krw if task.state == TaskState.EN_ROUTE else 0, now=now)
    if task.kind == TaskKind.VALET_PICKUP and task.booking_id is not None:
        row = await parking.get_booking(
            session, actor=_driver(task), booking_id=task.booking_id, policy=policy, now=now
        )
        if row.booking.status == BookingStatus.RESERVED:
            await parking.cancel_booking(
                session, actor=_driver(task), booking_id=task.booking_id, policy=policy, now=now
            )
    task.sequence = None
    stamp(task, TaskState.CANCELLED, now=now)
    await session.flush()
    await ledger.append(session, task_record(task, now=now))
    return task


async def assign_by_hand(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    staff_id: uuid.UUID,
    rules: ValetRules,
    pool: Executor | None,
    now: datetime,
) -> Task:
    """An operator gives a task to a valet; later plans keep it with them. Refused (409) when that valet cannot do
    it within its windows."""
    task = await session.get(Task, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise TaskNotFound(f"task {task_id} not found")
    if task.kind not in VALET_KINDS:  # crew tours are planned whole
        raise InvalidTaskTransition(
            "only valet tasks and pick-up rides are assigned by hand; a crew's tour is re-planned whole",
            extra={"state": task.state, "kind": task.kind},
        )
    refuse(task, "reassign", MOVABLE)
    await reassign_check(session, staff_id=staff_id, skill=Skill.VALET)
    if task.staff_id != staff_id:
        task.staff_id = staff_id
        stamp(task, TaskState.ASSIGNED, now=now)
    task.pinned = True
    await session.flush()
    await plan(session, rules=rules, pool=pool, now=now, insist=task)
    return task
