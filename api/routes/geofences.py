"""Geofences: service area, no-riding, no-parking, slow and parking areas, per vehicle type, effective over time."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ValidationError

import mobility.geofences
from api.auth import Operator
from api.deps import Limit, NowDep, Offset, SessionDep
from api.schemas.common import ErrorOut, Instant, Page, page
from api.schemas.mobility import GeofenceEndIn, GeofenceImportIn, GeofenceIn, GeofenceOut
from mobility import repository
from mobility.errors import GeofenceNotFound, InvalidImport
from mobility.models import GeofenceKind

router = APIRouter(prefix="/geofences", tags=["geofences"])
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": ErrorOut, "description": "invalid_geometry, ..."}}


def _spec(body: GeofenceIn) -> mobility.geofences.GeofenceSpec:
    return mobility.geofences.GeofenceSpec(
        name=body.name,
        kind=GeofenceKind(body.kind),
        vehicle_types=body.vehicle_types,
        max_speed_kmh=body.max_speed_kmh,
        geometry=body.geometry,
        effective_from=body.effective_from,
        effective_to=body.effective_to,
    )


def _out(view: repository.GeofenceView) -> GeofenceOut:
    return GeofenceOut.model_validate(view, from_attributes=True)


@router.get("", response_model=Page[GeofenceOut], summary="Geofences (public)")
async def list_geofences(
    session: SessionDep,
    now: NowDep,
    kind: GeofenceKind | None = None,
    at: Annotated[Instant | None, Query(description="rules in effect at this time (default: now)")] = None,
    all_times: Annotated[bool, Query(description="every rule, past and future too")] = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, object]:
    """Readable by everyone, no sign-in: the rules riders must follow."""
    views = await repository.geofences(
        session, at=None if all_times else at or now, kind=kind, limit=limit + 1, offset=offset
    )
    return page([_out(v) for v in views], limit=limit, offset=offset)


@router.get(
    "/{geofence_id:uuid}", response_model=GeofenceOut, responses={404: {"model": ErrorOut}}, summary="One geofence"
)
async def get_geofence(geofence_id: uuid.UUID, session: SessionDep) -> GeofenceOut:
    """A geofence with its polygon (public)."""
    view = await repository.geofence(session, geofence_id)
    if view is None:
        raise GeofenceNotFound(f"geofence {geofence_id} not found")
    return _out(view)


@router.post("", response_model=GeofenceOut, status_code=201, responses=WRITE_ERRORS, summary="Create a geofence")
async def create_geofence(body: GeofenceIn, actor: Operator, session: SessionDep) -> GeofenceOut:
    """A Polygon or MultiPolygon (WGS84) with its kind, vehicle types (empty: all) and effective period; slow zones
    need `max_speed_kmh`. Invalid polygons (self-intersecting, unclosed) are 422 `invalid_geometry`."""
    [geofence_id] = await mobility.geofences.create_geofences(session, [_spec(body)])
    await session.commit()
    view = await repository.geofence(session, geofence_id)
    assert view is not None
    return _out(view)


@router.post(
    "/import",
    response_model=list[GeofenceOut],
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Import geofences from a GeoJSON FeatureCollection",
)
async def import_geofences(body: GeofenceImportIn, actor: Operator, session: SessionDep) -> list[GeofenceOut]:
    """Each feature's `properties` carry name, kind, vehicle_types, max_speed_kmh, effective_from, effective_to;
    its `geometry` the polygon. All features or none: every bad feature is listed by index."""
    specs, problems = [], []
    for index, feature in enumerate(body.features):
        try:
            specs.append(
                _spec(
                    GeofenceIn.model_validate(
                        {**(feature.get("properties") or {}), "geometry": feature.get("geometry")}
                    )
                )
            )
        except ValidationError as error:
            problems.append(
                {"feature": index, "errors": [e["msg"] + f" ({'.'.join(map(str, e['loc']))})" for e in error.errors()]}
            )
    if problems:
        raise InvalidImport(f"{len(problems)} feature(s) have errors; nothing was imported", extra={"rows": problems})
    ids = await mobility.geofences.create_geofences(session, specs)
    await session.commit()
    views = [await repository.geofence(session, i) for i in ids]
    return [_out(v) for v in views if v is not None]


@router.post(
    "/{geofence_id:uuid}/end",
    response_model=GeofenceOut,
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="End a geofence's rule from a time",
)
async def end_geofence(
    geofence_id: uuid.UUID, body: GeofenceEndIn, actor: Operator, session: SessionDep
) -> GeofenceOut:
    """Rules change over time: the old rule is kept (past trips are judged by it) and stops applying at `at`."""
    await mobility.geofences.end_geofence(session, geofence_id, at=body.at)
    await session.commit()
    view = await repository.geofence(session, geofence_id)
    assert view is not None
    return _out(view)
