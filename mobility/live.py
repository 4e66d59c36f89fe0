"""Live positions of rentable vehicles in Redis GEO sets, one per vehicle type, for nearby search.

PostgreSQL stays the truth: the sets are written after a commit from the committed rows (`sync`), rebuilt whole by
the worker (`rebuild`, which also heals a Redis restart), and every search result is re-checked against the rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.spatial import latitude, longitude
from mobility.models import Vehicle
from mobility.states import VehicleState

log = structlog.get_logger("maeul.live")

PREFIX = "maeul:fleet:available:"
GEO_MAX_LAT = 85.05112878  # Redis GEO indexes Web Mercator latitudes only


def key(type_code: str) -> str:
    return PREFIX + type_code


@dataclass(frozen=True, slots=True)
class Placement:
    """A vehicle as committed: in its type's set when available with a position, out of it otherwise."""

    vehicle_id: uuid.UUID
    type_code: str
    state: str
    lon: float | None
    lat: float | None


async def place(redis: Redis, placements: Iterable[Placement]) -> None:
    pipe = redis.pipeline(transaction=False)
    for p in placements:
        if p.state == VehicleState.AVAILABLE and p.lon is not None and p.lat is not None:
            pipe.geoadd(key(p.type_code), (p.lon, p.lat, str(p.vehicle_id)))
        else:
            pipe.zrem(key(p.type_code), str(p.vehicle_id))
    await pipe.execute()


async def sync(redis: Redis, session: AsyncSession, vehicle_ids: Iterable[uuid.UUID]) -> None:
    """Place each vehicle as its committed row says."""
    ids = list(vehicle_ids)
    if not ids:
        return
    rows = await session.execute(
        select(
            Vehicle.id, Vehicle.type_code, Vehicle.state, longitude(Vehicle.location), latitude(Vehicle.location)
        ).where(Vehicle.id.in_(ids))
    )
    await place(
        redis,
        [
            Placement(
                vehicle_id,
                type_code,
                state,
                float(lon) if lon is not None else None,
                float(lat) if lat is not None else None,
            )
            for vehicle_id, type_code, state, lon, lat in rows
        ],
    )


async def sync_committed(redis: Redis, session: AsyncSession, vehicle_ids: Iterable[uuid.UUID]) -> None:
    """`sync` after a commit: the change is made and the answer says so whatever Redis does now. A failure is logged
    and left to the worker, which rebuilds the whole index every 30 seconds (`fleet_upkeep`)."""
    try:
        await sync(redis, session, vehicle_ids)
    except (RedisError, OSError) as error:
        log.warning("live index behind the database until the worker's next rebuild", error=repr(error))


async def rebuild(redis: Redis, session: AsyncSession) -> int:
    """Replace every type's set with the available vehicles of the database; returns how many were placed."""
    rows = await session.execute(
        select(Vehicle.id, Vehicle.type_code, longitude(Vehicle.location), latitude(Vehicle.location)).where(
            Vehicle.state == VehicleState.AVAILABLE, Vehicle.location.is_not(None)
        )
    )
    by_type: dict[str, list[float | str]] = {}
    for vehicle_id, type_code, lon, lat in rows:
        by_type.setdefault(type_code, []).extend([float(lon), float(lat), str(vehicle_id)])
    wanted = {key(t) for t in by_type}
    stale = [
        name async for name in redis.scan_iter(match=PREFIX + "*") if name not in wanted and ":rebuild" not in name
    ]
    pipe = redis.pipeline(transaction=True)
    for name in stale:
        pipe.delete(name)
    for type_code, values in by_type.items():
        scratch = key(type_code) + ":rebuild"
        pipe.delete(scratch)
        pipe.geoadd(scratch, values)
        pipe.rename(scratch, key(type_code))
    await pipe.execute()
    return sum(len(values) // 3 for values in by_type.values())


async def near(
    redis: Redis, *, type_codes: Iterable[str], lon: float, lat: float, radius_m: float, count: int
) -> list[tuple[uuid.UUID, float]]:
    """(vehicle id, straight-line metres) of the nearest vehicles of these types, nearest first."""
    pipe = redis.pipeline(transaction=False)
    for type_code in type_codes:
        pipe.geosearch(
            key(type_code),
            longitude=lon,
            latitude=lat,
            radius=radius_m,
            unit="m",
            sort="ASC",
            count=count,
            withdist=True,
        )
    found = [(uuid.UUID(member), float(distance)) for hits in await pipe.execute() for member, distance in hits]
    return sorted(found, key=lambda hit: hit[1])[:count]
