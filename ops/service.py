"""Staff, shifts, positions, earnings and pay statements; the task state machine. Services flush, never commit.

Time: storage in UTC; pay months are Seoul months (`timezone`). Pay is per minute clocked in (floor of minutes x the
hourly wage / 60); a shift still open counts up to now.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Account, Role
from accounts.service import create_account
from billing import journal
from billing.statements import month_bounds
from core.db import EXCLUSION_VIOLATION
from core.errors import Forbidden, InvalidInput
from geo.spatial import geography_point
from ledger import log as ledger
from ops import repository
from ops.errors import (
    AlreadyPaid,
    InvalidMonth,
    InvalidTaskTransition,
    NotOnShift,
    ShiftNotFound,
    ShiftOverlaps,
    StaffNotFound,
    StillBusy,
    TaskNotFound,
)
from ops.models import PayStatement, Shift, Skill, StaffMember, Task, TaskKind, TaskState
from ops.states import CANCELLABLE, MOVABLE, STAFF_MOVES, STAMP, UNDER_WAY
from routing.travel import Mode, Point, TravelTimes

CLOCK_IN_EARLY = timedelta(minutes=30)  # a planned shift may be clocked in this long before it starts
LONGEST_SHIFT = timedelta(hours=14)


# ---------------------------------------------------------------- staff


async def register_staff(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    display_name: str,
    skills: Sequence[Skill],
    hourly_wage_krw: int,
) -> StaffMember:
    account = await create_account(session, email=email, password=password, display_name=display_name, role=Role.STAFF)
    member = StaffMember(account_id=account.id, skills=sorted(set(skills)), hourly_wage_krw=hourly_wage_krw)
    session.add(member)
    await session.flush()
    return member


async def staff_member(session: AsyncSession, staff_id: uuid.UUID, *, lock: bool = False) -> StaffMember:
    member = await session.get(StaffMember, staff_id, with_for_update=lock)
    if member is None:
        raise StaffNotFound(f"staff member {staff_id} not found")
    return member


async def update_staff(
    session: AsyncSession, *, staff_id: uuid.UUID, skills: Sequence[Skill] | None, hourly_wage_krw: int | None
) -> StaffMember:
    member = await staff_member(session, staff_id, lock=True)
    if skills is not None:
        member.skills = sorted(set(skills))
    if hourly_wage_krw is not None:
        member.hourly_wage_krw = hourly_wage_krw
    await session.flush()
    return member


async def update_position(
    session: AsyncSession, *, staff_id: uuid.UUID, lon: float, lat: float, now: datetime
) -> StaffMember:
    """The staff app reports where its user is (like a vehicle's telemetry, one fix at a time)."""
    member = await staff_member(session, staff_id, lock=True)
    member.position = geography_point(lon, lat)
    member.position_at = now
    await session.flush()
    return member


# ---------------------------------------------------------------- shifts


async def plan_shift(session: AsyncSession, *, staff_id: uuid.UUID, start: datetime, end: datetime) -> Shift:
    """An operator plans a shift; PostgreSQL refuses one overlapping another of the same person."""
    await staff_member(session, staff_id)
    shift = Shift(staff_id=staff_id, planned_start=start, planned_end=end)
    try:
        async with session.begin_nested():
            session.add(shift)
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise ShiftOverlaps(
                "this shift overlaps another shift of the same person", extra={"staff_id": str(staff_id)}
            ) from error
        raise
    return shift


async def shifts_of(
    session: AsyncSession, *, staff_id: uuid.UUID, since: datetime | None, limit: int, offset: int
) -> list[Shift]:
    query = select(Shift).where(Shift.staff_id == staff_id)
    if since is not None:
        query = query.where(Shift.planned_end > since)
    rows = await session.scalars(query.order_by(Shift.planned_start, Shift.id).limit(limit).offset(offset))
    return list(rows)


async def cancel_shift(session: AsyncSession, *, shift_id: uuid.UUID) -> None:
    shift = await session.get(Shift, shift_id, with_for_update=True)
    if shift is None:
        raise ShiftNotFound(f"shift {shift_id} not found")
    if shift.clocked_in_at is not None:
        raise NotOnShift("a shift already clocked in cannot be cancelled; clock out instead")
    await session.delete(shift)
    await session.flush()


async def clock_in(session: AsyncSession, *, staff_id: uuid.UUID, lon: float, lat: float, now: datetime) -> Shift:
    """Start the planned shift that is on now (or starts within `CLOCK_IN_EARLY`), from where the person is."""
    await staff_member(session, staff_id, lock=True)  # one clock change at a time per person
    if await repository.open_shift(session, staff_id) is not None:
        raise NotOnShift("already clocked in")
    shift = await session.scalar(
        select(Shift)
        .where(
            Shift.staff_id == staff_id,
            Shift.clocked_in_at.is_(None),
            Shift.planned_start - CLOCK_IN_EARLY <= now,
            Shift.planned_end > now,
        )
        .order_by(Shift.planned_start)
        .limit(1)
    )
    if shift is None:
        raise NotOnShift(
            f"no planned shift starts within {int(CLOCK_IN_EARLY.total_seconds() // 60)} minutes or is on now"
        )
    shift.clocked_in_at = now
    await update_position(session, staff_id=staff_id, lon=lon, lat=lat, now=now)
    return shift


async def clock_out(session: AsyncSession, *, staff_id: uuid.UUID, now: datetime) -> tuple[Shift, list[Task]]:
    """End the open shift. Tasks under way must be finished first; tasks only planned for this person are released
    (unassigned) for the next plan, and returned."""
    await staff_member(session, staff_id, lock=True)
    shift = await repository.open_shift(session, staff_id)
    if shift is None:
        raise NotOnShift("not clocked in")
    tasks = await repository.open_tasks(session, staff_id=staff_id, lock=True)
    busy = [task for task in tasks if task.state in UNDER_WAY]
    busy += [task for task in (await repository.carrying(session, [staff_id])).get(staff_id, []) if task not in busy]
    if busy:
        raise StillBusy(
            "finish or fail the tasks under way (and deliver what you carry) before clocking out",
            extra={"task_ids": [str(t.id) for t in busy]},
        )
    for task in tasks:
        release(task, now=now)
    shift.clocked_out_at = now
    await session.flush()
    return shift, tasks


def release(task: Task, *, now: datetime) -> None:
    """Take a planned task away from its staff member: it waits for the next plan."""
    task.state = TaskState.UNASSIGNED
    task.staff_id = task.sequence = task.eta_origin = task.eta_destination = None
    task.pinned = False
    task.state_changed_at = now


# ---------------------------------------------------------------- earnings and pay


@dataclass(frozen=True, slots=True)
class Earnings:
    staff_id: uuid.UUID
    month: str
    minutes_worked: int
    tasks_done: int
    hourly_wage_krw: int

    @property
    def amount_krw(self) -> int:
        return self.minutes_worked * self.hourly_wage_krw // 60


def _month(month: str, timezone: str) -> tuple[datetime, datetime]:
    """A `YYYY-MM` month's bounds in local time (billing's `month_bounds`), or `InvalidMonth`."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError as error:
        raise InvalidMonth(f"month must be YYYY-MM, got {month!r}") from error
    return month_bounds(first, timezone)


async def earnings(session: AsyncSession, *, staff_id: uuid.UUID, month: str, timezone: str, now: datetime) -> Earnings:
    member = await staff_member(session, staff_id)
    start, end = _month(month, timezone)
    worked = func.coalesce(Shift.clocked_out_at, now)
    seconds = await session.scalar(
        select(
            func.coalesce(
                func.sum(func.extract("epoch", func.least(worked, end) - func.greatest(Shift.clocked_in_at, start))),
                0,
            )
        ).where(
            Shift.staff_id == staff_id,
            Shift.clocked_in_at.is_not(None),
            Shift.clocked_in_at < end,
            worked > start,
        )
    )
    done = await session.scalar(
        select(func.count())
        .select_from(Task)
        .where(Task.staff_id == staff_id, Task.state == TaskState.DONE, Task.done_at >= start, Task.done_at < end)
    )
    return Earnings(staff_id, month, int(float(seconds or 0) // 60), int(done or 0), member.hourly_wage_krw)


async def pay(session: AsyncSession, *, staff_id: uuid.UUID, month: str, timezone: str, now: datetime) -> PayStatement:
    """Pay a finished month out of the village enterprise's balance (the journal refuses an overdraft: 402)."""
    _, end = _month(month, timezone)
    if now < end:
        raise InvalidMonth(f"{month} is not over yet; pay it from {end.isoformat()}")
    earned = await earnings(session, staff_id=staff_id, month=month, timezone=timezone, now=now)
    statement = PayStatement(
        staff_id=staff_id,
        month=month,
        minutes_worked=earned.minutes_worked,
        tasks_done=earned.tasks_done,
        hourly_wage_krw=earned.hourly_wage_krw,
        amount_krw=earned.amount_krw,
        paid_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(statement)
            await session.flush()
    except IntegrityError as error:
        raise AlreadyPaid(f"{month} is already paid to this staff member") from error
    if statement.amount_krw:
        await journal.require(
            session, journal.ENTERPRISE, statement.amount_krw, what="the village enterprise's balance is too low"
        )
        await journal.post(
            session,
            kind="pay",
            reference=f"pay:{statement.id}",
            postings={journal.ENTERPRISE: -statement.amount_krw, journal.GATEWAY: statement.amount_krw},
            now=now,
        )
    return statement


async def pay_statements(session: AsyncSession, *, staff_id: uuid.UUID, limit: int, offset: int) -> list[PayStatement]:
    rows = await session.scalars(
        select(PayStatement)
        .where(PayStatement.staff_id == staff_id)
        .order_by(PayStatement.month.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows)


# ---------------------------------------------------------------- tasks


def can_read_task(actor: Actor, task: Task) -> bool:
    return actor.is_operator or actor.id in (task.staff_id, task.requested_by)


async def task_for(session: AsyncSession, *, actor: Actor, task_id: uuid.UUID, lock: bool = False) -> Task:
    task = await session.get(Task, task_id, with_for_update=lock, populate_existing=lock)
    if task is None or not can_read_task(actor, task):
        raise TaskNotFound(f"task {task_id} not found")
    return task


def stamp(task: Task, target: TaskState, *, now: datetime) -> None:
    task.state = target
    task.state_changed_at = now
    setattr(task, STAMP[target], now)


def refuse(task: Task, action: str, allowed: Sequence[TaskState]) -> None:
    if task.state not in allowed:
        raise InvalidTaskTransition(
            f"cannot {action} a task that is {task.state}",
            extra={"state": task.state, "allowed_from": list(allowed)},
        )


async def check_move(
    session: AsyncSession, *, actor: Actor, task: Task, target: TaskState, reason: str | None = None
) -> None:
    """May `actor` move `task` to `target`? Its staff member moves it forward (one task under way at a time);
    operators may also fail it, saying why (`reason`); cancelling is the requester's or an operator's (`cancel`)."""
    if target == TaskState.CANCELLED:
        refuse(task, "cancel", CANCELLABLE)
        return
    if not (actor.id == task.staff_id or (actor.is_operator and target == TaskState.FAILED)):
        raise Forbidden("only the staff member the task is assigned to moves it forward")
    allowed = [state for state, targets in STAFF_MOVES.items() if target in targets]
    refuse(task, f"move to {target}", allowed)
    if target == TaskState.EN_ROUTE:
        await staff_member(session, actor.id, lock=True)  # two tasks set off at once: one waits, then sees the other
        if await repository.open_shift(session, actor.id) is None:
            raise NotOnShift("clock in first")
        busy = [t for t in await repository.open_tasks(session, staff_id=actor.id) if t.state in UNDER_WAY]
        if busy:
            raise InvalidTaskTransition(
                "one task under way at a time: finish the current one first",
                extra={"state": task.state, "task_ids": [str(t.id) for t in busy]},
            )
    if target == TaskState.FAILED and not reason:
        raise InvalidInput("say why the task failed (reason)")


def task_record(task: Task, *, now: datetime) -> ledger.Record:
    """The ledger entry of a task's state: no identities, only what an auditor needs."""
    body: dict[str, object] = {"task_id": task.id, "kind": task.kind, "state": task.state}
    if task.booking_id is not None:
        body["booking_id"] = task.booking_id
    if task.fee_krw is not None:
        body["fee_krw"] = task.fee_krw
    return ledger.Record(kind=f"task.{task.state}", subject=f"task:{task.id}", at=now, body=body)


async def list_tasks(
    session: AsyncSession,
    *,
    states: Sequence[TaskState] | None,
    kinds: Sequence[TaskKind] | None = None,
    staff_id: uuid.UUID | None,
    requested_by: uuid.UUID | None,
    limit: int,
    offset: int,
) -> list[Task]:
    query = select(Task)
    if states:
        query = query.where(Task.state.in_(states))
    if kinds:
        query = query.where(Task.kind.in_(kinds))
    if staff_id is not None:
        query = query.where(Task.staff_id == staff_id)
    if requested_by is not None:
        query = query.where(Task.requested_by == requested_by)
    order = (Task.sequence.nulls_last(), Task.created_at, Task.id) if staff_id else (Task.created_at.desc(), Task.id)
    return list(await session.scalars(query.order_by(*order).limit(limit).offset(offset)))


async def names_of(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(select(Account.id, Account.display_name).where(Account.id.in_(set(account_ids))))
    return {account_id: name for account_id, name in rows}


async def reassign_check(session: AsyncSession, *, staff_id: uuid.UUID, skill: Skill) -> StaffMember:
    member = await staff_member(session, staff_id)
    if skill not in member.skills:
        raise NotOnShift(f"this staff member lacks the {skill} skill", extra={"skills": member.skills})
    if await repository.open_shift(session, staff_id) is None:
        raise NotOnShift("this staff member is not clocked in")
    return member


@dataclass(frozen=True, slots=True)
class Tracking:
    """Where the assigned staff member is, and when they are expected: planned, or live while they are on the way
    (from their last reported position)."""

    staff_name: str | None
    position: tuple[float, float] | None
    position_at: datetime | None
    eta_origin: datetime | None
    eta_destination: datetime | None


async def tracking(
    session: AsyncSession, task: Task, *, origin: Point, travel: TravelTimes, mode: Mode, now: datetime
) -> Tracking:
    """`origin`: the task's, which the caller has already read; `mode`: how its staff member comes to it."""
    if task.staff_id is None or task.state not in (*MOVABLE, *UNDER_WAY):
        return Tracking(None, None, None, task.eta_origin, task.eta_destination)
    name = (await names_of(session, [task.staff_id])).get(task.staff_id)
    where = (await repository.positions_of(session, [task.staff_id])).get(task.staff_id)
    eta_origin = task.eta_origin
    if where is not None and task.state == TaskState.EN_ROUTE:
        table = await asyncio.to_thread(travel.table, [Point(where[0], where[1]), origin], mode)
        seconds = table.seconds[0][1]
        eta_origin = now + timedelta(seconds=seconds)
    return Tracking(
        name,
        (where[0], where[1]) if where is not None else None,
        where[2] if where is not None else None,
        eta_origin,
        task.eta_destination,
    )
