"""Queries of the ops domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from accounts.models import Account
from geo.spatial import latitude, longitude
from ops.models import Shift, StaffMember, Task, TaskState
from ops.states import OPEN

CLOCKED_IN = (Shift.clocked_in_at.is_not(None), Shift.clocked_out_at.is_(None))


async def open_shift(session: AsyncSession, staff_id: uuid.UUID) -> Shift | None:
    """The shift the person is clocked in on, if any."""
    return (await open_shifts(session, [staff_id])).get(staff_id)


async def open_tasks(session: AsyncSession, *, staff_id: uuid.UUID, lock: bool = False) -> list[Task]:
    query = select(Task).where(Task.staff_id == staff_id, Task.state.in_(OPEN)).order_by(Task.sequence)
    return list(await session.scalars(query.with_for_update() if lock else query))


@dataclass(frozen=True, slots=True)
class OnShift:
    """Someone clocked in, where they last were, and when their planned shift ends."""

    staff_id: uuid.UUID
    lon: float
    lat: float
    shift_end: datetime


async def on_shift(session: AsyncSession, *, skill: str) -> list[OnShift]:
    rows = await session.execute(
        select(
            StaffMember.account_id,
            longitude(StaffMember.position),
            latitude(StaffMember.position),
            Shift.planned_end,
        )
        .join(Shift, Shift.staff_id == StaffMember.account_id)
        .where(
            StaffMember.skills.contains([skill]),
            StaffMember.position.is_not(None),
            *CLOCKED_IN,
        )
        .order_by(StaffMember.account_id)
    )
    return [OnShift(staff_id, lon, lat, end) for staff_id, lon, lat, end in rows]


@dataclass(frozen=True, slots=True)
class Places:
    origin: tuple[float, float]
    destination: tuple[float, float] | None


async def places_of(session: AsyncSession, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Places]:
    rows = await session.execute(
        select(
            Task.id,
            longitude(Task.origin),
            latitude(Task.origin),
            longitude(Task.destination),
            latitude(Task.destination),
        ).where(Task.id.in_(task_ids))
    )
    return {
        task_id: Places((olon, olat), (dlon, dlat) if dlon is not None and dlat is not None else None)
        for task_id, olon, olat, dlon, dlat in rows
    }


async def positions_of(
    session: AsyncSession, staff_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[float, float, datetime | None]]:
    rows = await session.execute(
        select(
            StaffMember.account_id,
            longitude(StaffMember.position),
            latitude(StaffMember.position),
            StaffMember.position_at,
        ).where(StaffMember.account_id.in_(staff_ids), StaffMember.position.is_not(None))
    )
    return {staff_id: (lon, lat, at) for staff_id, lon, lat, at in rows}


async def carrying(session: AsyncSession, staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Task]]:
    """Second legs still open whose first leg is done, per staff member: what they carry (a rider on board, a
    vehicle in the van)."""
    first = aliased(Task)
    rows = await session.scalars(
        select(Task)
        .join(first, first.id == Task.leg_of)
        .where(Task.staff_id.in_(staff_ids), Task.state.in_(OPEN), first.state == TaskState.DONE)
    )
    held: dict[uuid.UUID, list[Task]] = {}
    for task in rows:
        assert task.staff_id is not None
        held.setdefault(task.staff_id, []).append(task)
    return held


async def open_task_counts(session: AsyncSession, staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(Task.staff_id, func.count())
        .where(Task.staff_id.in_(staff_ids), Task.state.in_(OPEN))
        .group_by(Task.staff_id)
    )
    return {staff_id: count for staff_id, count in rows if staff_id is not None}


async def open_shifts(session: AsyncSession, staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Shift]:
    rows = await session.scalars(select(Shift).where(Shift.staff_id.in_(staff_ids), *CLOCKED_IN))
    return {shift.staff_id: shift for shift in rows}


async def staff_page(session: AsyncSession, *, on_shift: bool | None, limit: int, offset: int) -> list[StaffMember]:
    query = select(StaffMember).join(Account, Account.id == StaffMember.account_id)
    if on_shift is not None:
        clocked = select(Shift.id).where(Shift.staff_id == StaffMember.account_id, *CLOCKED_IN)
        query = query.where(clocked.exists() if on_shift else ~clocked.exists())
    return list(await session.scalars(query.order_by(Account.display_name, Account.id).limit(limit).offset(offset)))
