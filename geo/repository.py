from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.models import Zone
from geo.spatial import geometry_point


@dataclass(frozen=True, slots=True)
class ZoneView:
    id: Any
    code: str
    name: str
    area: dict[str, Any]  # GeoJSON polygon


async def zone_containing(session: AsyncSession, *, lon: float, lat: float) -> Zone | None:
    """The smallest zone covering the point, or None outside the service area."""
    query = (
        select(Zone)
        .where(func.ST_Covers(Zone.area, geometry_point(lon, lat)))
        .order_by(func.ST_Area(Zone.area))
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def list_zones(session: AsyncSession) -> list[ZoneView]:
    rows = await session.execute(
        select(Zone.id, Zone.code, Zone.name, func.ST_AsGeoJSON(Zone.area)).order_by(Zone.code)
    )
    return [ZoneView(id=r[0], code=r[1], name=r[2], area=json.loads(r[3])) for r in rows]


async def add_zone(session: AsyncSession, *, code: str, name: str, ring: list[tuple[float, float]]) -> Zone:
    """Add a zone from a closed ring of (lon, lat) points."""
    wkt = "POLYGON((" + ", ".join(f"{lon} {lat}" for lon, lat in ring) + "))"
    zone = Zone(code=code, name=name, area=func.ST_GeomFromText(wkt, 4326))
    session.add(zone)
    await session.flush()
    return zone
