"""A car late enough to threaten the next booking: a rebooking offer (another free car for the same time, or a full
refund) and an inspection task."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Role
from cars.bookings import book, cancel_booking, refuse
from cars.errors import (
    CarUnavailable,
    InvalidCarBookingTransition,
)
from cars.models import (
    CarBooking,
    CarBookingStatus,
    CarContract,
    OfferStatus,
    RebookingOffer,
)
from cars.repository import home, offer_for
from cars.rules import CarRules, period_of
from cars.search import free_cars
from core.outbox import notify
from geo.spatial import geography_point
from ops.models import Task, TaskKind, TaskState


async def check_late(session: AsyncSession, *, rules: CarRules, now: datetime) -> int:
    """Cars still out after their booking's end whose next booking starts within the buffer from now: that
    booking's driver is offered another car free for the whole booking (or a refund), through a notification, and
    the operators get an inspection task at the car's home slot. Once per threatened booking; the worker runs it
    every minute. The number of offers opened."""
    opened = 0
    late = await session.scalars(
        select(CarBooking).where(CarBooking.status == CarBookingStatus.ACTIVE, func.upper(CarBooking.period) < now)
    )
    for out in list(late):
        following = await session.scalar(
            select(CarBooking)
            .where(
                CarBooking.car_id == out.car_id,
                CarBooking.status == CarBookingStatus.RESERVED,
                func.lower(CarBooking.period) <= now + rules.buffer,
            )
            .order_by(func.lower(CarBooking.period))
            .limit(1)
        )
        if following is None:
            continue
        if await session.scalar(select(RebookingOffer.id).where(RebookingOffer.booking_id == following.id)):
            continue
        await _open_offer(session, late=out, threatened=following, rules=rules, now=now)
        opened += 1
    return opened


async def _open_offer(
    session: AsyncSession, *, late: CarBooking, threatened: CarBooking, rules: CarRules, now: datetime
) -> RebookingOffer:
    contract = await session.get(CarContract, late.contract_id)
    assert contract is not None
    lon, lat, _ = await home(session, contract)
    start, end = period_of(threatened)
    alternative = None
    for candidate in await free_cars(session, lon=lon, lat=lat, radius_m=1500, start=start, end=end, rules=rules):
        if candidate.car.id != threatened.car_id:
            alternative = candidate.car.id
            break
    task = Task(
        kind=TaskKind.INSPECTION,
        state=TaskState.UNASSIGNED,
        origin=geography_point(lon, lat),
        origin_from=now,
        origin_by=start,
        vehicle_id=late.car_id,
        state_changed_at=now,
    )
    session.add(task)
    await session.flush()
    offer = RebookingOffer(
        booking_id=threatened.id,
        late_booking_id=late.id,
        alternative_car_id=alternative,
        task_id=task.id,
        status=OfferStatus.OPEN,
        status_changed_at=now,
    )
    offer.created_at = now
    session.add(offer)
    await session.flush()
    notify(
        session,
        kind="car_rebooking_offer",
        audience=f"account:{threatened.driver_id}",
        subject="The car you booked is running late: take another car, or a full refund",
        body={
            "offer_id": str(offer.id),
            "booking_id": str(threatened.id),
            "alternative_car_id": str(alternative) if alternative else None,
            "start": start.isoformat(),
        },
        now=now,
    )
    notify(
        session,
        kind="car_late",
        audience=Role.OPERATOR,
        subject="A happiness car is late and the next booking is threatened",
        body={"car_id": str(late.car_id), "late_booking_id": str(late.id), "task_id": str(task.id)},
        now=now,
    )
    return offer


async def settle_offer(
    session: AsyncSession, *, actor: Actor, offer_id: uuid.UUID, accept: bool, rules: CarRules, now: datetime
) -> tuple[RebookingOffer, CarBooking]:
    """The driver takes the other car (the booking moves to it, re-quoted and held again) or the refund (the
    booking is cancelled free of any fee)."""
    offer, booking = await offer_for(session, actor=actor, offer_id=offer_id)
    if offer.status != OfferStatus.OPEN:
        raise InvalidCarBookingTransition(f"this offer is {offer.status}", extra={"status": offer.status})
    refuse(booking, "be rebooked", (CarBookingStatus.RESERVED,))
    await cancel_booking(session, booking, fee=0, now=now)
    result = booking
    if accept:
        if offer.alternative_car_id is None:
            raise CarUnavailable("no other car was free for your booking: take the refund")
        start, end = period_of(booking)
        driver = Actor(booking.driver_id, Role.RESIDENT)
        result = await book(
            session,
            driver=driver,
            car_id=offer.alternative_car_id,
            start=max(start, now),
            end=end,
            rules=rules,
            now=now,
        )
    offer.status = OfferStatus.ACCEPTED if accept else OfferStatus.REFUNDED
    offer.status_changed_at = now
    await session.flush()
    return offer, result
