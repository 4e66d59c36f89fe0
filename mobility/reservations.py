"""Reserving a vehicle: free for a few minutes, expired by the clock, given back; a park-and-ride leg held on a vehicle
ends with its reservation."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from mobility import repository
from mobility.errors import (
    InvalidVehicleTransition,
    RiderBusy,
    VehicleUnavailable,
)
from mobility.models import (
    ParkAndRide,
    ParkAndRideStatus,
    Trip,
    TripStatus,
    Vehicle,
)
from mobility.rules import FleetRules, S
from mobility.vehicles import record


def move_leg(leg: ParkAndRide, status: ParkAndRideStatus, *, now: datetime, note: str | None = None) -> None:
    leg.status, leg.status_changed_at = status, now
    if note is not None:
        leg.note = note


async def close_held_leg(
    session: AsyncSession, vehicle: Vehicle, status: ParkAndRideStatus, *, now: datetime
) -> ParkAndRide | None:
    """The vehicle's reservation ends (ridden, expired, cancelled): so does the park-and-ride leg it served."""
    if vehicle.state != S.RESERVED:
        return None
    leg = await session.scalar(
        select(ParkAndRide).where(
            ParkAndRide.vehicle_id == vehicle.id,
            ParkAndRide.rider_id == vehicle.reserved_by,
            ParkAndRide.status == ParkAndRideStatus.HELD,
        )
    )
    if leg is not None:
        move_leg(leg, status, now=now)
    return leg


async def expire_reservation(session: AsyncSession, vehicle: Vehicle, *, now: datetime) -> None:
    if vehicle.state == S.RESERVED and vehicle.reserved_until is not None and vehicle.reserved_until <= now:
        await close_held_leg(session, vehicle, ParkAndRideStatus.EXPIRED, now=now)
        await record(session, vehicle, "reservation_cancel", now=now, at=vehicle.reserved_until)
        vehicle.reserved_by = vehicle.reserved_until = None


async def expire_reservations(session: AsyncSession, *, now: datetime) -> int:
    """The worker's sweep: free reservations past their time become available again."""
    rows = await session.execute(
        select(Vehicle)
        .where(Vehicle.state == S.RESERVED, Vehicle.reserved_until <= now)
        .with_for_update(skip_locked=True)
    )
    expired = list(rows.scalars())
    for vehicle in expired:
        await expire_reservation(session, vehicle, now=now)
    return len(expired)


async def rider_free(
    session: AsyncSession, rider_id: uuid.UUID, *, now: datetime, except_vehicle: uuid.UUID | None
) -> None:
    riding = await session.scalar(select(Trip.id).where(Trip.rider_id == rider_id, Trip.status == TripStatus.ON_TRIP))
    if riding is not None:
        raise RiderBusy("you are already on a ride; end it first", extra={"trip_id": riding})
    held = await session.scalar(
        select(Vehicle.id).where(
            Vehicle.reserved_by == rider_id, Vehicle.state == S.RESERVED, Vehicle.reserved_until > now
        )
    )
    if held is not None and held != except_vehicle:
        raise RiderBusy("you already hold a reservation; cancel it first", extra={"vehicle_id": held})


def rentable(vehicle: Vehicle, rider: Actor) -> None:
    if vehicle.state == S.RESERVED and vehicle.reserved_by == rider.id:
        return
    if vehicle.state != S.AVAILABLE:
        raise VehicleUnavailable(
            f"vehicle {vehicle.label} is {vehicle.state}, not available", extra={"state": vehicle.state}
        )


async def reserve(
    session: AsyncSession, *, rider: Actor, vehicle_id: uuid.UUID, rules: FleetRules, now: datetime
) -> Vehicle:
    """Hold an available vehicle for the rider, free of charge, for `rules.reservation`."""
    await rider_free(session, rider.id, now=now, except_vehicle=None)
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    await expire_reservation(session, vehicle, now=now)
    if vehicle.state == S.RESERVED and vehicle.reserved_by == rider.id:
        raise VehicleUnavailable("you already reserved this vehicle", extra={"reserved_until": vehicle.reserved_until})
    rentable(vehicle, rider)
    await hold(session, vehicle, rider_id=rider.id, rules=rules, now=now)
    await session.flush()
    return vehicle


async def hold(
    session: AsyncSession, vehicle: Vehicle, *, rider_id: uuid.UUID, rules: FleetRules, now: datetime
) -> None:
    """Reserve the vehicle for the rider, free, for `rules.reservation` (an MDS `reservation_start`)."""
    await record(session, vehicle, "reservation_start", now=now)
    vehicle.reserved_by, vehicle.reserved_until = rider_id, now + rules.reservation


async def cancel_reservation(session: AsyncSession, *, rider: Actor, vehicle_id: uuid.UUID, now: datetime) -> Vehicle:
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    if vehicle.state != S.RESERVED or (vehicle.reserved_by != rider.id and not rider.is_operator):
        raise InvalidVehicleTransition("you hold no reservation on this vehicle", extra={"state": vehicle.state})
    await close_held_leg(session, vehicle, ParkAndRideStatus.CANCELLED, now=now)
    await record(session, vehicle, "reservation_cancel", now=now)
    vehicle.reserved_by = vehicle.reserved_until = None
    await session.flush()
    return vehicle
