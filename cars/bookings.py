"""Booking a happiness car's idle time: the price, the booking and its hold, pick-up and return with the fare,
cancellation and no-shows."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from billing.wallet import Wallet
from cars.errors import (
    CarNotBack,
    CarNotHome,
    CarUnavailable,
    InvalidCarBookingTransition,
)
from cars.models import (
    CarBooking,
    CarBookingStatus,
    CarContract,
    ConditionReport,
    Stage,
)
from cars.repository import active_contract, booking_for, close_offers, home, terms
from cars.rules import CAR, HOLD_GRACE, CarRules, period_of, shareable
from core.db import EXCLUSION_VIOLATION
from core.errors import Forbidden
from geo.spatial import geography_point
from ledger import log as ledger
from mobility import repository as fleet_repository
from mobility.models import Trip, TripStatus, Vehicle
from mobility.rides import fare_lines, ride_shares, start_trip, trip_record
from mobility.states import VehicleState
from mobility.vehicles import provider, record, vehicle_type


async def shares(session: AsyncSession, car_id: uuid.UUID) -> dict[str, int]:
    car = await session.get(Vehicle, car_id)
    assert car is not None
    return await ride_shares(session, type_code=CAR, provider_row=await provider(session, car.provider_id))


async def price(
    session: AsyncSession,
    *,
    contract: CarContract,
    start: datetime,
    end: datetime,
    primary_time: bool,
    km: float,
    fees: Sequence[tuple[str, int]],
    rules: CarRules,
) -> list[dict[str, Any]]:
    """Fare lines: the time by the home zone's car tariff and band (none in the primary user's own time), the km,
    then the fees; integer KRW that add up to the fare."""
    _, _, zone_id = await home(session, contract)
    if primary_time:
        lines: list[dict[str, Any]] = [{"kind": "time", "covered_by": "contract", "amount_krw": 0}]
    else:
        kind = await vehicle_type(session, CAR)
        lines = [
            line
            for line in await fare_lines(
                session, zone_id=zone_id, vehicle_type=kind, start=start, end=end, timezone=rules.timezone
            )
            if line["kind"] != "unlock" or line["amount_krw"]
        ]
    lines.append(
        {
            "kind": "distance",
            "km": round(km, 1),
            "unit_price_krw": rules.per_km_krw,
            "amount_krw": round(km * rules.per_km_krw),
        }
    )
    lines += [{"kind": kind, "amount_krw": amount} for kind, amount in fees]
    return lines


def _booking_record(booking: CarBooking, *, now: datetime) -> ledger.Record:
    start, end = period_of(booking)
    return ledger.Record(
        kind=f"car_booking.{booking.status}",
        subject=f"car_booking:{booking.id}",
        at=now,
        body={"booking_id": booking.id, "car_id": booking.car_id, "start": start, "end": end, "status": booking.status},
    )


async def quote_lines(
    session: AsyncSession,
    *,
    contract: CarContract,
    driver: Actor,
    start: datetime,
    end: datetime,
    rules: CarRules,
) -> tuple[bool, list[dict[str, Any]]]:
    """What booking [start, end) would hold: whether it is the driver's own (primary) time, and the fare lines of
    the time and the estimated km. Raises unless the time keeps clear of the primary user's (`shareable`)."""
    own = shareable(await terms(session, contract), driver=driver, start=start, end=end, rules=rules)
    lines = await price(
        session,
        contract=contract,
        start=start,
        end=end,
        primary_time=own,
        km=rules.estimate_km,
        fees=(),
        rules=rules,
    )
    return own, lines


async def book(
    session: AsyncSession,
    *,
    driver: Actor,
    car_id: uuid.UUID,
    start: datetime,
    end: datetime,
    rules: CarRules,
    now: datetime,
) -> CarBooking:
    """Book the car for [start, end): in shareable time (or the primary user's own), clear of other bookings and
    their buffers (the exclusion constraint decides races: one booking, the others 409 `car_unavailable`); the
    quote is held on the driver's wallet."""
    rules.policy.check_interval(start, end, now=now)
    contract = await active_contract(session, car_id)
    own, lines = await quote_lines(session, contract=contract, driver=driver, start=start, end=end, rules=rules)
    quote = sum(line["amount_krw"] for line in lines)
    booking = CarBooking(
        id=uuid.uuid4(),
        car_id=car_id,
        contract_id=contract.id,
        driver_id=driver.id,
        period=Range(start, end, bounds="[)"),
        blocked=Range(start, end + rules.buffer, bounds="[)"),
        status=CarBookingStatus.RESERVED,
        primary_time=own,
        quote_krw=quote,
        quote_lines=lines,
        status_changed_at=now,
    )
    booking.created_at = now
    try:
        async with session.begin_nested():
            session.add(booking)
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise CarUnavailable(
                "the car is booked for part of that time (with its buffer)", extra={"car_id": str(car_id)}
            ) from error
        raise
    if quote:
        hold = await Wallet().hold(
            session, driver_id=driver.id, amount=quote, booking_id=None, expires_at=end + HOLD_GRACE, now=now
        )
        booking.hold_id = hold.id
    await ledger.append(session, _booking_record(booking, now=now))
    return booking


def refuse(booking: CarBooking, action: str, allowed: tuple[CarBookingStatus, ...]) -> None:
    if booking.status not in allowed:
        raise InvalidCarBookingTransition(
            f"a {booking.status} car booking cannot {action}", extra={"status": booking.status}
        )


def _move(booking: CarBooking, status: CarBookingStatus, *, now: datetime) -> None:
    booking.status, booking.status_changed_at = status, now


async def cancel_booking(
    session: AsyncSession,
    booking: CarBooking,
    *,
    fee: int,
    now: datetime,
    status: CarBookingStatus = CarBookingStatus.CANCELLED,
) -> None:
    """Close a reserved booking (cancelled, or a no-show) with `fee` captured and the rest of its hold released."""
    wallet = Wallet()
    if booking.hold_id is not None:
        if fee:
            await wallet.capture(
                session, hold_id=booking.hold_id, amount=fee, shares=await shares(session, booking.car_id), now=now
            )
        await wallet.release(session, hold_id=booking.hold_id, now=now)
    booking.charged_krw = fee
    kind = "no_show_fee" if status == CarBookingStatus.NO_SHOW else "cancellation_fee"
    booking.charge_lines = [{"kind": kind, "amount_krw": fee}] if fee else []
    booking.cancelled_at = now
    _move(booking, status, now=now)
    await session.flush()
    await ledger.append(session, _booking_record(booking, now=now))


async def mark_no_shows(session: AsyncSession, *, rules: CarRules, now: datetime) -> int:
    """Bookings not picked up by `no_show_grace` after their start: `no_show`, the no-show share of the quote
    charged, the car free again (the worker, every minute)."""
    missed = await session.scalars(
        select(CarBooking)
        .where(
            CarBooking.status == CarBookingStatus.RESERVED,
            func.lower(CarBooking.period) < now - rules.policy.no_show_grace,
        )
        .with_for_update(skip_locked=True)
    )
    count = 0
    for booking in list(missed):
        fee = booking.quote_krw * rules.policy.charges.no_show_fee_bp // 10_000
        await cancel_booking(session, booking, fee=fee, now=now, status=CarBookingStatus.NO_SHOW)
        count += 1
    await session.flush()
    return count


async def cancel(
    session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, rules: CarRules, now: datetime
) -> CarBooking:
    """Free until `cancellation_free_minutes` before the start, then the late-cancellation share of the quote."""
    booking = await booking_for(session, actor=actor, booking_id=booking_id, lock=True)
    refuse(booking, "be cancelled", (CarBookingStatus.RESERVED,))
    start, _ = period_of(booking)
    late = start - now < rules.policy.charges.cancellation_free_before
    fee = booking.quote_krw * rules.policy.charges.cancellation_fee_bp // 10_000 if late else 0
    await cancel_booking(session, booking, fee=fee, now=now)
    return booking


async def _report(
    session: AsyncSession,
    booking: CarBooking,
    *,
    stage: Stage,
    reporter: Actor,
    checklist: dict[str, bool],
    note: str,
    photos: Sequence[str],
    now: datetime,
) -> ConditionReport:
    report = ConditionReport(
        booking_id=booking.id,
        stage=stage,
        reporter_id=reporter.id,
        checklist=dict(checklist),
        note=note,
        photos=list(photos),
        needs_attention=not all(checklist.values()) or bool(note.strip()),
    )
    report.created_at = now
    session.add(report)
    await session.flush()
    return report


async def pick_up(
    session: AsyncSession,
    *,
    actor: Actor,
    booking_id: uuid.UUID,
    checklist: dict[str, bool],
    note: str,
    photos: Sequence[str],
    rules: CarRules,
    now: datetime,
) -> CarBooking:
    """The driver takes the car at its home slot: from `early_check_in` before the start until `no_show_grace`
    after it; the car must be back from the booking before (409 `car_not_back`). The trip starts (MDS
    `trip_start`) and the condition found is reported."""
    booking = await booking_for(session, actor=actor, booking_id=booking_id, lock=True)
    refuse(booking, "be picked up", (CarBookingStatus.RESERVED,))
    start, _ = period_of(booking)
    if now < start - rules.policy.early_check_in:
        raise InvalidCarBookingTransition(
            f"pick-up opens at {(start - rules.policy.early_check_in).isoformat()}", extra={"status": booking.status}
        )
    if now > start + rules.policy.no_show_grace:
        raise InvalidCarBookingTransition("too late: the booking was not picked up", extra={"status": "no_show"})
    car = await fleet_repository.vehicle_for_update(session, booking.car_id)
    if car.state != VehicleState.AVAILABLE:
        raise CarNotBack(f"car {car.label} is not back yet ({car.state})", extra={"state": car.state})
    contract = await session.get(CarContract, booking.contract_id)
    assert contract is not None
    lon, lat, zone_id = await home(session, contract)
    trip = await start_trip(
        session, car, rider_id=booking.driver_id, zone_id=zone_id, lon=lon, lat=lat, hold_id=booking.hold_id, now=now
    )
    booking.trip_id, booking.picked_up_at = trip.id, now
    booking.odometer_start_m, booking.battery_start_pct = car.odometer_m, car.battery_pct
    _move(booking, CarBookingStatus.ACTIVE, now=now)
    await _report(
        session, booking, stage=Stage.PICK_UP, reporter=actor, checklist=checklist, note=note, photos=photos, now=now
    )
    await ledger.append(session, _booking_record(booking, now=now))
    return booking


async def return_car(
    session: AsyncSession,
    *,
    actor: Actor,
    booking_id: uuid.UUID,
    checklist: dict[str, bool],
    note: str,
    photos: Sequence[str],
    odometer_km: float | None,
    battery_pct: int | None,
    rules: CarRules,
    now: datetime,
) -> CarBooking:
    """The car is back at its home slot: its last position (fresh telemetry) within `return_radius_m` of it, or,
    with the device silent, the operator enters the odometer and battery. The fare is the booked time (and the late
    time), the km, and the fees; captured from the hold, split, and the trip completed (MDS `trip_end`), with the
    condition left reported. A return late enough to threaten the next booking opens its rebooking offer."""
    booking = await booking_for(session, actor=actor, booking_id=booking_id, lock=True)
    refuse(booking, "be returned", (CarBookingStatus.ACTIVE,))
    if (odometer_km is not None or battery_pct is not None) and not actor.is_operator:
        raise Forbidden("only the village enterprise's operators enter the odometer and battery by hand")
    car = await fleet_repository.vehicle_for_update(session, booking.car_id)
    contract = await session.get(CarContract, booking.contract_id)
    assert contract is not None and booking.trip_id is not None
    home_lon, home_lat, _ = await home(session, contract)
    fresh = car.last_fix_at is not None and now - car.last_fix_at <= rules.contact_lost
    if odometer_km is None:
        where = await fleet_repository.position(session, car)
        if not fresh or where is None:
            raise CarNotHome(
                "the car's position is not known now: an operator returns it with the odometer and battery",
                extra={"last_fix_at": car.last_fix_at.isoformat() if car.last_fix_at else None},
            )
        away = await session.scalar(
            select(func.ST_Distance(geography_point(*where), geography_point(home_lon, home_lat)))
        )
        if float(away or 0) > rules.return_radius_m:
            raise CarNotHome(
                f"the car is {float(away or 0):.0f} m from its home slot: bring it back there",
                extra={"distance_m": round(float(away or 0)), "home": {"lon": home_lon, "lat": home_lat}},
            )
        _, driven_m = await fleet_repository.route_of(
            session, vehicle_id=car.id, start=booking.picked_up_at or now, end=now
        )
        car.odometer_m = (booking.odometer_start_m or 0) + driven_m
    else:
        driven_m = max(0, round(odometer_km * 1000) - (booking.odometer_start_m or 0))
        car.odometer_m = (booking.odometer_start_m or 0) + driven_m
    if battery_pct is not None:
        car.battery_pct = battery_pct
    start, end = period_of(booking)
    fees: list[tuple[str, int]] = []
    late = now - end
    if late > timedelta(0):
        fees.append(("late_return_fee", math.ceil(late / timedelta(minutes=10)) * rules.late_fee_krw_per_10_min))
    if car.battery_pct < rules.low_battery_pct:
        fees.append(("low_battery_fee", rules.low_battery_fee_krw))
    if checklist.get("clean") is False:
        fees.append(("cleaning_fee", rules.cleaning_fee_krw))
    lines = await price(
        session,
        contract=contract,
        start=start,
        end=max(end, now),
        primary_time=booking.primary_time,
        km=driven_m / 1000,
        fees=fees,
        rules=rules,
    )
    fare = sum(line["amount_krw"] for line in lines)
    wallet = Wallet()
    if fare:
        if booking.hold_id is None:  # the primary user's own time with nothing held: charged from the wallet
            hold = await wallet.hold(
                session, driver_id=booking.driver_id, amount=fare, booking_id=None, expires_at=now + HOLD_GRACE, now=now
            )
            booking.hold_id = hold.id
        await wallet.capture(
            session, hold_id=booking.hold_id, amount=fare, shares=await shares(session, car.id), now=now
        )
    if booking.hold_id is not None:
        await wallet.release(session, hold_id=booking.hold_id, now=now)
    trip = await session.get(Trip, booking.trip_id, with_for_update=True)
    assert trip is not None
    trip.status, trip.ended_at, trip.end_lon, trip.end_lat = TripStatus.COMPLETED, now, home_lon, home_lat
    trip.distance_m, trip.fare_krw, trip.fare_lines, trip.hold_id = driven_m, fare, lines, booking.hold_id
    car.public_id = uuid.uuid4()
    await record(session, car, "trip_end", now=now, trip_id=trip.id, lon=home_lon, lat=home_lat)
    booking.returned_at, booking.odometer_end_m, booking.battery_end_pct = now, car.odometer_m, car.battery_pct
    booking.charged_krw, booking.charge_lines = fare, lines
    _move(booking, CarBookingStatus.COMPLETED, now=now)
    await _report(
        session, booking, stage=Stage.RETURN, reporter=actor, checklist=checklist, note=note, photos=photos, now=now
    )
    await ledger.append(session, _booking_record(booking, now=now))
    await ledger.append(session, trip_record(trip, kind="trip.completed", now=now))
    await close_offers(session, car_id=car.id, ready=now + rules.buffer, now=now)
    return booking
