"""Open data: GBFS v3.0 (public, no sign-in) and the MDS 2.0 Provider API (for the city)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import CityOrAdmin
from api.deps import NowDep, SessionDep, StateDep
from api.errors import MdsVersionUnsupported
from api.schemas.common import HOUR, MONTH, ErrorOut
from core.errors import InvalidInput
from mobility import feeds
from mobility.errors import HourNotPast, VehicleNotFound

gbfs = APIRouter(prefix="/gbfs", tags=["open data: GBFS"])
MDS_MEDIA = "application/vnd.mds+json;version=2.0"
MDS_VERSIONS = ("2.0", "2.0.0")


async def mds_accept(request: Request) -> None:
    """MDS content negotiation: no `Accept`, `*/*`, `application/*`, `application/json` or
    `application/vnd.mds+json` with no version or version 2.0 is served; an `Accept` naming only other versions or
    other types is refused (406)."""
    header = request.headers.get("accept", "").strip()
    if not header:
        return
    for media_range in header[:1000].split(","):
        kind, *parameters = (part.strip() for part in media_range.split(";"))
        values = dict(p.split("=", 1) for p in parameters if "=" in p)
        if values.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if kind.lower() in ("*/*", "application/*", "application/json"):
            return
        if kind.lower() == "application/vnd.mds+json" and values.get("version", "2.0").strip('"') in MDS_VERSIONS:
            return
    raise MdsVersionUnsupported(f"this server speaks MDS 2.0 only: send Accept: {MDS_MEDIA}")


mds = APIRouter(prefix="/mds", tags=["open data: MDS (city)"])
NEGOTIATED = [Depends(mds_accept)]  # the JSON operations; the monthly report is CSV

Limit = Annotated[int, Query(ge=1, le=5000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Hour = Annotated[
    str,
    Query(pattern=HOUR, description="a UTC hour, YYYY-MM-DDTHH", examples=["2026-11-23T01"]),
]
JSON_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {"schema": {"type": "object"}}}}}
MDS_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {MDS_MEDIA: {"schema": {"type": "object"}}}},
    400: {"model": ErrorOut},
}
ONE = MDS_DOC | {404: {"description": "No such vehicle (`vehicle_not_found`)."}}
HOURLY = MDS_DOC | {404: {"description": "The hour has not ended yet (`hour_not_past`)."}}


@gbfs.get("/gbfs.json", summary="GBFS discovery", response_class=Response, responses=JSON_DOC)
async def discovery(request: Request, state: StateDep, now: NowDep) -> Response:
    """The list of feeds (GBFS v3.0)."""
    base = str(request.base_url).rstrip("/")
    body = feeds.discovery(base, now=now, ttl=state.settings.gbfs_ttl_seconds)
    return JSONResponse(body)


@gbfs.get("/{feed}.json", summary="A GBFS feed", response_class=Response, responses=JSON_DOC)
async def gbfs_feed(
    feed: Literal["system_information", "vehicle_types", "vehicle_status", "geofencing_zones", "system_pricing_plans"],
    state: StateDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Served from a cache the worker refreshes; never older than 60 s. Vehicles carry public ids that change
    after every trip."""
    text = await feeds.feed(
        session,
        state.redis,
        feed,
        now=now,
        ttl=state.settings.gbfs_ttl_seconds,
        timezone=state.settings.local_timezone,
    )
    return Response(text, media_type="application/json")


def _hour(value: str, now: datetime) -> tuple[datetime, datetime]:
    """A UTC hour that has ended (MDS: 404 for an hour not in the past)."""
    try:
        start = datetime.strptime(value, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    except ValueError as error:
        raise InvalidInput(f"{value!r} is not an hour YYYY-MM-DDTHH") from error
    end = start + timedelta(hours=1)
    if end > now:
        raise HourNotPast(f"the hour {value} has not ended yet; ask for it after {end.isoformat()}")
    return start, end


def _mds(
    key: str, items: list[dict[str, Any]], *, limit: int, offset: int, request: Request, now: datetime | None = None
) -> Response:
    """An MDS page; `now`: a near-realtime endpoint's, whose envelope carries `last_updated` and `ttl` (0: read
    from the database on every request, always fresh)."""
    body: dict[str, Any] = {"version": feeds.MDS_VERSION}
    if now is not None:
        body |= {"last_updated": feeds.ms(now), "ttl": 0}
    body[key] = items[:limit]
    if len(items) > limit:
        body["links"] = {"next": str(request.url.include_query_params(offset=offset + limit))}
    return JSONResponse(body, media_type=MDS_MEDIA)


def _one(key: str, items: list[dict[str, Any]], *, request: Request, now: datetime, missing: str) -> Response:
    """A one-device MDS answer, or 404 `vehicle_not_found` (saying `missing`) when there is none."""
    if not items:
        raise VehicleNotFound(missing)
    return _mds(key, items, limit=1, offset=0, request=request, now=now)


@mds.get("/vehicles", dependencies=NEGOTIATED, summary="MDS vehicles", response_class=Response, responses=MDS_DOC)
async def mds_vehicles(
    actor: CityOrAdmin, session: SessionDep, request: Request, now: NowDep, limit: Limit = 1000, offset: Offset = 0
) -> Response:
    """Every vehicle of every provider (MDS 2.0 `vehicles`)."""
    items = await feeds.mds_vehicles(session, limit=limit + 1, offset=offset)
    return _mds("vehicles", items, limit=limit, offset=offset, request=request, now=now)


@mds.get(
    "/vehicles/status",
    dependencies=NEGOTIATED,
    summary="MDS vehicle status",
    response_class=Response,
    responses=MDS_DOC,
)
async def mds_status(
    actor: CityOrAdmin, session: SessionDep, request: Request, now: NowDep, limit: Limit = 1000, offset: Offset = 0
) -> Response:
    """Each vehicle's last event and last position (MDS 2.0 `vehicles_status`)."""
    items = await feeds.mds_status(session, limit=limit + 1, offset=offset)
    return _mds("vehicles_status", items, limit=limit, offset=offset, request=request, now=now)


@mds.get(
    "/vehicles/status/{device_id}",
    dependencies=NEGOTIATED,
    summary="MDS status of one vehicle",
    response_class=Response,
    responses=ONE,
)
async def mds_status_of(
    device_id: uuid.UUID, actor: CityOrAdmin, session: SessionDep, request: Request, now: NowDep
) -> Response:
    """One vehicle's last event and last position (MDS 2.0 `vehicles_status` with one item); 404 for a device
    unknown or never located yet."""
    items = await feeds.mds_status(session, limit=1, offset=0, device_id=device_id)
    return _one("vehicles_status", items, request=request, now=now, missing=f"no status of vehicle {device_id}")


@mds.get(
    "/vehicles/{device_id}", dependencies=NEGOTIATED, summary="MDS one vehicle", response_class=Response, responses=ONE
)
async def mds_vehicle(
    device_id: uuid.UUID, actor: CityOrAdmin, session: SessionDep, request: Request, now: NowDep
) -> Response:
    """One vehicle (MDS 2.0 `vehicles` with one item); 404 for a device unknown."""
    items = await feeds.mds_vehicles(session, limit=1, offset=0, device_id=device_id)
    return _one("vehicles", items, request=request, now=now, missing=f"vehicle {device_id} not found")


@mds.get("/trips", dependencies=NEGOTIATED, summary="MDS trips of one hour", response_class=Response, responses=HOURLY)
async def mds_trips(
    actor: CityOrAdmin,
    session: SessionDep,
    request: Request,
    now: NowDep,
    end_time: Hour,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Response:
    """Trips that ended in the UTC hour `end_time`; no rider identity."""
    start, end = _hour(end_time, now)
    items = await feeds.mds_trips(session, start=start, end=end, limit=limit + 1, offset=offset)
    return _mds("trips", items, limit=limit, offset=offset, request=request)


@mds.get(
    "/telemetry",
    dependencies=NEGOTIATED,
    summary="MDS telemetry of one hour",
    response_class=Response,
    responses=HOURLY,
)
async def mds_telemetry(
    actor: CityOrAdmin,
    session: SessionDep,
    request: Request,
    now: NowDep,
    telemetry_time: Hour,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Response:
    """Every accepted fix in the UTC hour `telemetry_time`."""
    start, end = _hour(telemetry_time, now)
    items = await feeds.mds_telemetry(session, start=start, end=end, limit=limit + 1, offset=offset)
    return _mds("telemetry", items, limit=limit, offset=offset, request=request)


@mds.get(
    "/events/historical",
    dependencies=NEGOTIATED,
    summary="MDS events of one hour",
    response_class=Response,
    responses=HOURLY,
)
async def mds_events_historical(
    actor: CityOrAdmin,
    session: SessionDep,
    request: Request,
    now: NowDep,
    event_time: Hour,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Response:
    """Vehicle events of the UTC hour `event_time`."""
    start, end = _hour(event_time, now)
    items = await feeds.mds_events(session, start=start, end=end, limit=limit + 1, offset=offset)
    return _mds("events", items, limit=limit, offset=offset, request=request)


@mds.get(
    "/events/recent", dependencies=NEGOTIATED, summary="MDS recent events", response_class=Response, responses=MDS_DOC
)
async def mds_events_recent(
    actor: CityOrAdmin,
    session: SessionDep,
    request: Request,
    now: NowDep,
    start_time: Annotated[int, Query(ge=0, le=10**14, description="milliseconds since the epoch")],
    end_time: Annotated[int, Query(ge=0, le=10**14, description="milliseconds since the epoch")],
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Response:
    """Events in [start_time, end_time), within the last two weeks."""
    start = datetime.fromtimestamp(start_time / 1000, UTC)
    end = datetime.fromtimestamp(end_time / 1000, UTC)
    if end <= start:
        raise InvalidInput("end_time must be after start_time")
    if start < now - timedelta(days=14):
        raise InvalidInput("recent events reach back two weeks; use /mds/events/historical for older hours")
    items = await feeds.mds_events(session, start=start, end=end, limit=limit + 1, offset=offset)
    return _mds("events", items, limit=limit, offset=offset, request=request)


@mds.get(
    "/reports/{month}.csv",
    summary="MDS monthly report",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, 400: {"model": ErrorOut}},
)
async def mds_report(
    month: Annotated[str, Path(pattern=MONTH, description="YYYY-MM", examples=["2026-11"])],
    actor: CityOrAdmin,
    state: StateDep,
    session: SessionDep,
) -> Response:
    """Trips and distinct riders per provider, zone and vehicle type in a UTC month, as MDS report CSV; cells built
    from fewer than `MAEUL_PRIVACY_MIN_CELL` are -1."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    text = await feeds.mds_report(session, month_start=start, month_end=end, min_cell=state.settings.privacy_min_cell)
    return Response(text, media_type="text/csv")
