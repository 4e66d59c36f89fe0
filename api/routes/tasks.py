"""Field tasks: the operators' board, a staff member's route and steps, assignment by hand, re-planning."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Anyone, Crew, Operator
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.routes.vehicles import commit_and_sync
from api.schemas.common import ErrorOut, Location, Page, page
from api.schemas.ops import AssignIn, PlanOut, StaffOnTheWay, TaskMoveIn, TaskOut
from api.schemas.parking import ReceiptOut
from api.state import AppState
from ledger import log as ledger
from ops import crew, repository, service, shuttle, valet
from ops.dispatch import CarrierPlan
from ops.errors import TaskNotFound
from ops.models import Task, TaskState
from ops.states import OPEN
from routing.travel import Point

router = APIRouter(tags=["tasks"])
TASK_ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"model": ErrorOut, "description": "insufficient_funds: the requester's wallet cannot cover the fee"},
    404: {"model": ErrorOut},
    409: {
        "model": ErrorOut,
        "description": "invalid_task_transition, not_on_shift, no_staff_available, invalid_booking_transition, "
        "invalid_vehicle_transition",
    },
}


async def task_outs(session: AsyncSession, tasks: list[Task]) -> list[TaskOut]:
    places = await repository.places_of(session, [task.id for task in tasks])
    out = []
    for task in tasks:
        where = places[task.id]
        fields = {name: getattr(task, name) for name in TaskOut.model_fields if hasattr(task, name)}
        fields |= {
            "origin": Location(lon=where.origin[0], lat=where.origin[1]),
            "destination": Location(lon=where.destination[0], lat=where.destination[1])
            if where.destination is not None
            else None,
        }
        out.append(TaskOut.model_validate(fields))
    return out


async def task_detail(state: AppState, session: AsyncSession, task: Task, *, now: datetime) -> TaskOut:
    """One task with who is coming, where they are and when, and its ledger receipts."""
    [out] = await task_outs(session, [task])
    coming = valet.LEGS.empty if task.kind in valet.VALET_KINDS else shuttle.LEGS.empty  # crews come by van too
    seen = await service.tracking(
        session, task, origin=Point(out.origin.lon, out.origin.lat), travel=state.valet.travel, mode=coming, now=now
    )
    receipts = await ledger.receipts_for(session, f"task:{task.id}")
    return out.model_copy(
        update={
            "eta_origin": seen.eta_origin,
            "staff": StaffOnTheWay(
                display_name=seen.staff_name,
                position=Location(lon=seen.position[0], lat=seen.position[1]) if seen.position else None,
                position_at=seen.position_at,
            )
            if seen.staff_name is not None
            else None,
            "receipts": [ReceiptOut.of(r) for r in receipts],
        }
    )


async def replan_after(state: AppState, session: AsyncSession, *, now: datetime) -> CarrierPlan:
    """Commit a change to who is on shift, then re-plan the open valet tasks around it in a second unit of work:
    the change stands even if planning fails (the next plan catches up)."""
    await session.commit()
    planned = await valet.plan(session, rules=state.valet, pool=state.solver_pool, now=now)
    await session.commit()
    return planned


@router.get("/tasks", response_model=Page[TaskOut], summary="Tasks: the operators' board, or my route")
async def list_tasks(
    actor: Crew,
    session: SessionDep,
    state: Annotated[list[TaskState] | None, Query(description="only these states; default: the open ones")] = None,
    staff_id: Annotated[uuid.UUID | None, Query(description="only this staff member's (operators)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, object]:
    """Operators see every task, newest first, or one person's route; a staff member sees their own route, in the
    order planned."""
    if not actor.is_operator:
        staff_id = actor.id
    tasks = await service.list_tasks(
        session,
        states=state or list(OPEN),
        staff_id=staff_id,
        requested_by=None,
        limit=limit + 1,
        offset=offset,
    )
    return page(await task_outs(session, tasks), limit=limit, offset=offset)


@router.get("/tasks/{task_id:uuid}", response_model=TaskOut, responses={404: {"model": ErrorOut}}, summary="One task")
async def get_task(task_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep) -> TaskOut:
    """For its staff member, its requester and operators; for anyone else it does not exist (404)."""
    task = await service.task_for(session, actor=actor, task_id=task_id)
    return await task_detail(state, session, task, now=now)


@router.post("/tasks/{task_id:uuid}/state", response_model=TaskOut, responses=TASK_ERRORS, summary="Step a task")
async def move_task(
    task_id: uuid.UUID, body: TaskMoveIn, actor: Crew, state: StateDep, session: SessionDep, now: NowDep
) -> TaskOut:
    """The assigned staff member moves it assigned -> en_route -> arrived -> done, or to failed with a reason
    (operators may fail it too). One task under way at a time, on shift. A valet taking a parked car checks its
    booking out; parking a car checks its booking in; delivering captures the valet fee; failing releases it. A
    crew task done is the vehicle's MDS event: `rebalance_pick_up`, `provider_drop_off` at the area, or
    `battery_charged`; a vehicle the state machine refuses it for (a rider took it) is 409
    `invalid_vehicle_transition`, and the crew member fails the task; failing a pickup cancels its dropoff. A
    ride's pickup done: the rider is on board; its drop-off (set off for only once the rider is on board) done:
    the fare is charged; failing a pickup (a no-show) cancels the drop-off and releases the fare."""
    target = TaskState(body.state)
    task = await service.task_for(session, actor=actor, task_id=task_id, lock=True)
    if task.kind in shuttle.RIDE_KINDS:
        task = await shuttle.move(session, actor=actor, task=task, target=target, reason=body.reason, now=now)
        out = await task_detail(state, session, task, now=now)
        await session.commit()
        return out
    if task.kind in crew.CREW_KINDS:
        task = await crew.move(session, actor=actor, task=task, target=target, reason=body.reason, now=now)
        out = await task_detail(state, session, task, now=now)
        await commit_and_sync(state, session, [task.vehicle_id] if task.vehicle_id else [])
        return out
    task = await valet.move(
        session,
        actor=actor,
        task=task,
        target=target,
        reason=body.reason,
        rules=state.valet,
        policy=state.policy,
        now=now,
    )
    out = await task_detail(state, session, task, now=now)
    await session.commit()
    return out


@router.post(
    "/tasks/{task_id:uuid}/assign", response_model=TaskOut, responses=TASK_ERRORS, summary="Assign a task by hand"
)
async def assign(
    task_id: uuid.UUID, body: AssignIn, actor: Operator, state: StateDep, session: SessionDep, now: NowDep
) -> TaskOut:
    """Gives a valet task, or a pick-up ride (either of its two tasks), not yet under way to a valet or van driver
    on shift; later plans keep it with them. Refused (409 `no_staff_available`, nothing changed) when that person
    cannot do it within its windows (or, for a ride, without breaking another rider's ride); crew tasks are 409
    `invalid_task_transition` (a crew's tour is planned whole)."""
    found = await session.get(Task, task_id)
    if found is None:
        raise TaskNotFound(f"task {task_id} not found")
    if found.kind in shuttle.RIDE_KINDS:
        task = await shuttle.assign_by_hand(
            session, task_id=task_id, staff_id=body.staff_id, rules=state.shuttle, pool=state.solver_pool, now=now
        )
    else:
        task = await valet.assign_by_hand(
            session, task_id=task_id, staff_id=body.staff_id, rules=state.valet, pool=state.solver_pool, now=now
        )
    out = await task_detail(state, session, task, now=now)
    await session.commit()
    return out


@router.post("/valet/plan", response_model=PlanOut, summary="Re-plan every open valet task now")
async def replan(actor: Operator, state: StateDep, session: SessionDep, now: NowDep) -> PlanOut:
    """Tasks under way stay where they are; the rest are shared again among the valets on shift. The worker does
    this every few minutes by itself."""
    planned = await replan_after(state, session, now=now)
    return PlanOut(
        staff_on_shift=len(planned.routes),
        planned=len({stop.job_id for route in planned.routes for stop in route}),
        unassigned_task_ids=sorted(planned.unserved),
        solve_ms=round(planned.solve_s * 1000),
    )
