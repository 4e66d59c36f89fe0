"""Matching drivers to shared slots with the OR-Tools solver: now (instant booking) or later (batch runs)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from arq import create_pool
from arq.connections import RedisSettings
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import Anyone, Driver, Operator
from api.deps import NowDep, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.common import ErrorOut, Location, Page, page
from api.schemas.parking import BookingOut, InstantOut, MatchRequestOut, NeedIn
from core.redis import redis_url
from parking import allocation, repository
from parking.models import MatchRequest

router = APIRouter(prefix="/matching", tags=["matching"])
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}}


async def _out(session: SessionDep, request: MatchRequest) -> MatchRequestOut:
    lon, lat = await repository.match_destination(session, request.id)
    assert request.period.lower is not None and request.period.upper is not None
    return MatchRequestOut(
        id=request.id,
        status=request.status,
        start=request.period.lower,
        end=request.period.upper,
        destination=Location(lon=lon, lat=lat),
        max_walk_m=request.max_walk_m,
        needs_ev=request.needs_ev,
        needs_accessible=request.needs_accessible,
        vehicle_size=request.vehicle_size,
        booking_id=request.booking_id,
        attempts=request.attempts,
        explanation=request.explanation,
        created_at=request.created_at,
        status_changed_at=request.status_changed_at,
    )


@router.post(
    "/instant",
    response_model=InstantOut,
    status_code=201,
    responses={
        **ERRORS,
        402: {"model": ErrorOut, "description": "insufficient_funds: the wallet cannot hold the quote"},
    },
    summary="Match and book now",
)
async def instant(
    body: NeedIn,
    actor: Driver,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> InstantOut:
    """The solver picks the best free slot for the destination and needs (walk, then price; accessibility and
    permit-holding residents first) and books it at once. 409 `no_slot_available` with an explanation when none fits.
    A slot lost to a concurrent booking is excluded and the driver matched again."""

    async def work() -> InstantOut:
        result = await allocation.book_instant(
            session, driver=actor, need=body.need(), policy=state.policy, solving=state.matching(), now=now
        )
        return InstantOut(booking=BookingOut.of(result.booking, actor), explanation=result.explanation)

    return await create_once(  # type: ignore[return-value]
        session, actor=actor, key=idempotency_key, operation="POST /matching/instant", payload=body, work=work
    )


@router.post(
    "/requests", response_model=MatchRequestOut, status_code=202, responses=ERRORS, summary="Ask for parking later"
)
async def request_later(
    body: NeedIn,
    actor: Driver,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MatchRequestOut:
    """Queued for the batch worker, which matches all pending requests together every
    `MAEUL_MATCHING_BATCH_EVERY_SECONDS` (and on demand). Poll `GET /matching/requests/{id}` for the outcome."""

    async def work() -> MatchRequestOut:
        queued = await allocation.request_later(session, driver=actor, need=body.need(), policy=state.policy, now=now)
        return await _out(session, queued)

    return await create_once(  # type: ignore[return-value]
        session,
        actor=actor,
        key=idempotency_key,
        operation="POST /matching/requests",
        payload=body,
        work=work,
        status_code=202,
    )


@router.get("/requests", response_model=Page[MatchRequestOut], summary="Requests for later (own; staff: all)")
async def list_requests(
    actor: Anyone,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, object]:
    found = await allocation.list_requests(session, actor=actor, limit=limit + 1, offset=offset)
    return page([await _out(session, r) for r in found], limit=limit, offset=offset)


@router.get("/requests/{request_id:uuid}", response_model=MatchRequestOut, responses=ERRORS, summary="One request")
async def get_request(request_id: uuid.UUID, actor: Anyone, session: SessionDep) -> MatchRequestOut:
    """Status, the booking once matched, and the explanation of the last run."""
    return await _out(session, await allocation.get_request(session, actor=actor, request_id=request_id))


@router.post(
    "/requests/{request_id:uuid}/cancel", response_model=MatchRequestOut, responses=ERRORS, summary="Withdraw a request"
)
async def cancel_request(request_id: uuid.UUID, actor: Anyone, session: SessionDep, now: NowDep) -> MatchRequestOut:
    withdrawn = await allocation.cancel_request(session, actor=actor, request_id=request_id, now=now)
    await session.commit()
    return await _out(session, withdrawn)


@router.post("/runs", status_code=202, summary="Run a batch now (village enterprise staff, admin)")
async def run_now(actor: Operator, state: StateDep) -> JSONResponse:
    """Queues a batch run for the worker, besides the scheduled ones."""
    if state.jobs is None:
        state.jobs = await create_pool(RedisSettings.from_dsn(redis_url(state.settings)))
    job = await state.jobs.enqueue_job("match_batch")
    return JSONResponse({"job_id": job.job_id if job else None, "status": "queued"}, status_code=202)
