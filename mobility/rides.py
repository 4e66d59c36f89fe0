"""Rides: unlock (the fare of the first minutes held), ride, end inside an allowed area; the fare by the zone's tariff
within the city's cap, captured, split and written to the ledger with the trip."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from billing import journal, mileage
from billing.errors import PriceUnavailable
from billing.models import SettlementRule, Tariff
from billing.pricing import Caps, DayType, NoTariff, quote
from billing.service import price_book
from billing.wallet import Wallet
from core.errors import Forbidden
from geo.models import Zone
from geo.repository import zone_containing
from ledger import log as ledger
from mobility import repository
from mobility.errors import (
    EndNotAllowedHere,
    InvalidVehicleTransition,
    TripNotFound,
    VehicleUnavailable,
)
from mobility.models import (
    GeofenceKind,
    ParkAndRideStatus,
    Provider,
    ProviderKind,
    RideFareCap,
    Trip,
    TripStatus,
    Vehicle,
    VehicleType,
)
from mobility.reservations import close_held_leg, expire_reservation, rentable, rider_free
from mobility.rules import HOLD_VALID, FleetRules, S
from mobility.vehicles import provider, record, vehicle_type
from parking.models import Booking


def all_day_ride_tariffs(zone_id: uuid.UUID, type_code: str, krw_per_minute: int) -> list[Tariff]:
    """A flat per-minute ride tariff for a vehicle type in a zone, all day, every day type."""
    return [
        Tariff(
            zone_id=zone_id,
            slot_kind=type_code,
            day_type=day,
            start_minute=0,
            end_minute=1440,
            unit_minutes=1,
            unit_price_krw=krw_per_minute,
        )
        for day in DayType
    ]


async def fare_lines(
    session: AsyncSession,
    *,
    zone_id: uuid.UUID,
    vehicle_type: VehicleType,
    start: datetime,
    end: datetime,
    timezone: str,
    extra_fees: Sequence[tuple[str, int]] = (),
) -> list[dict[str, Any]]:
    """Unlock fee, then the per-minute tariff of the zone for the vehicle type by time band, within the city's caps,
    then any fees. Integer KRW; the lines add up to the fare."""
    book = await price_book(session, [zone_id], start, end)
    cap = await session.get(RideFareCap, (zone_id, vehicle_type.code))
    unlock = vehicle_type.unlock_fee_krw if cap is None else min(vehicle_type.unlock_fee_krw, cap.max_unlock_fee_krw)
    try:
        priced = quote(
            start,
            max(end, start + timedelta(minutes=1)),
            timezone=timezone,
            bands=book.bands.get((zone_id, vehicle_type.code), ()),
            holidays=book.holidays,
            caps=Caps(0, cap.max_krw_per_minute * 60) if cap is not None else None,
        )
    except NoTariff as error:
        raise PriceUnavailable(f"rides on {vehicle_type.code} have no price here and now: {error}") from error
    lines: list[dict[str, Any]] = [{"kind": "unlock", "amount_krw": unlock}]
    lines += [
        {
            "kind": "time",
            "from": line.start.isoformat(),
            "to": line.end.isoformat(),
            "band": line.band,
            "minutes": line.units * line.unit_minutes,
            "unit_price_krw": line.unit_price_krw,
            "amount_krw": line.amount_krw,
        }
        for line in priced.lines
    ]
    lines += [{"kind": kind, "amount_krw": amount} for kind, amount in extra_fees]
    return lines


async def ride_shares(session: AsyncSession, *, type_code: str, provider_row: Provider) -> dict[str, int]:
    """The ride settlement rule of the vehicle type, as journal accounts -> basis points. A partner's share goes
    to `provider:<id>`; the village enterprise's fleet earns its own share as `enterprise`."""
    rule = await session.scalar(
        select(SettlementRule).where(SettlementRule.slot_kind == type_code, SettlementRule.lot_id.is_(None))
    )
    if rule is None:
        raise PriceUnavailable(f"no settlement rule for rides on {type_code}")
    provider_account = (
        journal.ENTERPRISE if provider_row.kind == ProviderKind.VILLAGE_ENTERPRISE else f"provider:{provider_row.id}"
    )
    shares: dict[str, int] = {}
    for account, bp in (
        (provider_account, rule.owner_bp),
        (journal.ENTERPRISE, rule.enterprise_bp),
        (journal.CITY, rule.city_bp),
        (journal.PLATFORM, rule.platform_bp),
    ):
        if bp:
            shares[account] = shares.get(account, 0) + bp
    return shares


def trip_record(trip: Trip, *, kind: str, now: datetime) -> ledger.Record:
    """The ledger entry of a trip: no rider identity."""
    body: dict[str, Any] = {
        "trip_id": trip.id,
        "vehicle_id": trip.vehicle_id,
        "type": trip.type_code,
        "status": trip.status,
        "started_at": trip.started_at,
    }
    if trip.ended_at is not None:
        body |= {"ended_at": trip.ended_at, "distance_m": trip.distance_m or 0, "fare_krw": trip.fare_krw or 0}
    return ledger.Record(kind=kind, subject=f"trip:{trip.id}", at=now, body=body)


async def unlock(
    session: AsyncSession,
    *,
    rider: Actor,
    vehicle_id: uuid.UUID,
    rules: FleetRules,
    now: datetime,
) -> Trip:
    """Start a ride: the vehicle must be available (or reserved by the rider), in a priced zone, and the rider's
    wallet must cover the estimated fare (`rules.hold_minutes`), which is held. A vehicle held for the last leg of
    a parking booking (park-and-ride) links the trip to that booking."""
    await rider_free(session, rider.id, now=now, except_vehicle=vehicle_id)
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    await expire_reservation(session, vehicle, now=now)
    rentable(vehicle, rider)
    if vehicle.battery_pct < rules.battery_low_pct:
        raise VehicleUnavailable(f"vehicle {vehicle.label}'s battery is too low to ride")
    where = await repository.position(session, vehicle)
    if where is None:
        raise VehicleUnavailable(f"vehicle {vehicle.label} has no known position")
    zone = await zone_containing(session, lon=where[0], lat=where[1])
    if zone is None:
        raise VehicleUnavailable(f"vehicle {vehicle.label} is outside every priced zone")
    kind = await vehicle_type(session, vehicle.type_code)
    estimate = await fare_lines(
        session,
        zone_id=zone.id,
        vehicle_type=kind,
        start=now,
        end=now + timedelta(minutes=rules.hold_minutes),
        timezone=rules.timezone,
    )
    leg = await close_held_leg(session, vehicle, ParkAndRideStatus.RIDDEN, now=now)
    amount = sum(line["amount_krw"] for line in estimate)
    hold = (
        await Wallet().hold(
            session, driver_id=rider.id, amount=amount, booking_id=None, expires_at=now + HOLD_VALID, now=now
        )
        if amount
        else None
    )
    vehicle.reserved_by = vehicle.reserved_until = None
    return await start_trip(
        session,
        vehicle,
        rider_id=rider.id,
        zone_id=zone.id,
        lon=where[0],
        lat=where[1],
        hold_id=hold.id if hold else None,
        parking_booking_id=leg.booking_id if leg is not None else None,
        now=now,
    )


async def start_trip(
    session: AsyncSession,
    vehicle: Vehicle,
    *,
    rider_id: uuid.UUID,
    zone_id: uuid.UUID,
    lon: float,
    lat: float,
    hold_id: uuid.UUID | None,
    now: datetime,
    parking_booking_id: uuid.UUID | None = None,
) -> Trip:
    """A trip on the vehicle from (lon, lat), its fare held by `hold_id`: the MDS `trip_start` and the ledger entry
    (a ride's unlock, a happiness car's pick-up)."""
    trip = Trip(
        vehicle_id=vehicle.id,
        rider_id=rider_id,
        provider_id=vehicle.provider_id,
        type_code=vehicle.type_code,
        zone_id=zone_id,
        status=TripStatus.ON_TRIP,
        started_at=now,
        start_lon=lon,
        start_lat=lat,
        hold_id=hold_id,
        parking_booking_id=parking_booking_id,
    )
    session.add(trip)
    await session.flush()
    await record(session, vehicle, "trip_start", now=now, trip_id=trip.id, lon=lon, lat=lat)
    await ledger.append(session, trip_record(trip, kind="trip.started", now=now))
    return trip


async def trip_for(session: AsyncSession, *, actor: Actor, trip_id: uuid.UUID, lock: bool = False) -> Trip:
    trip = await session.get(Trip, trip_id, with_for_update=lock, populate_existing=lock)
    if trip is None or (trip.rider_id != actor.id and not actor.is_operator):
        raise TripNotFound(f"trip {trip_id} not found")
    return trip


async def end_ride(
    session: AsyncSession, *, actor: Actor, trip_id: uuid.UUID, force: bool, rules: FleetRules, now: datetime
) -> Trip:
    """End a ride where the vehicle is (its last fix). Outside every parking area (for types that need one) or in a
    no-parking area it is refused with the nearest allowed area; staff may force the end, with the documented fee.
    The fare is captured from the hold, split, and the trip written to the ledger, in this transaction."""
    if force and not actor.is_operator:
        raise Forbidden("only village enterprise staff may force a ride to end")
    trip = await trip_for(session, actor=actor, trip_id=trip_id, lock=True)
    if trip.status != TripStatus.ON_TRIP:
        raise InvalidVehicleTransition(f"this trip is already {trip.status}", extra={"status": trip.status})
    vehicle = await repository.vehicle_for_update(session, trip.vehicle_id)
    kind = await vehicle_type(session, vehicle.type_code)
    where = await repository.position(session, vehicle)
    assert where is not None  # set at unlock
    lon, lat = where
    fees: list[tuple[str, int]] = []
    refusal = await _end_refusal(session, kind=kind, lon=lon, lat=lat, rules=rules, now=now)
    if refusal is not None:
        if not force:
            raise refusal
        fees.append(("forced_end_fee", kind.force_end_fee_krw))
        trip.forced_by = actor.id
    if vehicle.state == S.ELSEWHERE:
        raise EndNotAllowedHere("the vehicle is outside the service area; ride back in to end the trip")
    lines = await fare_lines(
        session,
        zone_id=trip.zone_id,
        vehicle_type=kind,
        start=trip.started_at,
        end=now,
        timezone=rules.timezone,
        extra_fees=fees,
    )
    fare = sum(line["amount_krw"] for line in lines)
    route, distance = await repository.route_of(session, vehicle_id=vehicle.id, start=trip.started_at, end=now)
    trip.status, trip.ended_at, trip.end_lon, trip.end_lat = TripStatus.COMPLETED, now, lon, lat
    trip.route = func.ST_GeomFromText(route, 4326) if route else None
    trip.distance_m, trip.fare_krw, trip.fare_lines = distance, fare, lines
    vehicle.odometer_m += distance
    vehicle.public_id = uuid.uuid4()  # GBFS ids rotate after every trip
    await _settle(session, trip=trip, fare=fare, now=now)
    await record(session, vehicle, "trip_end", now=now, trip_id=trip.id, lon=lon, lat=lat)
    if vehicle.battery_pct < rules.battery_low_pct:
        await record(session, vehicle, "battery_low", now=now, lon=lon, lat=lat)
    await _earn_mileage(session, trip=trip, now=now)
    await ledger.append(session, trip_record(trip, kind="trip.completed", now=now))
    return trip


async def _end_refusal(
    session: AsyncSession, *, kind: VehicleType, lon: float, lat: float, rules: FleetRules, now: datetime
) -> EndNotAllowedHere | None:
    banned = await repository.areas_at(
        session, kind=GeofenceKind.NO_PARKING, type_code=kind.code, lon=lon, lat=lat, at=now
    )
    allowed = await repository.areas_at(
        session, kind=GeofenceKind.PARKING, type_code=kind.code, lon=lon, lat=lat, at=now
    )
    if not banned and (allowed or not kind.requires_parking_area):
        return None
    nearest = await repository.nearest_area(
        session, kind=GeofenceKind.PARKING, type_code=kind.code, lon=lon, lat=lat, at=now
    )
    why = f"parking is not allowed in {banned[0].name}" if banned else "a ride must end inside a parking area"
    extra: dict[str, Any] = {"location": {"lon": lon, "lat": lat}}
    if nearest is not None:
        walk = int(round(nearest.distance_m * rules.walk_detour_factor))
        extra["nearest_parking_area"] = {"id": nearest.id, "name": nearest.name, "walk_m": walk}
        why += f"; the nearest is {nearest.name}, about {walk} m away"
    return EndNotAllowedHere(why, extra=extra)


async def _settle(session: AsyncSession, *, trip: Trip, fare: int, now: datetime) -> None:
    wallet = Wallet()
    if trip.hold_id is None:
        if fare:
            hold = await wallet.hold(
                session, driver_id=trip.rider_id, amount=fare, booking_id=None, expires_at=now + HOLD_VALID, now=now
            )
            trip.hold_id = hold.id
        else:
            return
    assert trip.hold_id is not None
    if fare:
        shares = await ride_shares(
            session, type_code=trip.type_code, provider_row=await provider(session, trip.provider_id)
        )
        await wallet.capture(session, hold_id=trip.hold_id, amount=fare, shares=shares, now=now)
    await wallet.release(session, hold_id=trip.hold_id, now=now)


async def _earn_mileage(session: AsyncSession, *, trip: Trip, now: datetime) -> None:
    checked_out = await session.scalar(
        select(func.max(Booking.checked_out_at)).where(
            Booking.driver_id == trip.rider_id, Booking.checked_out_at <= trip.started_at
        )
    )
    zone_code = await session.scalar(select(Zone.code).where(Zone.id == trip.zone_id))
    await mileage.earn(
        session,
        mileage.Event(
            kind="ride_completed",
            reference=f"trip:{trip.id}",
            account_id=trip.rider_id,
            zone_code=str(zone_code or ""),
            slot_kind=trip.type_code,
            minutes=int(((trip.ended_at or now) - trip.started_at).total_seconds() // 60),
            charged_krw=trip.fare_krw or 0,
            minutes_after_parking=(
                int((trip.started_at - checked_out).total_seconds() // 60) if checked_out is not None else None
            ),
        ),
        now=now,
    )
