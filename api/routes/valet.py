"""Valet parking on demand, for residents: a valet takes the car from home to a matched slot, or brings it back."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from api.auth import Anyone, Driver
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.routes.tasks import task_detail, task_outs
from api.schemas.common import ErrorOut, Page, page
from api.schemas.ops import TaskOut, ValetParkingIn, ValetReturnIn
from ops import service, valet
from ops.valet import VALET_KINDS
from routing.travel import Point

router = APIRouter(prefix="/valet", tags=["valet"])
REQUEST_ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"model": ErrorOut, "description": "insufficient_funds: the wallet cannot cover the fee (and parking)"},
    404: {"model": ErrorOut},
    409: {
        "model": ErrorOut,
        "description": "no_staff_available (with the reason), no_slot_available, booking_not_parked",
    },
}


@router.post(
    "/parking", response_model=TaskOut, status_code=201, responses=REQUEST_ERRORS, summary="Have my car parked"
)
async def request_parking(
    body: ValetParkingIn,
    actor: Driver,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> TaskOut:
    """A valet comes to `home` within [pickup_from, pickup_by] and parks the car in a shared slot within
    `MAEUL_VALET_REACH_M`, matched and booked now from the pickup until `park_until` (priced and held like any
    booking). The valet fee (`MAEUL_VALET_FEE_KRW`) is held and captured at delivery. Answered with the valet's
    planned times, or refused (409 `no_staff_available`, nothing kept) when no valet on shift can do it."""

    async def work() -> TaskOut:
        task = await valet.request_parking(
            session,
            resident=actor,
            home=Point(body.home.lon, body.home.lat),
            vehicle_plate=body.vehicle_plate,
            pickup_from=body.pickup_from,
            pickup_by=body.pickup_by,
            park_until=body.park_until,
            needs_ev=body.needs_ev,
            vehicle_size=body.vehicle_size,
            rules=state.valet,
            policy=state.policy,
            solving=state.matching(),
            pool=state.solver_pool,
            now=now,
        )
        return await task_detail(state, session, task, now=now)

    response = await create_once(
        session, actor=actor, key=idempotency_key, operation="POST /valet/parking", payload=body, work=work
    )
    return response  # type: ignore[return-value]


@router.post(
    "/returns", response_model=TaskOut, status_code=201, responses=REQUEST_ERRORS, summary="Have my car brought back"
)
async def request_return(
    body: ValetReturnIn,
    actor: Driver,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> TaskOut:
    """A valet fetches the car of a checked-in booking from its slot (which checks the booking out) and brings it
    to `home` within [deliver_from, deliver_by]. Fee and refusal as for parking."""

    async def work() -> TaskOut:
        task = await valet.request_return(
            session,
            resident=actor,
            booking_id=body.booking_id,
            home=Point(body.home.lon, body.home.lat),
            deliver_from=body.deliver_from,
            deliver_by=body.deliver_by,
            rules=state.valet,
            policy=state.policy,
            pool=state.solver_pool,
            now=now,
        )
        return await task_detail(state, session, task, now=now)

    response = await create_once(
        session, actor=actor, key=idempotency_key, operation="POST /valet/returns", payload=body, work=work
    )
    return response  # type: ignore[return-value]


@router.get("/requests", response_model=Page[TaskOut], summary="My valet requests")
async def my_requests(actor: Anyone, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, object]:
    """Newest first, in every state."""
    tasks = await service.list_tasks(
        session, states=None, kinds=VALET_KINDS, staff_id=None, requested_by=actor.id, limit=limit + 1, offset=offset
    )
    return page(await task_outs(session, tasks), limit=limit, offset=offset)


@router.delete(
    "/requests/{task_id:uuid}", response_model=TaskOut, responses=REQUEST_ERRORS, summary="Cancel a valet request"
)
async def cancel(task_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep) -> TaskOut:
    """Free until the valet is on the way, then `MAEUL_VALET_CANCEL_FEE_KRW`; not once the car is in the valet's
    hands (409). Cancelling a parking request also cancels its booking under the booking policy."""
    task = await valet.cancel(session, actor=actor, task_id=task_id, rules=state.valet, policy=state.policy, now=now)
    out = await task_detail(state, session, task, now=now)
    await session.commit()
    return out
