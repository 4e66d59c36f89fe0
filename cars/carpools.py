"""Carpools on happiness cars: a driver with a booking of the car offers seats on the trip; residents ask for a seat;
the driver accepts or declines; at the end every rider pays their share to the driver through the wallets.

The cost rule (documented, tested): the driver names the trip's cost (at most the booking's quote); each of the n
riders whose seat was accepted pays cost / (n + 1), rounded down, the driver carrying their own share and the
rounding. A rider's most possible share (cost / 2, with one rider) is held when their seat is accepted; at
completion the share is captured to the driver's wallet and the rest released. A cancelled carpool releases
everyone. Nobody sees another participant's identity beyond a display name.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Account
from billing import journal
from billing.wallet import Wallet
from cars.errors import (
    CarBookingNotFound,
    CarpoolFull,
    CarpoolNotFound,
    InvalidCarpoolTransition,
)
from cars.models import (
    HOLDING,
    CarBooking,
    Carpool,
    CarpoolRating,
    CarpoolSeat,
    CarpoolStatus,
    SeatStatus,
)
from core.errors import Forbidden, InvalidInput
from geo.spatial import geography_point, latitude, longitude
from ledger import log as ledger

HOLD_VALID = timedelta(days=2)


def share(cost_krw: int, riders: int) -> int:
    """Each rider's share of a trip costing `cost_krw` with `riders` riders beside the driver."""
    return cost_krw // (riders + 1)


async def offer(
    session: AsyncSession,
    *,
    driver: Actor,
    booking_id: uuid.UUID,
    origin: tuple[float, float],
    destination: tuple[float, float],
    depart_from: datetime,
    depart_until: datetime,
    seats: int,
    cost_krw: int,
    now: datetime,
) -> Carpool:
    """Seats on a trip of the driver's own car booking (holding, departing within it), at most its quote."""
    booking = await session.get(CarBooking, booking_id)
    if booking is None or booking.driver_id != driver.id or booking.status not in HOLDING:
        raise CarBookingNotFound(f"no car booking {booking_id} of yours to share")
    assert booking.period.lower is not None and booking.period.upper is not None
    if depart_until <= depart_from or depart_from < now - timedelta(minutes=5):
        raise InvalidInput("the departure window must end after it starts, and not lie in the past")
    if depart_from < booking.period.lower or depart_until > booking.period.upper:
        raise InvalidInput("the departure window lies outside your booking of the car", extra={"field": "depart_from"})
    if cost_krw > booking.quote_krw:
        raise InvalidInput(
            f"the cost shared is at most the booking's quote, {booking.quote_krw} KRW", extra={"field": "cost_krw"}
        )
    carpool = Carpool(
        id=uuid.uuid4(),
        driver_id=driver.id,
        booking_id=booking.id,
        origin=geography_point(*origin),
        destination=geography_point(*destination),
        depart_from=depart_from,
        depart_until=depart_until,
        seats=seats,
        cost_krw=cost_krw,
        status=CarpoolStatus.OPEN,
        status_changed_at=now,
    )
    carpool.created_at = now
    session.add(carpool)
    await session.flush()
    return carpool


async def carpool_for(session: AsyncSession, carpool_id: uuid.UUID, *, lock: bool = False) -> Carpool:
    found = await session.get(Carpool, carpool_id, with_for_update=lock, populate_existing=lock)
    if found is None:
        raise CarpoolNotFound(f"carpool {carpool_id} not found")
    return found


async def seats_of(session: AsyncSession, carpool_id: uuid.UUID) -> list[CarpoolSeat]:
    return list(
        await session.scalars(
            select(CarpoolSeat).where(CarpoolSeat.carpool_id == carpool_id).order_by(CarpoolSeat.created_at)
        )
    )


async def open_carpools(session: AsyncSession, *, now: datetime, limit: int, offset: int) -> Sequence[Carpool]:
    query = (
        select(Carpool)
        .where(Carpool.status == CarpoolStatus.OPEN, Carpool.depart_until > now)
        .order_by(Carpool.depart_from, Carpool.id)
    )
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def ask(session: AsyncSession, *, rider: Actor, carpool_id: uuid.UUID, now: datetime) -> CarpoolSeat:
    """A resident asks for a seat (once per carpool)."""
    carpool = await carpool_for(session, carpool_id, lock=True)
    if carpool.status != CarpoolStatus.OPEN or carpool.depart_until <= now:
        raise InvalidCarpoolTransition(f"this carpool is {carpool.status}", extra={"status": carpool.status})
    if carpool.driver_id == rider.id:
        raise InvalidInput("you drive this carpool")
    seat = CarpoolSeat(carpool_id=carpool.id, rider_id=rider.id, status=SeatStatus.REQUESTED, status_changed_at=now)
    seat.created_at = now
    try:
        async with session.begin_nested():
            session.add(seat)
            await session.flush()
    except IntegrityError:
        raise InvalidCarpoolTransition("you have asked for a seat in this carpool already") from None
    return seat


async def answer(
    session: AsyncSession, *, driver: Actor, carpool_id: uuid.UUID, seat_id: uuid.UUID, accept: bool, now: datetime
) -> CarpoolSeat:
    """The driver accepts a request (the rider's most possible share is held) or declines it."""
    carpool = await carpool_for(session, carpool_id, lock=True)
    if carpool.driver_id != driver.id:
        raise Forbidden("only the driver answers seat requests")
    seat = await session.get(CarpoolSeat, seat_id, with_for_update=True)
    if seat is None or seat.carpool_id != carpool.id:
        raise CarpoolNotFound(f"seat {seat_id} not found in this carpool")
    if seat.status != SeatStatus.REQUESTED or carpool.status != CarpoolStatus.OPEN:
        raise InvalidCarpoolTransition(f"this seat is {seat.status}", extra={"status": seat.status})
    if accept:
        taken = sum(s.status == SeatStatus.ACCEPTED for s in await seats_of(session, carpool.id))
        if taken >= carpool.seats:
            raise CarpoolFull(f"all {carpool.seats} seats are taken")
        most = share(carpool.cost_krw, 1)
        if most:
            hold = await Wallet().hold(
                session, driver_id=seat.rider_id, amount=most, booking_id=None, expires_at=now + HOLD_VALID, now=now
            )
            seat.hold_id = hold.id
    seat.status, seat.status_changed_at = (SeatStatus.ACCEPTED if accept else SeatStatus.DECLINED), now
    await session.flush()
    return seat


async def leave(session: AsyncSession, *, rider: Actor, carpool_id: uuid.UUID, now: datetime) -> CarpoolSeat:
    """A rider cancels their seat before the carpool completes; what was held is released."""
    carpool = await carpool_for(session, carpool_id, lock=True)
    seat = await session.scalar(
        select(CarpoolSeat).where(CarpoolSeat.carpool_id == carpool.id, CarpoolSeat.rider_id == rider.id)
    )
    if seat is None:
        raise CarpoolNotFound("you have no seat in this carpool")
    if carpool.status != CarpoolStatus.OPEN or seat.status not in (SeatStatus.REQUESTED, SeatStatus.ACCEPTED):
        raise InvalidCarpoolTransition(f"this seat is {seat.status}", extra={"status": seat.status})
    await _release(session, seat, now=now)
    return seat


async def _release(session: AsyncSession, seat: CarpoolSeat, *, now: datetime) -> None:
    if seat.hold_id is not None:
        await Wallet().release(session, hold_id=seat.hold_id, now=now)
    seat.status, seat.status_changed_at = SeatStatus.CANCELLED, now


async def cancel(session: AsyncSession, *, driver: Actor, carpool_id: uuid.UUID, now: datetime) -> Carpool:
    """The driver calls it off: every seat is released."""
    carpool = await carpool_for(session, carpool_id, lock=True)
    if carpool.driver_id != driver.id and not driver.is_operator:
        raise Forbidden("only the driver calls a carpool off")
    if carpool.status != CarpoolStatus.OPEN:
        raise InvalidCarpoolTransition(f"this carpool is {carpool.status}", extra={"status": carpool.status})
    for seat in await seats_of(session, carpool.id):
        if seat.status in (SeatStatus.REQUESTED, SeatStatus.ACCEPTED):
            await _release(session, seat, now=now)
    carpool.status, carpool.status_changed_at = CarpoolStatus.CANCELLED, now
    await session.flush()
    return carpool


async def complete(session: AsyncSession, *, driver: Actor, carpool_id: uuid.UUID, now: datetime) -> Carpool:
    """The trip is done: each accepted rider pays cost / (riders + 1) to the driver's wallet, on the journal and the
    ledger; requests never answered lapse."""
    carpool = await carpool_for(session, carpool_id, lock=True)
    if carpool.driver_id != driver.id:
        raise Forbidden("only the driver completes a carpool")
    if carpool.status != CarpoolStatus.OPEN:
        raise InvalidCarpoolTransition(f"this carpool is {carpool.status}", extra={"status": carpool.status})
    seats = await seats_of(session, carpool.id)
    riders = [s for s in seats if s.status == SeatStatus.ACCEPTED]
    each = share(carpool.cost_krw, len(riders))
    wallet = Wallet()
    for seat in seats:
        if seat.status == SeatStatus.REQUESTED:
            seat.status, seat.status_changed_at = SeatStatus.DECLINED, now
    for seat in riders:
        if seat.hold_id is not None:
            if each:
                await wallet.capture(
                    session, hold_id=seat.hold_id, amount=each, shares={journal.wallet(driver.id): 10_000}, now=now
                )
            await wallet.release(session, hold_id=seat.hold_id, now=now)
        seat.share_krw, seat.status, seat.status_changed_at = each, SeatStatus.RIDDEN, now
    carpool.status, carpool.status_changed_at = CarpoolStatus.COMPLETED, now
    await ledger.append(
        session,
        ledger.Record(
            kind="carpool.completed",
            subject=f"carpool:{carpool.id}",
            at=now,
            body={"carpool_id": carpool.id, "riders": len(riders), "share_krw": each, "cost_krw": carpool.cost_krw},
        ),
    )
    await session.flush()
    return carpool


async def rate(
    session: AsyncSession,
    *,
    rater: Actor,
    carpool_id: uuid.UUID,
    rated_id: uuid.UUID,
    score: int,
    comment: str | None,
    now: datetime,
) -> CarpoolRating:
    """After a completed carpool the driver rates each rider and each rider the driver, once."""
    carpool = await carpool_for(session, carpool_id)
    if carpool.status != CarpoolStatus.COMPLETED:
        raise InvalidCarpoolTransition("a carpool is rated once it is completed", extra={"status": carpool.status})
    riders = {s.rider_id for s in await seats_of(session, carpool.id) if s.status == SeatStatus.RIDDEN}
    allowed = (rater.id == carpool.driver_id and rated_id in riders) or (
        rater.id in riders and rated_id == carpool.driver_id
    )
    if not allowed:
        raise Forbidden("the driver rates the riders, a rider the driver")
    rating = CarpoolRating(carpool_id=carpool.id, rater_id=rater.id, rated_id=rated_id, score=score, comment=comment)
    rating.created_at = now
    try:
        async with session.begin_nested():
            session.add(rating)
            await session.flush()
    except IntegrityError:
        raise InvalidCarpoolTransition("you have rated them for this carpool already") from None
    return rating


async def ends_of(session: AsyncSession, carpool_id: uuid.UUID) -> tuple[float, float, float, float]:
    """(origin lon, lat, destination lon, lat)."""
    row = (
        await session.execute(
            select(
                longitude(Carpool.origin),
                latitude(Carpool.origin),
                longitude(Carpool.destination),
                latitude(Carpool.destination),
            ).where(Carpool.id == carpool_id)
        )
    ).one()
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


@dataclass(frozen=True, slots=True)
class Party:
    """Who is in a carpool, as another participant sees them: a display name, never more."""

    account_id: uuid.UUID
    display_name: str
    rating: float | None  # their mean rating over all carpools


async def parties(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Party]:
    named = await session.execute(select(Account.id, Account.display_name).where(Account.id.in_(account_ids)))
    names = {account_id: name for account_id, name in named}
    rated = await session.execute(
        select(CarpoolRating.rated_id, func.avg(CarpoolRating.score))
        .where(CarpoolRating.rated_id.in_(account_ids))
        .group_by(CarpoolRating.rated_id)
    )
    means = {account_id: float(mean) for account_id, mean in rated}
    return {i: Party(i, names.get(i, ""), round(float(means[i]), 2) if i in means else None) for i in account_ids}
