"""The city's data and view: village cameras (entrance counts and CCTV enforcement), illegal-parking reports, water
gauges by the riverside lots (flood warnings), and the pilot's KPI table from live rows."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query
from fastapi.responses import PlainTextResponse

from api.auth import Anyone, CityOrAdmin, Monitor
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.city import (
    BatchOut,
    CameraIn,
    CameraKeyOut,
    CameraOut,
    EntriesIn,
    KpiDayOut,
    KpiHourlyOut,
    KpiMonthOut,
    KpiSummaryOut,
    RejectedEvent,
    RejectedReading,
    SightingsIn,
    ViolationIn,
    ViolationOut,
    WaterGaugeIn,
    WaterGaugeKeyOut,
    WaterGaugeOut,
    WaterLevelsIn,
    WaterLevelsOut,
    ZoneHoursOut,
)
from api.schemas.common import MONTH, ErrorOut, Instant, LocalDate, Page, page
from api.state import AppState
from core.errors import InvalidInput
from kpi import service, table
from kpi.models import Camera, CameraPurpose, Violation, ViolationKind, WaterGauge

router = APIRouter(tags=["city"])

DEVICE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "device_not_authenticated"},
    403: {"model": ErrorOut, "description": "wrong_camera_purpose"},
}
DeviceId = Annotated[str, Header(alias="X-Device-Id", min_length=1, max_length=64)]
DeviceKey = Annotated[str, Header(alias="X-Device-Key", min_length=1, max_length=200)]
Day = Annotated[LocalDate, Query(description="local date, YYYY-MM-DD")]
MAX_DAYS = 92


def _camera_out(camera: Camera) -> CameraOut:
    return CameraOut(
        id=camera.id,
        device_id=camera.device_id,
        name=camera.name,
        purpose=camera.purpose,
        key_active=camera.key_hash is not None,
        key_rotated_at=camera.key_rotated_at,
    )


def _with_key(camera: Camera, key: str) -> CameraKeyOut:
    return CameraKeyOut(**_camera_out(camera).model_dump(), device_key=key)


@router.post(
    "/cameras",
    response_model=CameraKeyOut,
    status_code=201,
    responses={422: {"model": ErrorOut}},
    summary="Register a village camera",
)
async def register_camera(body: CameraIn, actor: CityOrAdmin, session: SessionDep, now: NowDep) -> CameraKeyOut:
    """An entrance camera (counts vehicles entering) or an enforcement camera (reports illegal parking). Its key is
    in the answer, once: the camera sends it as `X-Device-Key` with its `X-Device-Id`. 422 when the device id is
    taken."""
    camera, key = await service.register_camera(
        session,
        device_id=body.device_id,
        name=body.name,
        purpose=CameraPurpose(body.purpose),
        lon=body.lon,
        lat=body.lat,
        now=now,
    )
    out = _with_key(camera, key)
    await session.commit()
    return out


@router.get("/cameras", response_model=Page[CameraOut], summary="The village cameras")
async def list_cameras(actor: Monitor, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    found = await service.devices(session, Camera, limit=limit + 1, offset=offset)
    return page([_camera_out(camera) for camera in found], limit=limit, offset=offset)


@router.post(
    "/cameras/{camera_id:uuid}/key",
    response_model=CameraKeyOut,
    responses={404: {"model": ErrorOut}},
    summary="Give a camera a new key",
)
async def rotate_camera_key(camera_id: uuid.UUID, actor: CityOrAdmin, session: SessionDep, now: NowDep) -> CameraKeyOut:
    """The new key is in the answer, once; the previous key stops working at once."""
    camera, key = await service.rotate_key(session, Camera, camera_id, now=now)
    out = _with_key(camera, key)
    await session.commit()
    return out


@router.delete(
    "/cameras/{camera_id:uuid}/key",
    status_code=204,
    responses={404: {"model": ErrorOut}},
    summary="Revoke a camera's key",
)
async def revoke_camera_key(camera_id: uuid.UUID, actor: CityOrAdmin, session: SessionDep, now: NowDep) -> None:
    """The camera is refused (401) until it is given a new key."""
    await service.revoke_key(session, Camera, camera_id, now=now)
    await session.commit()


def _gauge_out(gauge: WaterGauge) -> WaterGaugeOut:
    return WaterGaugeOut(
        id=gauge.id,
        device_id=gauge.device_id,
        name=gauge.name,
        key_active=gauge.key_hash is not None,
        key_rotated_at=gauge.key_rotated_at,
        lot_id=gauge.lot_id,
        threshold_cm=gauge.threshold_cm,
        level_cm=gauge.level_cm,
        level_at=gauge.level_at,
        flooding_since=gauge.flooding_since,
    )


def _gauge_with_key(gauge: WaterGauge, key: str) -> WaterGaugeKeyOut:
    return WaterGaugeKeyOut(**_gauge_out(gauge).model_dump(), device_key=key)


@router.post(
    "/water-gauges",
    response_model=WaterGaugeKeyOut,
    status_code=201,
    responses={404: {"model": ErrorOut, "description": "lot_not_found"}, 422: {"model": ErrorOut}},
    summary="Register a water-level gauge",
)
async def register_gauge(body: WaterGaugeIn, actor: CityOrAdmin, session: SessionDep, now: NowDep) -> WaterGaugeKeyOut:
    """A gauge by a riverside lot: a reading at or over `threshold_cm` floods the lot and warns the drivers whose
    bookings hold a slot there (parked now, or starting within `MAEUL_FLOOD_LOOKAHEAD_HOURS`), and the operators.
    Its key is in the answer, once. 422 when the device id is taken."""
    gauge, key = await service.register_gauge(
        session,
        device_id=body.device_id,
        name=body.name,
        lot_id=body.lot_id,
        threshold_cm=body.threshold_cm,
        lon=body.lon,
        lat=body.lat,
        now=now,
    )
    out = _gauge_with_key(gauge, key)
    await session.commit()
    return out


@router.get("/water-gauges", response_model=Page[WaterGaugeOut], summary="The water-level gauges and their levels")
async def list_gauges(actor: Monitor, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Each with its latest level and whether its lot is flooding."""
    found = await service.devices(session, WaterGauge, limit=limit + 1, offset=offset)
    return page([_gauge_out(gauge) for gauge in found], limit=limit, offset=offset)


@router.post(
    "/water-gauges/{gauge_id:uuid}/key",
    response_model=WaterGaugeKeyOut,
    responses={404: {"model": ErrorOut}},
    summary="Give a gauge a new key",
)
async def rotate_gauge_key(
    gauge_id: uuid.UUID, actor: CityOrAdmin, session: SessionDep, now: NowDep
) -> WaterGaugeKeyOut:
    """The new key is in the answer, once; the previous key stops working at once."""
    gauge, key = await service.rotate_key(session, WaterGauge, gauge_id, now=now)
    out = _gauge_with_key(gauge, key)
    await session.commit()
    return out


@router.delete(
    "/water-gauges/{gauge_id:uuid}/key",
    status_code=204,
    responses={404: {"model": ErrorOut}},
    summary="Revoke a gauge's key",
)
async def revoke_gauge_key(gauge_id: uuid.UUID, actor: CityOrAdmin, session: SessionDep, now: NowDep) -> None:
    """The gauge is refused (401) until it is given a new key."""
    await service.revoke_key(session, WaterGauge, gauge_id, now=now)
    await session.commit()


@router.post(
    "/water-gauges/readings",
    response_model=WaterLevelsOut,
    responses={401: {"model": ErrorOut, "description": "device_not_authenticated"}},
    summary="Post water levels",
)
async def post_water_levels(
    body: WaterLevelsIn, state: StateDep, session: SessionDep, now: NowDep, device_id: DeviceId, device_key: DeviceKey
) -> WaterLevelsOut:
    """A gauge's batch of readings (up to 1,000), each accepted or rejected with a reason (`duplicate`: a time
    already stored, or twice in the batch; `future`; `stale`, older than `MAEUL_DEVICE_EVENT_MAX_AGE_HOURS`). The
    latest reading is the gauge's level. Reaching the threshold floods the lot: each driver whose booking holds a
    slot there now or within `MAEUL_FLOOD_LOOKAHEAD_HOURS` is warned through the notification outbox (`warned`
    counts them), and the operators; falling below the threshold minus `MAEUL_FLOOD_CLEAR_MARGIN_CM` clears it."""
    settings = state.settings
    report = await service.record_water_levels(
        session,
        device_id=device_id,
        device_key=device_key,
        readings=[service.Reading(r.at, r.level_cm) for r in body.readings],
        rule=service.FloodRule(
            clear_margin_cm=settings.flood_clear_margin_cm, lookahead=timedelta(hours=settings.flood_lookahead_hours)
        ),
        max_age=timedelta(hours=settings.device_event_max_age_hours),
        now=now,
    )
    await session.commit()
    return WaterLevelsOut(
        accepted=report.accepted,
        rejected=len(report.rejected),
        rejections=[RejectedReading(index=i, reason=why) for i, why in report.rejected],
        flooding=report.flooding,
        warned=report.warned,
    )


def _batch_out(report: service.BatchReport) -> BatchOut:
    return BatchOut(
        accepted=report.accepted,
        rejected=len(report.rejected),
        rejections=[RejectedEvent(index=i, reason=why) for i, why in report.rejected],
        alerts=report.alerts,
    )


@router.post(
    "/cameras/entries", response_model=BatchOut, responses=DEVICE_ERRORS, summary="Post vehicles entering the village"
)
async def post_entries(
    body: EntriesIn, state: StateDep, session: SessionDep, now: NowDep, device_id: DeviceId, device_key: DeviceKey
) -> BatchOut:
    """An entrance camera's batch (up to 1,000). Each event is accepted or rejected with a reason: `duplicate` (its
    `event_id` was stored before, or is twice in the batch: sending a batch again is harmless), `future`, `stale`
    (older than `MAEUL_DEVICE_EVENT_MAX_AGE_HOURS`), `invalid_plate`. Plates are stored only as a keyed hash."""
    sightings = [service.Sighting(e.event_id, e.at, e.plate) for e in body.events]
    report = await service.record_entries(
        session, device_id=device_id, device_key=device_key, sightings=sightings, **_screening(state), now=now
    )
    await session.commit()
    return _batch_out(report)


def _screening(state: AppState) -> dict[str, Any]:
    return {"key": state.settings.plate_key(), "max_age": timedelta(hours=state.settings.device_event_max_age_hours)}


@router.post(
    "/cameras/violations", response_model=BatchOut, responses=DEVICE_ERRORS, summary="Post CCTV illegal-parking events"
)
async def post_cctv_violations(
    body: SightingsIn, state: StateDep, session: SessionDep, now: NowDep, device_id: DeviceId, device_key: DeviceKey
) -> BatchOut:
    """An enforcement camera's batch (up to 1,000), screened like entrance events. A `fire_lane` event queues an
    alert to the operators at once (`alerts` counts them)."""
    sightings = [service.Sighting(e.event_id, e.at, e.plate, ViolationKind(e.kind), e.lon, e.lat) for e in body.events]
    if any((s.lon is None) != (s.lat is None) for s in sightings):
        raise InvalidInput("give both lon and lat of an event, or neither (at the camera)")
    report = await service.record_cctv_violations(
        session, device_id=device_id, device_key=device_key, sightings=sightings, **_screening(state), now=now
    )
    await session.commit()
    return _batch_out(report)


def _violation_out(violation: Violation, lon: float, lat: float) -> ViolationOut:
    return ViolationOut(
        id=violation.id,
        at=violation.at,
        kind=violation.kind,
        source=violation.source,
        lon=lon,
        lat=lat,
        note=violation.note,
    )


@router.post(
    "/violations",
    response_model=ViolationOut,
    status_code=201,
    responses={422: {"model": ErrorOut}},
    summary="Report a vehicle parked illegally",
)
async def report_violation(
    body: ViolationIn,
    actor: Anyone,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """Residents report through the app, the city's officers and the village enterprise's staff from the field (the
    source follows the role). A `fire_lane` report alerts the operators at once. 422: not a plate, seen in the
    future or longer ago than `MAEUL_DEVICE_EVENT_MAX_AGE_HOURS`."""

    async def work() -> ViolationOut:
        screening = _screening(state)
        violation = await service.report_violation(
            session,
            actor=actor,
            kind=ViolationKind(body.kind),
            plate=body.plate,
            lon=body.lon,
            lat=body.lat,
            at=body.at,
            note=body.note,
            key=screening["key"],
            max_age=screening["max_age"],
            now=now,
        )
        return _violation_out(violation, body.lon, body.lat)

    return await create_once(
        session, actor=actor, key=idempotency_key, operation="POST /violations", payload=body, work=work
    )


@router.get("/violations", response_model=Page[ViolationOut], summary="Illegal-parking events")
async def list_violations(
    actor: Monitor,
    session: SessionDep,
    start: Annotated[Instant | None, Query(description="from this time on")] = None,
    end: Annotated[Instant | None, Query(description="before this time")] = None,
    kind: Literal["no_parking", "fire_lane", "crosswalk", "resident_slot_misuse"] | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Newest first; never a plate (only the city's enforcement systems hold those)."""
    found = await service.violations(
        session,
        start=start,
        end=end,
        kind=ViolationKind(kind) if kind else None,
        limit=limit + 1,
        offset=offset,
    )
    return page([_violation_out(*row) for row in found], limit=limit, offset=offset)


def _village(state: AppState) -> table.Village:
    settings = state.settings
    return table.Village(
        registered_vehicles=settings.registered_vehicles,
        pre_existing_legal_spaces=settings.pre_existing_legal_spaces,
        min_people=settings.privacy_min_cell,
        timezone=settings.local_timezone,
    )


def _day_out(day: table.Day) -> KpiDayOut:
    return KpiDayOut(day=day.day.isoformat(), day_type=day.day_type, suppressed=list(day.suppressed), **day.values)


@router.get("/kpi/hourly", response_model=KpiHourlyOut, summary="One day hour by hour")
async def kpi_hourly(actor: Monitor, state: StateDep, session: SessionDep, day: Day) -> KpiHourlyOut:
    """For each local hour of the day: the time-weighted supply ratio, occupancy by zone (slot time booked over slot
    time open; a cell from fewer than k drivers is null and listed in the zone's `suppressed`) and the shared vehicles
    in each MDS state at the start of the hour."""
    found = await table.hourly(session, village=_village(state), day=day)
    return KpiHourlyOut(
        day=found.day.isoformat(),
        min_people=state.settings.privacy_min_cell,
        supply_ratio=found.supply_ratio,
        zones=[ZoneHoursOut(**asdict(zone)) for zone in found.zones],
        fleet=found.fleet,
    )


def _csv(days: list[KpiDayOut]) -> str:
    out = io.StringIO()
    columns = list(KpiDayOut.model_fields)
    writer = csv.writer(out)
    writer.writerow(columns)
    for day in days:
        row = day.model_dump()
        writer.writerow(
            ["|".join(row[c]) if c == "suppressed" else ("" if row[c] is None else row[c]) for c in columns]
        )
    return out.getvalue()


@router.get(
    "/kpi/daily",
    response_model=list[KpiDayOut],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, 422: {"model": ErrorOut}},
    summary="The pilot's KPIs per day (JSON or CSV)",
)
async def kpi_daily(
    actor: Monitor,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    first: Day,
    last: Day,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """Every local day from `first` to `last` (at most 92 days): vehicles entering, illegal parking, supply ratio,
    shared slots open and booked, jobs, revenue by party, the shared fleet (deployed, active, trips, trips per
    vehicle, idle share). A cell built from fewer than `MAEUL_PRIVACY_MIN_CELL` people is null and named
    in `suppressed`."""
    if last < first:
        raise InvalidInput("last is before first", extra={"field": "last"})
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at once", extra={"field": "last"})
    days = [_day_out(d) for d in await table.daily(session, village=_village(state), first=first, last=last, now=now)]
    if format == "csv":
        return PlainTextResponse(
            _csv(days),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="kpi-{first}-{last}.csv"'},
        )
    return days


@router.get(
    "/kpi/monthly",
    response_model=KpiMonthOut,
    responses={422: {"model": ErrorOut}},
    summary="The pilot's KPI table for a month, beside the published values",
)
async def kpi_monthly(
    actor: Monitor,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM, local time")],
) -> KpiMonthOut:
    """Weekday and weekend means of each KPI over the month's days (days after today are left out), with the
    pilot's published before/after values beside them, and the days themselves. `satisfaction` is the month's
    survey answers on the pilot's 100-point scale ((mean - 1) x 25), null when fewer than k people answered."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    today = now.astimezone(ZoneInfo(state.settings.local_timezone)).date()
    last = min(last, today)
    village = _village(state)
    days = await table.daily(session, village=village, first=first, last=last, now=now) if last >= first else []
    satisfaction = await table.satisfaction(session, village=village, first=first, last=last)
    return KpiMonthOut(
        month=month,
        min_people=village.min_people,
        kpis=[KpiSummaryOut(**asdict(summary)) for summary in [*table.summarise(days), satisfaction]],
        days=[_day_out(d) for d in days],
    )
