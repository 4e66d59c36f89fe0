"""Shared-slot inventory: search, slots, sharing windows and availability."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.auth import Anyone, SlotManager, SlotReader
from api.deps import NowDep, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.common import ErrorOut, Instant, Latitude, Longitude, Page, page
from api.schemas.parking import (
    AvailabilityOut,
    ExceptionIn,
    ExceptionOut,
    Period,
    SharingOut,
    SlotIn,
    SlotMatchOut,
    SlotOut,
    SlotPatch,
    WeeklyIn,
)
from core.errors import InvalidInput
from parking import service
from parking.models import SlotSize
from parking.policy import WeeklyWindow
from parking.repository import SlotFilters

router = APIRouter(prefix="/slots", tags=["slots"])

Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10_000)]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "the change would break bookings; they are listed"}
}


@router.get(
    "/search",
    response_model=Page[SlotMatchOut],
    responses={422: {"model": ErrorOut}},
    summary="Find slots free for a whole interval near a destination",
)
async def search(
    actor: Anyone,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    lat: Annotated[Latitude, Query()],
    lon: Annotated[Longitude, Query()],
    start: Annotated[Instant, Query(description="ISO 8601 with offset")],
    end: Annotated[Instant, Query(description="ISO 8601 with offset, after start")],
    max_walk_m: Annotated[int | None, Query(ge=1, description="estimated walking metres; default 500")] = None,
    ev_charger: bool | None = None,
    accessible: bool | None = None,
    size: SlotSize | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> dict[str, object]:
    """Slots whose sharing windows cover all of [start, end) and that no booking holds, nearest first.
    Walking distance is estimated as straight-line distance x `MAEUL_WALK_DETOUR_FACTOR`."""
    settings = state.settings
    walk = max_walk_m or settings.default_max_walk_m
    if walk > settings.max_walk_limit_m:
        raise InvalidInput(f"max_walk_m may be at most {settings.max_walk_limit_m}")
    matches = await service.search(
        session,
        lon=lon,
        lat=lat,
        start=start,
        end=end,
        max_walk_m=walk,
        walk_detour_factor=settings.walk_detour_factor,
        filters=SlotFilters(ev_charger=ev_charger, accessible=accessible, size=size),
        limit=limit + 1,
        offset=offset,
        policy=state.policy,
        now=now,
    )
    await session.commit()  # the search may have moved expired reservations to no_show
    items = [SlotMatchOut.of(m, detour=settings.walk_detour_factor) for m in matches]
    return page(items, limit=limit, offset=offset)


@router.get("", response_model=Page[SlotOut], summary="List slots (owners: their own; staff and city: all)")
async def list_slots(
    actor: SlotReader, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> dict[str, object]:
    views = await service.list_slots(session, actor=actor, limit=limit + 1, offset=offset)
    return page([SlotOut.of(v) for v in views], limit=limit, offset=offset)


@router.post(
    "",
    response_model=SlotOut,
    status_code=201,
    responses={
        403: {"model": ErrorOut},
        404: {"model": ErrorOut, "description": "`lot_not_found`, `account_not_found` (the owner given)"},
        409: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
    summary="Register a slot",
)
async def create_slot(
    body: SlotIn, actor: SlotManager, session: SessionDep, idempotency_key: IdempotencyKeyHeader = None
) -> SlotOut:
    """Owners register their own `private_individual` slots; village enterprise staff and admins register any kind
    for any owner. The slot starts with no sharing windows: publish them with PUT /slots/{id}/sharing/weekly."""

    async def work() -> SlotOut:
        view = await service.create_slot(
            session,
            actor=actor,
            code=body.code,
            kind=body.kind,
            lon=body.location.lon,
            lat=body.location.lat,
            owner_id=body.owner_id or actor.id,
            lot_id=body.lot_id,
            operator_id=body.operator_id,
            ev_charger=body.ev_charger,
            accessible=body.accessible,
            size=body.size,
        )
        return SlotOut.of(view)

    return await create_once(  # type: ignore[return-value]
        session, actor=actor, key=idempotency_key, operation="POST /slots", payload=body, work=work
    )


@router.get("/{slot_id:uuid}", response_model=SlotOut, responses={404: {"model": ErrorOut}}, summary="One slot")
async def get_slot(slot_id: uuid.UUID, actor: Anyone, session: SessionDep) -> SlotOut:
    return SlotOut.of(await service.get_slot(session, slot_id))


@router.patch(
    "/{slot_id:uuid}",
    response_model=SlotOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, **CONFLICT},
    summary="Change a slot's attributes or withdraw it",
)
async def patch_slot(
    slot_id: uuid.UUID, body: SlotPatch, actor: SlotManager, session: SessionDep, now: NowDep
) -> SlotOut:
    view = await service.update_slot(session, actor=actor, slot_id=slot_id, now=now, **body.model_dump())
    await session.commit()
    return SlotOut.of(view)


@router.get(
    "/{slot_id:uuid}/sharing",
    response_model=SharingOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="A slot's sharing windows (its managers and the city)",
)
async def get_sharing(
    slot_id: uuid.UUID, actor: SlotReader, state: StateDep, session: SessionDep, now: NowDep
) -> SharingOut:
    sharing = await service.get_sharing(session, actor=actor, slot_id=slot_id, now=now)
    return SharingOut.of(slot_id, sharing, timezone=state.policy.timezone)


@router.put(
    "/{slot_id:uuid}/sharing/weekly",
    response_model=SharingOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, **CONFLICT},
    summary="Replace a slot's weekly sharing windows",
)
async def put_weekly(
    slot_id: uuid.UUID, body: WeeklyIn, actor: SlotManager, state: StateDep, session: SessionDep, now: NowDep
) -> SharingOut:
    """Weekly recurring windows in local time (Asia/Seoul), e.g. `{"weekdays": ["mon", ..., "fri"], "start": "09:00",
    "end": "18:00"}`. A window whose end is at or before its start runs overnight. Refused with 409
    `sharing_conflicts_with_bookings`, listing the bookings, if any booking would fall outside the new windows."""
    windows = [WeeklyWindow.parse(list(w.weekdays), w.start, w.end) for w in body.windows]
    sharing = await service.replace_weekly_windows(
        session, actor=actor, slot_id=slot_id, windows=windows, policy=state.policy, now=now
    )
    await session.commit()
    return SharingOut.of(slot_id, sharing, timezone=state.policy.timezone)


@router.post(
    "/{slot_id:uuid}/sharing/exceptions",
    response_model=ExceptionOut,
    status_code=201,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, **CONFLICT},
    summary="Add a one-off extra window or a blackout",
)
async def add_exception(
    slot_id: uuid.UUID,
    body: ExceptionIn,
    actor: SlotManager,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ExceptionOut:
    """`extra` shares the slot for a period outside its weekly windows; `blackout` takes it back (refused with 409,
    listing the bookings, if a booking holds that time)."""

    async def work() -> ExceptionOut:
        exception = await service.add_exception(
            session,
            actor=actor,
            slot_id=slot_id,
            kind=body.kind,
            start=body.start,
            end=body.end,
            note=body.note,
            policy=state.policy,
            now=now,
        )
        return ExceptionOut.of(exception)

    operation = f"POST /slots/{slot_id}/sharing/exceptions"
    return await create_once(  # type: ignore[return-value]
        session, actor=actor, key=idempotency_key, operation=operation, payload=body, work=work
    )


@router.delete(
    "/{slot_id:uuid}/sharing/exceptions/{exception_id:uuid}",
    status_code=204,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, **CONFLICT},
    summary="Remove an extra window or a blackout",
)
async def remove_exception(
    slot_id: uuid.UUID,
    exception_id: uuid.UUID,
    actor: SlotManager,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    await service.remove_exception(
        session, actor=actor, slot_id=slot_id, exception_id=exception_id, policy=state.policy, now=now
    )
    await session.commit()
    return Response(status_code=204)


@router.get(
    "/{slot_id:uuid}/availability",
    response_model=AvailabilityOut,
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Free periods of a slot",
)
async def availability(
    slot_id: uuid.UUID,
    actor: Anyone,
    state: StateDep,
    session: SessionDep,
    start: Annotated[Instant, Query()],
    end: Annotated[Instant, Query()],
) -> AvailabilityOut:
    """Periods within [start, end) that are in the slot's sharing windows and not booked."""
    free = await service.availability(session, slot_id=slot_id, start=start, end=end, policy=state.policy)
    return AvailabilityOut(slot_id=slot_id, start=start, end=end, free=[Period(start=s, end=e) for s, e in free])
