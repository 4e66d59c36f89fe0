"""Bookings: reserve, read, cancel, check in, check out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from api.auth import Anyone, Driver, Operator, Owner
from api.deps import NowDep, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.common import ErrorOut, Instant, Page, page
from api.schemas.parking import AssistedBookingIn, BookingIn, BookingOut
from api.state import AppState
from core.errors import InvalidInput
from mobility import live
from mobility.park_and_ride import follow_booking, last_legs, plan_last_leg
from parking import service
from parking.models import BookingStatus
from parking.repository import BookingRow

router = APIRouter(prefix="/bookings", tags=["bookings"])

Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
Offset = Annotated[int, Query(ge=0, le=100_000)]
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}}
BOOKING_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    402: {"model": ErrorOut, "description": "insufficient_funds: the driver's wallet cannot hold the quote"},
}


@router.post("", response_model=BookingOut, status_code=201, responses=BOOKING_ERRORS, summary="Book a slot")
async def create_booking(
    body: BookingIn,
    actor: Driver,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> BookingOut:
    """Reserve a slot for [start, end). The interval must lie inside the slot's sharing windows (409
    `outside_sharing_window`) and no other booking may hold any part of it (409 `slot_unavailable`, enforced by a
    PostgreSQL exclusion constraint). Send an `Idempotency-Key` so that a retry never books twice.

    Park-and-ride: with `park_and_ride`, the same request also reserves a shared scooter or e-bike for the last
    leg (both are made, or neither). Nothing is held until check-out; then the nearest available vehicle of the
    type within `radius_m` of the slot is reserved for the driver for `MAEUL_RIDE_RESERVATION_MINUTES` (unlock it
    with `POST /rides`). Cancelling the booking, or a no-show, undoes the leg."""

    return await create_once(  # type: ignore[return-value]
        session,
        actor=actor,
        key=idempotency_key,
        operation="POST /bookings",
        payload=body,
        work=lambda: _book(body, driver=actor, seen_by=actor, state=state, session=session, now=now),
    )


@router.post(
    "/assisted",
    response_model=BookingOut,
    status_code=201,
    responses=BOOKING_ERRORS,
    summary="Book a slot on a resident's behalf",
)
async def create_assisted_booking(
    body: AssistedBookingIn,
    actor: Operator,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> BookingOut:
    """Assisted booking, for residents who cannot use the app (14% of the pilot's complaints were about digital
    skills): the village enterprise's operator books for the driver `driver_id` (a resident or an owner, else 422;
    404 when there is no such account) exactly as `POST /bookings` would, paid from the driver's wallet; the
    booking records who made it (`assisted_by`), and the driver sees and manages it as their own."""
    driver = await service.driver_of_assisted_booking(session, body.driver_id)
    return await create_once(  # type: ignore[return-value]
        session,
        actor=actor,
        key=idempotency_key,
        operation="POST /bookings/assisted",
        payload=body,
        work=lambda: _book(body, driver=driver, seen_by=actor, state=state, session=session, now=now),
    )


async def _book(
    body: BookingIn, *, driver: Actor, seen_by: Actor, state: AppState, session: AsyncSession, now: datetime
) -> BookingOut:
    row = await service.create_booking(
        session,
        driver=driver,
        slot_id=body.slot_id,
        start=body.start,
        end=body.end,
        vehicle_plate=body.vehicle_plate,
        policy=state.policy,
        now=now,
        assisted_by=seen_by.id if seen_by.id != driver.id else None,
    )
    leg = None
    if body.park_and_ride is not None:
        leg = await plan_last_leg(
            session,
            booking=row.booking,
            type_code=body.park_and_ride.type_code,
            radius_m=body.park_and_ride.radius_m,
            now=now,
        )
    return BookingOut.of(row, seen_by, leg)


@dataclass
class BookingQuery:
    """Filters and page of a booking listing (query parameters)."""

    slot_id: uuid.UUID | None = None
    status: Annotated[list[BookingStatus] | None, Query(description="any of these states")] = None
    start: Annotated[Instant | None, Query(description="with end: bookings overlapping [start, end)")] = None
    end: Annotated[Instant | None, Query()] = None
    limit: Limit = 50
    offset: Offset = 0


async def _list(
    actor: Actor, query: BookingQuery, *, as_slot_owner: bool, state: AppState, session: AsyncSession, now: datetime
) -> dict[str, object]:
    start, end = query.start, query.end
    if (start is None) != (end is None) or (start is not None and end is not None and end <= start):
        raise InvalidInput("give both start and end, with end after start, to filter by period")
    rows = await service.list_bookings(
        session,
        actor=actor,
        as_slot_owner=as_slot_owner,
        slot_id=query.slot_id,
        statuses=query.status or [],
        overlapping=(start, end) if start is not None and end is not None else None,
        limit=query.limit + 1,
        offset=query.offset,
        policy=state.policy,
        now=now,
    )
    legs = await last_legs(session, [row.booking.id for row in rows])
    await session.commit()  # listing may have moved expired bookings along
    return page(
        [BookingOut.of(row, actor, legs.get(row.booking.id)) for row in rows], limit=query.limit, offset=query.offset
    )


@router.get("", response_model=Page[BookingOut], summary="List bookings")
async def list_bookings(
    actor: Anyone, query: Annotated[BookingQuery, Depends()], state: StateDep, session: SessionDep, now: NowDep
) -> dict[str, object]:
    """Drivers see their own bookings; village enterprise staff, admins and the city see all (the city without
    driver identity). Newest start first."""
    return await _list(actor, query, as_slot_owner=False, state=state, session=session, now=now)


@router.get("/on-my-slots", response_model=Page[BookingOut], summary="Bookings on the caller's slots (owners)")
async def bookings_on_my_slots(
    actor: Owner, query: Annotated[BookingQuery, Depends()], state: StateDep, session: SessionDep, now: NowDep
) -> dict[str, object]:
    """What an owner needs to know of the bookings on their slots: when and in what state; never who."""
    return await _list(actor, query, as_slot_owner=True, state=state, session=session, now=now)


@router.get(
    "/{booking_id:uuid}", response_model=BookingOut, responses={404: {"model": ErrorOut}}, summary="One booking"
)
async def get_booking(
    booking_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> BookingOut:
    """The driver, the slot's owner (without driver identity), staff and the city may read a booking; for anyone
    else it does not exist (404)."""
    row = await service.get_booking(session, actor=actor, booking_id=booking_id, policy=state.policy, now=now)
    leg = await follow_booking(session, booking=row.booking, rules=state.fleet, now=now)
    await session.commit()
    return BookingOut.of(row, actor, leg)


def _transition_route(action: str, summary: str, description: str) -> None:
    change = getattr(service, action)

    async def route(
        booking_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
    ) -> BookingOut:
        row: BookingRow = await change(session, actor=actor, booking_id=booking_id, policy=state.policy, now=now)
        leg = await follow_booking(session, booking=row.booking, rules=state.fleet, now=now)
        await session.commit()
        if leg is not None and leg.vehicle_id is not None:
            await live.sync_committed(state.redis, session, [leg.vehicle_id])
        return BookingOut.of(row, actor, leg)

    route.__doc__ = description
    path = action.replace("_booking", "").replace("_", "-")
    router.add_api_route(
        f"/{{booking_id:uuid}}/{path}",
        route,
        methods=["POST"],
        response_model=BookingOut,
        responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
        summary=summary,
        name=action,
    )


_transition_route(
    "cancel_booking",
    "Cancel a reservation",
    "Only a `reserved` booking can be cancelled (by its driver or staff); the slot is free again at once, and a "
    "park-and-ride leg is undone with it.",
)
_transition_route(
    "check_in",
    "Check in on arrival",
    "reserved -> active. Opens `MAEUL_EARLY_CHECK_IN_MINUTES` before start; a reservation not checked in by start + "
    "`MAEUL_NO_SHOW_GRACE_MINUTES` becomes `no_show` and frees the slot.",
)
_transition_route(
    "check_out",
    "Check out on leaving",
    "active or overstayed -> completed. An active booking still parked at end + `MAEUL_OVERSTAY_GRACE_MINUTES` "
    "becomes `overstayed`. A park-and-ride leg then holds the nearest available vehicle for the driver (see "
    "`park_and_ride` in the response: `held` with the vehicle, or `unfulfilled` with the reason).",
)
