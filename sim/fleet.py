"""The Sangsalmi shared fleet as demo data: two providers, 60 e-scooters and 20 e-bikes deployed around the village,
geofences (service area, parking areas at the public lots and the village entrances, a slow core, a no-parking fire
lane), per-minute ride and car tariffs and the city's ride caps, and three happiness cars contracted to demo
residents. Deterministic (seeded), loaded through the real services."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Account, Role
from billing.models import Tariff
from cars import contracts
from cars.rules import CarRules
from core.errors import DomainError
from geo.models import Zone
from geo.spatial import latitude, longitude
from mobility import repository
from mobility.geofences import GeofenceSpec, create_geofences
from mobility.models import GeofenceKind, Provider, ProviderKind, RideFareCap, Vehicle
from mobility.rides import all_day_ride_tariffs, end_ride, unlock
from mobility.rules import FleetRules
from mobility.telemetry import distance_m
from mobility.vehicles import NewVehicle, deploy, register_vehicles, rotate_device_key
from parking.models import Slot
from parking.policy import WeeklyWindow
from sim.pilot import CENTRE, DEMO_DOMAIN
from sim.sangsalmi import offset

log = structlog.get_logger("maeul.sim")
PROVIDERS = (
    ("maeul-ve", "Sangsalmi People's Centre (village enterprise)", ProviderKind.VILLAGE_ENTERPRISE),
    ("bucheon-scoot", "Bucheon Scoot (partner e-scooter company)", ProviderKind.PARTNER),
)
FLEET = (("scooter", "SC", 60), ("ebike", "EB", 20))
RIDE_KRW_PER_MINUTE = {"scooter": 150, "ebike": 120, "car": 50}
CITY_RIDE_CAP = (250, 1500)  # KRW per minute, unlock fee
# name, kind, east m, north m, half side m, max km/h
AREAS = (
    ("Samjeong-dong service area", GeofenceKind.SERVICE_AREA, 0, 0, 1500, None),
    ("Samjeong-dong public lot parking", GeofenceKind.PARKING, -250, 180, 60, None),
    ("Gulpocheon riverside parking", GeofenceKind.PARKING, 380, -300, 60, None),
    ("South entrance parking", GeofenceKind.PARKING, 0, -520, 50, None),
    ("East entrance parking", GeofenceKind.PARKING, 520, 0, 50, None),
    ("Village core parking", GeofenceKind.PARKING, 0, 0, 40, None),
    ("Village core slow zone", GeofenceKind.SLOW, 0, 0, 150, 10),
    ("Fire lane by the church", GeofenceKind.NO_PARKING, 120, 250, 30, None),
)


@dataclass(frozen=True, slots=True)
class FleetResult:
    created: bool
    vehicles: int


def _square(east_m: float, north_m: float, half_side_m: float) -> dict[str, object]:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    ring = [
        list(offset(*CENTRE, east_m=east_m + e * half_side_m, north_m=north_m + n * half_side_m)) for e, n in corners
    ]
    return {"type": "Polygon", "coordinates": [ring]}


async def load_fleet(session: AsyncSession, *, now: datetime, seed: int = 2019) -> FleetResult:
    """Load the fleet unless it is there (idempotent); needs the pilot's zones. Flushes; the caller commits."""
    if await session.scalar(select(Provider.id).where(Provider.code == PROVIDERS[0][0])) is not None:
        return FleetResult(False, sum(count for _, _, count in FLEET))
    rng = random.Random(seed)
    providers = [Provider(code=code, name=name, kind=kind) for code, name, kind in PROVIDERS]
    session.add_all(providers)
    zones = list((await session.execute(select(Zone.id))).scalars())
    priced = {(zone_id, kind) for zone_id, kind in await session.execute(select(Tariff.zone_id, Tariff.slot_kind))}
    for zone_id in zones:
        for code, per_minute in RIDE_KRW_PER_MINUTE.items():
            if (zone_id, code) in priced:
                continue  # a zone that already prices this vehicle type keeps its tariff and caps
            session.add_all(all_day_ride_tariffs(zone_id, code, per_minute))
            session.add(
                RideFareCap(
                    zone_id=zone_id,
                    type_code=code,
                    max_krw_per_minute=CITY_RIDE_CAP[0],
                    max_unlock_fee_krw=CITY_RIDE_CAP[1],
                )
            )
    await session.flush()
    since = now - timedelta(days=1)
    await create_geofences(
        session,
        [
            GeofenceSpec(name, kind, [], speed, _square(east, north, half), since, None)
            for name, kind, east, north, half, speed in AREAS
        ],
    )
    specs = []
    for type_code, prefix, count in FLEET:
        for number in range(1, count + 1):
            owner = providers[number % 2]
            label = f"{prefix}-{number:04d}"
            specs.append(NewVehicle(type_code, owner.id, label, f"iot-{label.lower()}", rng.randint(35, 100)))
    made = await register_vehicles(session, specs)
    for vehicle, _ in made:
        lon, lat = offset(*CENTRE, east_m=rng.uniform(-500, 500), north_m=rng.uniform(-500, 500))
        await deploy(session, vehicle.id, lon=lon, lat=lat, now=now)
    return FleetResult(True, len(made))


# happiness cars: label, primary user (demo account key), home slot (spaces of the public lot entrusted to the
# village enterprise, set aside for the cars); each primary user has the car on weekday mornings and evenings
HAPPINESS_CARS = (
    ("CAR-01", "resident", "SAMJEONG-PUBLIC-058"),
    ("CAR-02", "resident01", "SAMJEONG-PUBLIC-059"),
    ("CAR-03", "resident02", "SAMJEONG-PUBLIC-060"),
)
HAPPINESS_WINDOWS = (("07:00", "09:30"), ("17:30", "22:00"))
HAPPINESS_FEE_KRW = 150_000  # a month


async def load_happiness_cars(session: AsyncSession, *, rules: CarRules, now: datetime) -> int:
    """Three happiness cars of the village enterprise at their home slots, contracted for a year to demo residents
    (Mon-Fri 07:00-09:30 and 17:30-22:00 theirs, the rest shared); idempotent. Flushes; the caller commits."""
    if await session.scalar(select(Vehicle.id).where(Vehicle.label == HAPPINESS_CARS[0][0])) is not None:
        return 0
    enterprise = await session.scalar(select(Provider.id).where(Provider.code == PROVIDERS[0][0]))
    assert enterprise is not None
    windows = [WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri"], start, end) for start, end in HAPPINESS_WINDOWS]
    today = now.astimezone(ZoneInfo(rules.timezone)).date()
    for label, primary, slot_code in HAPPINESS_CARS:
        [(car, _)] = await register_vehicles(
            session, [NewVehicle("car", enterprise, label, f"iot-{label.lower()}", 90)]
        )
        slot_id, lon, lat = (
            await session.execute(
                select(Slot.id, longitude(Slot.location), latitude(Slot.location)).where(Slot.code == slot_code)
            )
        ).one()
        await deploy(session, car.id, lon=float(lon), lat=float(lat), now=now)
        primary_id = await session.scalar(select(Account.id).where(Account.email == f"{primary}@{DEMO_DOMAIN}"))
        assert primary_id is not None
        await contracts.create_contract(
            session,
            car_id=car.id,
            primary_id=primary_id,
            home_slot_id=slot_id,
            monthly_fee_krw=HAPPINESS_FEE_KRW,
            release_credit_krw_per_hour=1000,
            starts_on=today,
            ends_on=today + timedelta(days=364),
            windows=windows,
            rules=rules,
            now=now,
        )
    return len(HAPPINESS_CARS)


SIMULATED_RIDE_SPEED_MPS = 4.0  # an e-scooter in the village's narrow lanes
PARKING_AREAS = [(east, north) for _, kind, east, north, _, _ in AREAS if kind == GeofenceKind.PARKING]


@dataclass(slots=True)
class SimulatedRide:
    vehicle_id: uuid.UUID
    device_id: str
    key: str
    rider: Actor
    trip_id: uuid.UUID | None = None
    path: list[tuple[float, float]] = field(default_factory=list)  # (lon, lat) still to travel, one per tick


class FleetSimulator:
    """Moves a few demo vehicles along rides so the feeds change while a newcomer watches: demo residents unlock
    (through the ride service), the vehicles' devices post their fixes through the real `POST /telemetry` endpoint
    of the running API, and the rides end in a parking area (and are paid, split and ledgered like any other)."""

    def __init__(self, *, rides: int, api_url: str, tick_s: float, seed: int = 2019) -> None:
        self.rides, self.api_url, self.tick_s = rides, api_url.rstrip("/"), tick_s
        self.rng = random.Random(seed)
        self.active: list[SimulatedRide] = []

    async def _provision(self, session: AsyncSession, *, now: datetime) -> None:
        """Pick the demo scooters and residents, and give the simulated devices fresh keys (shown once)."""
        labels = [f"SC-{n:04d}" for n in range(1, self.rides + 1)]
        vehicles = (await session.execute(select(Vehicle).where(Vehicle.label.in_(labels)))).scalars().all()
        riders = (
            await session.execute(
                select(Account.id).where(Account.role == Role.RESIDENT).order_by(Account.email).limit(self.rides)
            )
        ).scalars()
        for vehicle, rider in zip(sorted(vehicles, key=lambda v: v.label), riders, strict=False):
            key = await rotate_device_key(session, vehicle.id, now=now)
            self.active.append(SimulatedRide(vehicle.id, vehicle.device_id, key, Actor(rider, Role.RESIDENT)))
        await session.commit()

    def _plan(self, start: tuple[float, float]) -> list[tuple[float, float]]:
        east, north = self.rng.choice(PARKING_AREAS)
        goal = offset(*CENTRE, east_m=east + self.rng.uniform(-15, 15), north_m=north + self.rng.uniform(-15, 15))
        steps = max(2, int(distance_m(*start, *goal) / (SIMULATED_RIDE_SPEED_MPS * self.tick_s)))
        return [
            (start[0] + (goal[0] - start[0]) * i / steps, start[1] + (goal[1] - start[1]) * i / steps)
            for i in range(1, steps + 1)
        ]

    async def tick(self, session: AsyncSession, client: httpx.AsyncClient, *, rules: FleetRules, now: datetime) -> int:
        """One step of every simulated ride; returns the fixes posted."""
        if not self.active:
            await self._provision(session, now=now)
        posted = 0
        for ride in self.active:
            try:
                if ride.trip_id is None:
                    start = await repository.position(
                        session, await repository.vehicle_for_update(session, ride.vehicle_id)
                    )
                    trip = await unlock(session, rider=ride.rider, vehicle_id=ride.vehicle_id, rules=rules, now=now)
                    await session.commit()
                    ride.trip_id, ride.path = trip.id, self._plan(start or CENTRE)
                    continue
                if ride.path:
                    lon, lat = ride.path.pop(0)
                    fix = {"at": now.isoformat(), "lon": lon, "lat": lat, "speed_mps": SIMULATED_RIDE_SPEED_MPS}
                    response = await client.post(
                        f"{self.api_url}/telemetry",
                        json={"points": [fix]},
                        headers={"X-Device-Id": ride.device_id, "X-Device-Key": ride.key},
                    )
                    posted += response.status_code == 200
                    continue
                await end_ride(session, actor=ride.rider, trip_id=ride.trip_id, force=False, rules=rules, now=now)
                await session.commit()
                ride.trip_id = None
            except (DomainError, httpx.HTTPError) as error:  # a rider out of money, the API not up yet, ...
                await session.rollback()
                log.info("simulated ride skipped a step", vehicle=str(ride.vehicle_id), reason=str(error))
        return posted
