"""Happiness cars' queries: contracts, their terms and the bookings of others, car bookings, rebooking offers, condition
reports."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from cars.errors import (
    CarBookingNotFound,
    CarUnavailable,
    ContractNotFound,
)
from cars.models import (
    HOLDING,
    CarBooking,
    CarContract,
    ConditionReport,
    ContractStatus,
    ExceptionKind,
    GuaranteedWindow,
    OfferStatus,
    RebookingOffer,
    WindowException,
)
from cars.rules import Terms, windows_of
from cars.windows import Interval
from geo.spatial import latitude, longitude
from parking.models import Slot


async def exceptions_of(session: AsyncSession, contract_id: uuid.UUID) -> list[WindowException]:
    query = select(WindowException).where(WindowException.contract_id == contract_id)
    return list(await session.scalars(query.order_by(func.lower(WindowException.period))))


async def terms(session: AsyncSession, contract: CarContract) -> Terms:
    rows = await session.scalars(select(GuaranteedWindow).where(GuaranteedWindow.contract_id == contract.id))
    exceptions = await exceptions_of(session, contract.id)

    def spans(kind: ExceptionKind) -> list[Interval]:
        out = []
        for e in exceptions:
            if e.kind == kind:
                assert e.period.lower is not None and e.period.upper is not None
                out.append((e.period.lower, e.period.upper))
        return out

    return Terms(contract, windows_of(list(rows)), spans(ExceptionKind.EXTRA), spans(ExceptionKind.RELEASED))


async def contract_for(
    session: AsyncSession, *, actor: Actor, contract_id: uuid.UUID, lock: bool = False
) -> CarContract:
    """The contract, for its primary user and the village enterprise (404 for anyone else)."""
    found = await session.get(CarContract, contract_id, with_for_update=lock, populate_existing=lock)
    if found is None or not (actor.is_operator or found.primary_id == actor.id):
        raise ContractNotFound(f"car contract {contract_id} not found")
    return found


async def contracts(session: AsyncSession, *, actor: Actor, limit: int, offset: int) -> Sequence[CarContract]:
    query = select(CarContract).order_by(CarContract.created_at.desc(), CarContract.id)
    if not actor.is_operator:
        query = query.where(CarContract.primary_id == actor.id)
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def others_bookings(session: AsyncSession, contract: CarContract, *, after: datetime) -> list[CarBooking]:
    """Holding bookings of the car by anyone but the primary user, not over yet."""
    return list(
        await session.scalars(
            select(CarBooking)
            .where(
                CarBooking.contract_id == contract.id,
                CarBooking.status.in_(HOLDING),
                CarBooking.driver_id != contract.primary_id,
                func.upper(CarBooking.blocked) > after,
            )
            .order_by(func.lower(CarBooking.period))
        )
    )


async def home(session: AsyncSession, contract: CarContract) -> tuple[float, float, uuid.UUID]:
    lon, lat, zone_id = (
        await session.execute(
            select(longitude(Slot.location), latitude(Slot.location), Slot.zone_id).where(
                Slot.id == contract.home_slot_id
            )
        )
    ).one()
    return float(lon), float(lat), zone_id


async def active_contract(session: AsyncSession, car_id: uuid.UUID) -> CarContract:
    contract = await session.scalar(
        select(CarContract)
        .where(CarContract.car_id == car_id, CarContract.status == ContractStatus.ACTIVE)
        .with_for_update()
    )
    if contract is None:
        raise CarUnavailable("this car is not shared at the moment (no active contract)")
    return contract


async def booking_for(session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, lock: bool = False) -> CarBooking:
    found = await session.get(CarBooking, booking_id, with_for_update=lock, populate_existing=lock)
    if found is None or not (actor.is_operator or found.driver_id == actor.id):
        raise CarBookingNotFound(f"car booking {booking_id} not found")
    return found


async def bookings(
    session: AsyncSession, *, actor: Actor, car_id: uuid.UUID | None, limit: int, offset: int
) -> Sequence[CarBooking]:
    query = select(CarBooking).order_by(func.lower(CarBooking.period).desc(), CarBooking.id)
    if not actor.is_operator:
        query = query.where(CarBooking.driver_id == actor.id)
    if car_id is not None:
        query = query.where(CarBooking.car_id == car_id)
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def offer_for(session: AsyncSession, *, actor: Actor, offer_id: uuid.UUID) -> tuple[RebookingOffer, CarBooking]:
    offer = await session.get(RebookingOffer, offer_id, with_for_update=True)
    booking = await session.get(CarBooking, offer.booking_id, with_for_update=True) if offer else None
    if offer is None or booking is None or not (actor.is_operator or booking.driver_id == actor.id):
        raise CarBookingNotFound(f"rebooking offer {offer_id} not found")
    return offer, booking


async def offers(session: AsyncSession, *, actor: Actor) -> Sequence[tuple[RebookingOffer, CarBooking]]:
    query = (
        select(RebookingOffer, CarBooking)
        .join(CarBooking, CarBooking.id == RebookingOffer.booking_id)
        .order_by(RebookingOffer.created_at.desc())
    )
    if not actor.is_operator:
        query = query.where(CarBooking.driver_id == actor.id)
    return [(o, b) for o, b in await session.execute(query.limit(100))]


async def close_offers(session: AsyncSession, *, car_id: uuid.UUID, ready: datetime, now: datetime) -> None:
    """The late car is back and `ready` after its buffer: offers nobody answered for bookings starting from then on
    are closed (those bookings go on with it); an offer for a booking the car is not ready for stays open."""
    threatened = select(CarBooking.id).where(CarBooking.car_id == car_id, func.lower(CarBooking.period) >= ready)
    for offer in await session.scalars(
        select(RebookingOffer).where(
            RebookingOffer.status == OfferStatus.OPEN, RebookingOffer.booking_id.in_(threatened)
        )
    ):
        offer.status, offer.status_changed_at = OfferStatus.CLOSED, now


async def condition_reports(
    session: AsyncSession, *, needs_attention: bool | None, handled: bool | None, limit: int, offset: int
) -> Sequence[ConditionReport]:
    query = select(ConditionReport).order_by(ConditionReport.created_at.desc(), ConditionReport.id)
    if needs_attention is not None:
        query = query.where(ConditionReport.needs_attention.is_(needs_attention))
    if handled is not None:
        query = query.where(
            ConditionReport.handled_at.is_not(None) if handled else ConditionReport.handled_at.is_(None)
        )
    return (await session.scalars(query.limit(limit).offset(offset))).all()
