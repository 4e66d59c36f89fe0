"""Pick-up rides ("마중"), for residents: a van of the village enterprise picks them up and drops them off."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Anyone, Driver, Operator
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.routes.tasks import task_detail, task_outs
from api.schemas.common import ErrorOut, Page, page
from api.schemas.ops import PlanOut, RideIn, RideOut, TaskOut
from api.state import AppState
from ops import shuttle
from ops.models import TaskState
from routing.travel import Point

router = APIRouter(prefix="/shuttle", tags=["pick-up rides"])
RIDE_ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"model": ErrorOut, "description": "insufficient_funds: the wallet cannot cover the fare"},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut, "description": "no_staff_available (with the reason), invalid_task_transition"},
}


async def ride_out(state: AppState, session: AsyncSession, ride: shuttle.Ride, *, now: datetime) -> RideOut:
    on_board = ride.pickup.state == TaskState.DONE
    return RideOut(
        id=ride.pickup.id,
        state=ride.dropoff.state if on_board else ride.pickup.state,
        passengers=ride.pickup.passengers or 1,
        fare_krw=ride.fare_krw,
        pickup=await task_detail(state, session, ride.pickup, now=now),
        dropoff=await task_detail(state, session, ride.dropoff, now=now),
    )


@router.post("/rides", response_model=RideOut, status_code=201, responses=RIDE_ERRORS, summary="Ask for a pick-up ride")
async def request_ride(
    body: RideIn,
    actor: Driver,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RideOut:
    """A van picks the party up at `origin` and drops it at `destination`: within the `pickup` window, or arriving
    within the `dropoff` window, or (neither) picked up within `MAEUL_SHUTTLE_WAIT_MINUTES`. No rider rides longer
    than `MAEUL_SHUTTLE_MAX_RIDE_FACTOR` x the direct time. Answered at once with the planned pickup time
    (`pickup.eta_origin`) and drop-off (`dropoff.eta_origin`), or refused (409 `no_staff_available` with the
    reason; nothing kept). The fare (per rider: `MAEUL_SHUTTLE_BASE_FARE_KRW` + `MAEUL_SHUTTLE_PER_KM_KRW` per km
    of the direct route, rounded up to 10 KRW) is held now and charged at the drop-off."""

    async def work() -> RideOut:
        ride = await shuttle.request(
            session,
            rider=actor,
            origin=Point(body.origin.lon, body.origin.lat),
            destination=Point(body.destination.lon, body.destination.lat),
            passengers=body.passengers,
            pickup=(body.pickup.start, body.pickup.end) if body.pickup else None,
            dropoff=(body.dropoff.start, body.dropoff.end) if body.dropoff else None,
            rules=state.shuttle,
            pool=state.solver_pool,
            now=now,
        )
        return await ride_out(state, session, ride, now=now)

    response = await create_once(
        session, actor=actor, key=idempotency_key, operation="POST /shuttle/rides", payload=body, work=work
    )
    return response  # type: ignore[return-value]


@router.get("/rides", response_model=Page[TaskOut], summary="My pick-up rides")
async def my_rides(actor: Anyone, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, object]:
    """The rides' pickup tasks, newest first, in every state."""
    tasks = await shuttle.my_rides(session, rider=actor.id, limit=limit + 1, offset=offset)
    return page(await task_outs(session, list(tasks)), limit=limit, offset=offset)


@router.get(
    "/rides/{ride_id:uuid}", response_model=RideOut, responses={404: {"model": ErrorOut}}, summary="One pick-up ride"
)
async def get_ride(ride_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep) -> RideOut:
    """For its rider, its driver and operators: planned times, the van driver's position while on the way, the
    fare, the ledger receipts."""
    ride = await shuttle.ride_of(session, actor=actor, ride_id=ride_id)
    return await ride_out(state, session, ride, now=now)


@router.delete("/rides/{ride_id:uuid}", response_model=RideOut, responses=RIDE_ERRORS, summary="Cancel a pick-up ride")
async def cancel_ride(ride_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep) -> RideOut:
    """Free until the van is on the way to the rider, then `MAEUL_SHUTTLE_CANCEL_FEE_KRW`; not once the van is at the
    stop or the rider on board (409)."""
    ride = await shuttle.cancel(session, actor=actor, ride_id=ride_id, rules=state.shuttle, now=now)
    out = await ride_out(state, session, ride, now=now)
    await session.commit()
    return out


@router.post("/plan", response_model=PlanOut, summary="Re-optimise the vans' routes now")
async def reoptimise(actor: Operator, state: StateDep, session: SessionDep, now: NowDep) -> PlanOut:
    """From the routes in force; stops under way stay; no accepted rider is dropped while they can be served. The
    worker does this every five minutes by itself."""
    planned = await shuttle.reoptimise(session, rules=state.shuttle, pool=state.solver_pool, now=now)
    await session.commit()
    return PlanOut(
        staff_on_shift=planned.drivers_on_shift,
        planned=planned.planned,
        unassigned_task_ids=sorted(planned.unserved),
        solve_ms=round(planned.solve_s * 1000),
    )
