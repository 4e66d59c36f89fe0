"""The Sangsalmi shared fleet as demo data: two providers, 60 e-scooters and 20 e-bikes deployed around the village,
geofences (service area, parking areas at the public lots and the village entrances, a slow core, a no-parking fire
lane), per-minute ride tariffs and the city's ride caps. Deterministic (seeded), loaded through the real services."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import Tariff
from billing.pricing import DayType
from geo.models import Zone
from mobility import service
from mobility.models import GeofenceKind, Provider, ProviderKind, RideFareCap
from sim.pilot import CENTRE, offset

PROVIDERS = (
    ("maeul-ve", "Sangsalmi People's Centre (village enterprise)", ProviderKind.VILLAGE_ENTERPRISE),
    ("bucheon-scoot", "Bucheon Scoot (partner e-scooter company)", ProviderKind.PARTNER),
)
FLEET = (("scooter", "SC", 60), ("ebike", "EB", 20))
RIDE_KRW_PER_MINUTE = {"scooter": 150, "ebike": 120}
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
    for zone_id in zones:
        for code, per_minute in RIDE_KRW_PER_MINUTE.items():
            session.add_all(
                Tariff(
                    zone_id=zone_id,
                    slot_kind=code,
                    day_type=day,
                    start_minute=0,
                    end_minute=1440,
                    unit_minutes=1,
                    unit_price_krw=per_minute,
                )
                for day in DayType
            )
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
    await service.create_geofences(
        session,
        [
            service.GeofenceSpec(name, kind, [], speed, _square(east, north, half), since, None)
            for name, kind, east, north, half, speed in AREAS
        ],
    )
    specs = []
    for type_code, prefix, count in FLEET:
        for number in range(1, count + 1):
            owner = providers[number % 2]
            label = f"{prefix}-{number:04d}"
            specs.append(service.NewVehicle(type_code, owner.id, label, f"iot-{label.lower()}", rng.randint(35, 100)))
    made = await service.register_vehicles(session, specs)
    for vehicle, _ in made:
        lon, lat = offset(*CENTRE, east_m=rng.uniform(-500, 500), north_m=rng.uniform(-500, 500))
        await service.deploy(session, vehicle.id, lon=lon, lat=lat, now=now)
    return FleetResult(True, len(made))
