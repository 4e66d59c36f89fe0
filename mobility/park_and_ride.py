"""Park-and-ride: a parking booking's last leg by scooter, held at check-out on the nearest vehicle of its type."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from mobility import repository
from mobility.errors import (
    RiderBusy,
)
from mobility.models import (
    ParkAndRide,
    ParkAndRideStatus,
)
from mobility.reservations import hold, move_leg, rider_free
from mobility.rules import FleetRules
from mobility.vehicles import vehicle_type
from parking import service as parking
from parking.models import Booking, BookingStatus
from parking.policy import BookingPolicy

FREE_FLOATING = ("scooter_standing", "bicycle")  # form factors a park-and-ride leg may take


BOOKING_ENDED = (BookingStatus.CANCELLED, BookingStatus.NO_SHOW, BookingStatus.COMPLETED)  # a waiting leg follows


async def plan_last_leg(
    session: AsyncSession, *, booking: Booking, type_code: str, radius_m: int, now: datetime
) -> ParkAndRide:
    """A vehicle reservation for the last leg of a parking booking, in the booking's transaction: nothing is held
    until the booking is checked out."""
    kind = await vehicle_type(session, type_code)
    if kind.form_factor not in FREE_FLOATING:
        raise InvalidInput(
            f"park-and-ride takes a shared scooter or bicycle, not a {kind.form_factor}",
            extra={"type_code": type_code},
        )
    leg = ParkAndRide(
        booking_id=booking.id,
        rider_id=booking.driver_id,
        type_code=type_code,
        radius_m=radius_m,
        status=ParkAndRideStatus.WAITING,
        status_changed_at=now,
    )
    session.add(leg)
    await session.flush()
    return leg


async def last_legs(session: AsyncSession, booking_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ParkAndRide]:
    rows = await session.execute(select(ParkAndRide).where(ParkAndRide.booking_id.in_(booking_ids)))
    return {leg.booking_id: leg for leg in rows.scalars()}


async def follow_booking(
    session: AsyncSession, *, booking: Booking, rules: FleetRules, now: datetime
) -> ParkAndRide | None:
    """Keep the booking's last leg in step with it: undone with a cancelled or no-show booking; at check-out the
    nearest available vehicle of the type within the radius of the slot is reserved for the driver for
    `rules.reservation` (or the leg is unfulfilled, with the reason, and parking is not affected)."""
    ended = booking.status in BOOKING_ENDED
    query = select(ParkAndRide).where(ParkAndRide.booking_id == booking.id)
    leg = await session.scalar(query.with_for_update() if ended else query)  # lock only when it may change
    if leg is None or leg.status != ParkAndRideStatus.WAITING or not ended:
        return leg
    if booking.status in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW):
        move_leg(leg, ParkAndRideStatus.CANCELLED, now=now, note=f"the parking booking is {booking.status}")
    elif booking.status == BookingStatus.COMPLETED:
        await _hold_last_leg(session, leg, booking=booking, rules=rules, now=now)
    await session.flush()
    return leg


async def _hold_last_leg(
    session: AsyncSession, leg: ParkAndRide, *, booking: Booking, rules: FleetRules, now: datetime
) -> None:
    try:
        await rider_free(session, leg.rider_id, now=now, except_vehicle=None)
    except RiderBusy as busy:
        move_leg(leg, ParkAndRideStatus.UNFULFILLED, now=now, note=busy.detail)
        return
    vehicle = await repository.nearest_rentable(
        session,
        type_code=leg.type_code,
        slot_id=booking.slot_id,
        radius_m=leg.radius_m,
        min_battery_pct=rules.battery_low_pct,
    )
    if vehicle is None:
        move_leg(
            leg,
            ParkAndRideStatus.UNFULFILLED,
            now=now,
            note=f"no {leg.type_code} was available within {leg.radius_m} m of the slot at check-out",
        )
        return
    await hold(session, vehicle, rider_id=leg.rider_id, rules=rules, now=now)
    leg.vehicle_id, leg.held_until = vehicle.id, vehicle.reserved_until
    move_leg(leg, ParkAndRideStatus.HELD, now=now)


async def follow_bookings(
    session: AsyncSession, *, rules: FleetRules, policy: BookingPolicy, now: datetime
) -> list[uuid.UUID]:
    """The worker's sweep: waiting legs follow bookings that ended by the clock (a no-show) or by another path.
    Returns the vehicles held, for the live index."""
    waiting = list(
        (
            await session.execute(select(ParkAndRide.booking_id).where(ParkAndRide.status == ParkAndRideStatus.WAITING))
        ).scalars()
    )
    await parking.advance(session, booking_ids=waiting, policy=policy, now=now)
    ended = await session.execute(
        select(Booking).where(
            Booking.id.in_(waiting),
            Booking.status.in_(BOOKING_ENDED),
        )
    )
    held = []
    for booking in ended.scalars():
        leg = await follow_booking(session, booking=booking, rules=rules, now=now)
        if leg is not None and leg.vehicle_id is not None:
            held.append(leg.vehicle_id)
    return held
