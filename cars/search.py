"""Free happiness cars for [start, end) near a place, with their price."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Role
from cars.bookings import quote_lines
from cars.errors import (
    CarUnavailable,
    PrimaryTimeTaken,
)
from cars.models import (
    HOLDING,
    CarBooking,
    CarContract,
    ContractStatus,
)
from cars.repository import home
from cars.rules import CarRules
from geo.spatial import geography_point
from mobility.models import Vehicle
from parking.models import Slot


@dataclass(frozen=True, slots=True)
class FreeCar:
    car: Vehicle
    contract: CarContract
    lon: float
    lat: float
    distance_m: float
    quote_krw: int


async def free_cars(
    session: AsyncSession,
    *,
    lon: float,
    lat: float,
    radius_m: float,
    start: datetime,
    end: datetime,
    rules: CarRules,
    driver: Actor | None = None,
) -> list[FreeCar]:
    """Cars under contract whose home slot is within `radius_m`, free for [start, end) with the buffer and clear of
    their primary user's time (for `driver`), nearest first, with the quote."""
    point = geography_point(lon, lat)
    rows = await session.execute(
        select(CarContract, Vehicle, func.ST_Distance(Slot.location, point))
        .join(Vehicle, Vehicle.id == CarContract.car_id)
        .join(Slot, Slot.id == CarContract.home_slot_id)
        .where(CarContract.status == ContractStatus.ACTIVE, func.ST_DWithin(Slot.location, point, radius_m))
        .order_by(func.ST_Distance(Slot.location, point))
    )
    found = []
    for contract, car, distance in rows:
        booked = await session.scalar(
            select(CarBooking.id).where(
                CarBooking.car_id == car.id,
                CarBooking.status.in_(HOLDING),
                CarBooking.blocked.op("&&")(func.tstzrange(start, end + rules.buffer)),
            )
        )
        if booked is not None:
            continue
        anyone = driver or Actor(uuid.UUID(int=0), Role.RESIDENT)
        try:
            _, lines = await quote_lines(session, contract=contract, driver=anyone, start=start, end=end, rules=rules)
        except (PrimaryTimeTaken, CarUnavailable):
            continue
        home_lon, home_lat, _ = await home(session, contract)
        found.append(
            FreeCar(car, contract, home_lon, home_lat, float(distance), sum(line["amount_krw"] for line in lines))
        )
    return found
