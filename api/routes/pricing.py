"""Prices: zone tariffs (village enterprise staff), the city's caps, and refunds of bookings (staff)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.auth import Anyone, CityOrAdmin, Operator
from api.deps import NowDep, SessionDep, StateDep
from api.schemas.billing import BandIO, CapsIO, RefundIn, TariffIn, TariffOut
from api.schemas.common import ErrorOut
from api.schemas.parking import BookingOut
from billing import service as billing
from billing.pricing import DayType
from core.errors import InvalidInput, NotFound
from geo.models import Zone
from parking import service
from parking.policy import format_clock, parse_clock

router = APIRouter(tags=["pricing"])
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}


async def _zone(session: SessionDep, zone_id: uuid.UUID) -> Zone:
    zone = await session.get(Zone, zone_id)
    if zone is None:
        raise NotFound(f"zone {zone_id} not found")
    return zone


def _grouped(rows: list[Any]) -> list[TariffOut]:
    by_kind: dict[str, list[BandIO]] = {}
    for t in rows:
        by_kind.setdefault(t.slot_kind, []).append(
            BandIO(
                day_type=DayType(t.day_type),
                start=format_clock(t.start_minute),
                end=format_clock(t.end_minute),
                unit_minutes=t.unit_minutes,
                unit_price_krw=t.unit_price_krw,
            )
        )
    return [TariffOut(slot_kind=kind, bands=bands) for kind, bands in by_kind.items()]


@router.get(
    "/zones/{zone_id:uuid}/tariffs", response_model=list[TariffOut], responses=ERRORS, summary="A zone's tariffs"
)
async def tariffs(zone_id: uuid.UUID, actor: Anyone, session: SessionDep) -> list[TariffOut]:
    await _zone(session, zone_id)
    return _grouped(await billing.tariffs_of(session, zone_id))


@router.put(
    "/zones/{zone_id:uuid}/tariffs",
    response_model=list[TariffOut],
    responses=ERRORS,
    summary="Set a zone's tariff for one slot kind (staff)",
)
async def set_tariff(zone_id: uuid.UUID, body: TariffIn, actor: Operator, session: SessionDep) -> list[TariffOut]:
    """Bands of the local day per day type (weekday, weekend, holiday), each priced per unit of time; a stay is
    billed piece by piece in whole units, rounded up. Bands of one day type must not overlap; time without a band
    cannot be booked. Bookings already made keep their locked quote."""
    await _zone(session, zone_id)
    bands = []
    for band in body.bands:
        start, end = parse_clock(band.start, allow_end_of_day=False), parse_clock(band.end, allow_end_of_day=True)
        if end <= start:
            raise InvalidInput(f"a band must end after it starts: {band.start}-{band.end}")
        bands.append(billing.BandSpec(band.day_type, start, end, band.unit_minutes, band.unit_price_krw))
    await billing.replace_tariffs(session, zone_id=zone_id, slot_kind=body.slot_kind, bands=bands)
    await session.commit()
    return _grouped(await billing.tariffs_of(session, zone_id))


@router.put(
    "/zones/{zone_id:uuid}/price-caps",
    response_model=CapsIO,
    responses=ERRORS,
    summary="Set the city's minimum and maximum price per hour in a zone (city, admin)",
)
async def set_caps(zone_id: uuid.UUID, body: CapsIO, actor: CityOrAdmin, session: SessionDep) -> CapsIO:
    """Every price in the zone, dynamic multipliers included, stays within these bounds (pro rata per unit)."""
    if body.min_krw_per_hour > body.max_krw_per_hour:
        raise InvalidInput("the minimum must not exceed the maximum")
    await _zone(session, zone_id)
    await billing.set_caps(session, zone_id=zone_id, low=body.min_krw_per_hour, high=body.max_krw_per_hour)
    await session.commit()
    return body


@router.post(
    "/bookings/{booking_id:uuid}/refund",
    response_model=BookingOut,
    responses={**ERRORS, 409: {"model": ErrorOut}},
    summary="Refund part of a booking's charge (staff)",
)
async def refund(
    booking_id: Annotated[uuid.UUID, Path()],
    body: RefundIn,
    actor: Operator,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
) -> BookingOut:
    """Returns money to the driver's wallet, taken back from the parties in the capture's proportions; never more
    than was charged and not yet refunded (409 `refund_exceeds_capture`)."""
    row = await service.refund(
        session, actor=actor, booking_id=booking_id, amount=body.amount_krw, policy=state.policy, now=now
    )
    await session.commit()
    return BookingOut.of(row, actor)
