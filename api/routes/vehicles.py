"""The fleet: vehicle types, providers, vehicles and their MDS events (village enterprise staff), device telemetry."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query
from sqlalchemy.ext.asyncio import AsyncSession

import mobility.ingest
import mobility.vehicles
from api.auth import Anyone, Monitor, Operator
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.schemas.common import ErrorOut, Location, Page, page
from api.schemas.mobility import (
    DeployIn,
    DeviceKeyOut,
    ImportOut,
    ProviderOut,
    RegisteredVehicleOut,
    RejectedPoint,
    TelemetryIn,
    TelemetryOut,
    VehicleEventOut,
    VehicleIn,
    VehicleOut,
    VehicleTypeOut,
)
from api.state import AppState
from mobility import live, repository
from mobility.models import Vehicle
from mobility.repository import positions
from mobility.states import VehicleState
from mobility.telemetry import Fix

router = APIRouter(tags=["fleet"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}
TRANSITION: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut},
    409: {"model": ErrorOut, "description": "invalid_vehicle_transition: the MDS state machine forbids it"},
}


async def vehicle_out(session: AsyncSession, vehicles: list[Vehicle]) -> list[VehicleOut]:
    where = await positions(session, [v.id for v in vehicles])
    return [
        VehicleOut(
            id=v.id,
            label=v.label,
            device_id=v.device_id,
            type_code=v.type_code,
            provider_id=v.provider_id,
            state=v.state,
            battery_pct=v.battery_pct,
            location=Location(lon=where[v.id][0], lat=where[v.id][1]) if v.id in where else None,
            last_fix_at=v.last_fix_at,
            reserved_until=v.reserved_until if v.state == VehicleState.RESERVED else None,
            odometer_m=v.odometer_m,
        )
        for v in vehicles
    ]


async def commit_and_sync(state: AppState, session: AsyncSession, vehicle_ids: list[uuid.UUID]) -> None:
    """Commit the unit of work, then bring the live index in line with the committed rows."""
    await session.commit()
    await live.sync_committed(state.redis, session, vehicle_ids)


@router.get("/vehicle-types", response_model=list[VehicleTypeOut], summary="Vehicle types of the fleet")
async def vehicle_types(actor: Anyone, session: SessionDep) -> list[VehicleTypeOut]:
    """Scooters, e-bikes and cars with their range, speed and fees."""
    rows = await repository.vehicle_types(session)
    return [VehicleTypeOut.model_validate(row, from_attributes=True) for row in rows]


@router.get("/providers", response_model=list[ProviderOut], summary="Fleet providers")
async def providers(actor: Monitor, session: SessionDep) -> list[ProviderOut]:
    """The village enterprise and the partner companies whose vehicles maeul runs."""
    rows = await repository.providers(session)
    return [ProviderOut.model_validate(row, from_attributes=True) for row in rows]


def _registered(out: VehicleOut, key: str) -> RegisteredVehicleOut:
    return RegisteredVehicleOut(**out.model_dump(), device_key=key)


@router.post(
    "/vehicles",
    response_model=RegisteredVehicleOut,
    status_code=201,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut, "description": "vehicle_label_taken"}},
    summary="Register a vehicle",
)
async def register_vehicle(body: VehicleIn, actor: Operator, session: SessionDep) -> RegisteredVehicleOut:
    """A new vehicle starts `removed` (with its provider) until deployed. The device key in the answer is shown
    only once."""
    [(vehicle, key)] = await mobility.vehicles.register_vehicles(
        session,
        [mobility.vehicles.NewVehicle(body.type_code, body.provider_id, body.label, body.device_id, body.battery_pct)],
    )
    await session.commit()
    [out] = await vehicle_out(session, [vehicle])
    return _registered(out, key)


CSV_EXAMPLE = "label,device_id,type_code,provider_code,battery_pct\nSC-0901,iot-0901,scooter,maeul-ve,95\n"


@router.post(
    "/vehicles/import",
    response_model=ImportOut,
    status_code=201,
    responses={
        409: {"model": ErrorOut, "description": "vehicle_label_taken: a label or device id is registered already"},
        422: {"model": ErrorOut, "description": "invalid_import: every bad row is listed; nothing imported"},
    },
    summary="Register vehicles from CSV",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "maxLength": 1_000_000}, "example": CSV_EXAMPLE}},
        }
    },
)
async def import_vehicles(
    actor: Operator, session: SessionDep, content: Annotated[str, Body(media_type="text/csv", max_length=1_000_000)]
) -> ImportOut:
    """Columns: label, device_id, type_code, provider_code, battery_pct. All rows or none: any bad row refuses the
    import and every problem is listed by row number."""
    made = await mobility.vehicles.import_csv(session, content)
    await session.commit()
    outs = await vehicle_out(session, [vehicle for vehicle, _ in made])
    return ImportOut(imported=len(made), vehicles=[_registered(o, key) for o, (_, key) in zip(outs, made, strict=True)])


@router.get("/vehicles", response_model=Page[VehicleOut], summary="List vehicles")
async def list_vehicles(
    actor: Monitor,
    session: SessionDep,
    state: Annotated[list[VehicleState] | None, Query(description="any of these MDS states")] = None,
    type_code: Annotated[str | None, Query(max_length=24)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, object]:
    """Every vehicle with its state, battery and last position, by label."""
    rows = await repository.vehicles(session, states=state, type_code=type_code, limit=limit + 1, offset=offset)
    return page(await vehicle_out(session, rows), limit=limit, offset=offset)


@router.get("/vehicles/{vehicle_id:uuid}", response_model=VehicleOut, responses=NOT_FOUND, summary="One vehicle")
async def get_vehicle(vehicle_id: uuid.UUID, actor: Monitor, session: SessionDep) -> VehicleOut:
    """State, battery, last fix and odometer of a vehicle."""
    [out] = await vehicle_out(session, [await repository.vehicle(session, vehicle_id)])
    return out


@router.get(
    "/vehicles/{vehicle_id:uuid}/events",
    response_model=Page[VehicleEventOut],
    responses=NOT_FOUND,
    summary="MDS events of a vehicle",
)
async def vehicle_events(
    vehicle_id: uuid.UUID, actor: Monitor, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> dict[str, object]:
    """The append-only event log, newest first; it replays to the vehicle's state."""
    await repository.vehicle(session, vehicle_id)
    events = await mobility.vehicles.events_of(session, vehicle_id, limit=limit + 1, offset=offset)
    items = [
        VehicleEventOut(
            event_id=e.id,
            event_types=e.event_types,
            vehicle_state=e.state,
            at=e.at,
            location=Location(lon=e.lon, lat=e.lat) if e.lon is not None and e.lat is not None else None,
            battery_pct=e.battery_pct,
            trip_id=e.trip_id,
        )
        for e in events
    ]
    return page(items, limit=limit, offset=offset)


@router.post(
    "/vehicles/{vehicle_id:uuid}/deploy", response_model=VehicleOut, responses=TRANSITION, summary="Deploy a vehicle"
)
async def deploy(
    vehicle_id: uuid.UUID, body: DeployIn, actor: Operator, state: StateDep, session: SessionDep, now: NowDep
) -> VehicleOut:
    """`provider_drop_off`: the vehicle is put on the street at `location` and becomes available."""
    vehicle = await mobility.vehicles.deploy(session, vehicle_id, lon=body.location.lon, lat=body.location.lat, now=now)
    await commit_and_sync(state, session, [vehicle.id])
    [out] = await vehicle_out(session, [vehicle])
    return out


Action = Literal["maintenance", "rebalance", "retire", "charged", "suspend", "resume"]


@router.post(
    "/vehicles/{vehicle_id:uuid}/actions/{action}",
    response_model=VehicleOut,
    responses=TRANSITION,
    summary="Take a vehicle off the street, retire it, or mark it charged",
)
async def vehicle_action(
    vehicle_id: uuid.UUID, action: Action, actor: Operator, state: StateDep, session: SessionDep, now: NowDep
) -> VehicleOut:
    """Each action is one MDS event: maintenance -> `maintenance_pick_up`, rebalance -> `rebalance_pick_up`,
    retire -> `decommissioned`, charged -> `battery_charged` (battery 100%), suspend -> `system_suspend`,
    resume -> `system_resume`. Actions the state machine forbids are 409 `invalid_vehicle_transition`."""
    vehicle = await mobility.vehicles.staff_action(session, vehicle_id, action, now=now)
    await commit_and_sync(state, session, [vehicle.id])
    [out] = await vehicle_out(session, [vehicle])
    return out


@router.post(
    "/vehicles/{vehicle_id:uuid}/device-key",
    response_model=DeviceKeyOut,
    responses=NOT_FOUND,
    summary="Rotate a vehicle's device key",
)
async def rotate_key(vehicle_id: uuid.UUID, actor: Operator, session: SessionDep, now: NowDep) -> DeviceKeyOut:
    """A new key, shown once; the old key stops working at once."""
    key = await mobility.vehicles.rotate_device_key(session, vehicle_id, now=now)
    vehicle = await repository.vehicle(session, vehicle_id)
    await session.commit()
    return DeviceKeyOut(device_id=vehicle.device_id, device_key=key)


@router.delete(
    "/vehicles/{vehicle_id:uuid}/device-key", status_code=204, responses=NOT_FOUND, summary="Revoke a device key"
)
async def revoke_key(vehicle_id: uuid.UUID, actor: Operator, session: SessionDep, now: NowDep) -> None:
    """The device can no longer post telemetry until a new key is issued."""
    await mobility.vehicles.revoke_device_key(session, vehicle_id, now=now)
    await session.commit()


@router.post(
    "/telemetry",
    response_model=TelemetryOut,
    responses={401: {"model": ErrorOut, "description": "device_not_authenticated"}},
    summary="Post a batch of device telemetry",
)
async def post_telemetry(
    body: TelemetryIn,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    device_id: Annotated[str, Header(alias="X-Device-Id", min_length=1, max_length=64)],
    device_key: Annotated[str, Header(alias="X-Device-Key", min_length=1, max_length=200)],
) -> TelemetryOut:
    """Up to 1,000 fixes of one device (authenticated by its key). Each point is accepted or rejected with a
    reason (duplicate, out_of_order, future, stale, far_out_of_area, impossible_speed); the accepted ones are stored
    together with the events they cause (battery low, leaving the service area, contact restored), or none is."""
    fixes = [Fix(p.at, p.lon, p.lat, p.speed_mps, p.heading_deg, p.battery_pct, p.accuracy_m) for p in body.points]
    report = await mobility.ingest.ingest(
        session, device_id=device_id, key=device_key, points=fixes, rules=state.fleet, now=now
    )
    await session.commit()
    if report.placement is not None:  # nothing accepted: the vehicle did not move
        await live.place(state.redis, [report.placement])
    return TelemetryOut(
        accepted=report.accepted,
        rejected=len(report.rejected),
        rejections=[RejectedPoint(index=i, reason=why) for i, why in report.rejected],
        events=report.events,
        vehicle_state=report.vehicle_state,
    )
