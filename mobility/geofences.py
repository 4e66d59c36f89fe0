"""Geofences: the service area, parking areas, slow zones and no-parking areas, as PostGIS multipolygons."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DataError, InternalError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput
from mobility.errors import (
    GeofenceNotFound,
    InvalidGeometry,
)
from mobility.models import (
    Geofence,
    GeofenceKind,
    VehicleType,
)


async def _multipolygon(session: AsyncSession, geometry: dict[str, Any]) -> Any:
    """A valid WGS84 MultiPolygon from a GeoJSON Polygon or MultiPolygon (422 `invalid_geometry` otherwise)."""
    if geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometry("a geofence is a GeoJSON Polygon or MultiPolygon")
    text_geometry = json.dumps(geometry)
    try:
        async with session.begin_nested():
            valid, reason = (
                await session.execute(
                    select(
                        func.ST_IsValid(func.ST_GeomFromGeoJSON(text_geometry)),
                        func.ST_IsValidReason(func.ST_GeomFromGeoJSON(text_geometry)),
                    )
                )
            ).one()
    except (DataError, InternalError) as error:
        raise InvalidGeometry("the geometry is not readable GeoJSON") from error
    if not valid:
        raise InvalidGeometry(f"the polygon is not valid: {reason}")
    return func.ST_Multi(func.ST_SetSRID(func.ST_GeomFromGeoJSON(text_geometry), 4326))


@dataclass(frozen=True, slots=True)
class GeofenceSpec:
    name: str
    kind: GeofenceKind
    vehicle_types: list[str]
    max_speed_kmh: int | None
    geometry: dict[str, Any]
    effective_from: datetime
    effective_to: datetime | None


def _check_spec(spec: GeofenceSpec) -> None:
    if spec.kind == GeofenceKind.SLOW and spec.max_speed_kmh is None:
        raise InvalidInput("a slow zone needs max_speed_kmh")
    if spec.effective_to is not None and spec.effective_to <= spec.effective_from:
        raise InvalidInput("effective_to must be after effective_from")


async def create_geofences(session: AsyncSession, specs: Sequence[GeofenceSpec]) -> list[uuid.UUID]:
    """Create geofences, all or nothing (a GeoJSON import is one call)."""
    known = set((await session.execute(select(VehicleType.code))).scalars())
    ids = []
    for spec in specs:
        _check_spec(spec)
        unknown = set(spec.vehicle_types) - known
        if unknown:
            raise InvalidInput(f"unknown vehicle types: {sorted(unknown)}", extra={"known": sorted(known)})
        fence = Geofence(
            name=spec.name,
            kind=spec.kind,
            vehicle_types=sorted(set(spec.vehicle_types)),
            max_speed_kmh=spec.max_speed_kmh,
            area=await _multipolygon(session, spec.geometry),
            effective_from=spec.effective_from,
            effective_to=spec.effective_to,
        )
        session.add(fence)
        await session.flush()
        ids.append(fence.id)
    return ids


async def end_geofence(session: AsyncSession, geofence_id: uuid.UUID, *, at: datetime) -> None:
    """A rule stops applying from `at` (history is kept: trips are judged by the rules of their time)."""
    fence = await session.get(Geofence, geofence_id, with_for_update=True)
    if fence is None:
        raise GeofenceNotFound(f"geofence {geofence_id} not found")
    if at <= fence.effective_from:
        raise InvalidInput("a geofence can only end after it started", extra={"effective_from": fence.effective_from})
    fence.effective_to = at
    await session.flush()
