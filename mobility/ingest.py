"""Device telemetry in: screened fixes stored in daily partitions and moved on the vehicle, the MDS events they imply,
silent vehicles marked, partitions prepared."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.errors import DeviceNotAuthenticated
from core import device_keys
from mobility import live, repository
from mobility.models import (
    ComplianceEvent,
    GeofenceKind,
    Trip,
    TripStatus,
    Vehicle,
    VehicleEvent,
)
from mobility.rules import FleetRules, S
from mobility.telemetry import Fix, Rejection, screen
from mobility.vehicles import record

IDLE_STATES = frozenset({S.AVAILABLE, S.RESERVED, S.NON_OPERATIONAL, S.REMOVED})  # no trip can be open


@dataclass(slots=True)
class IngestReport:
    vehicle_state: str
    accepted: int = 0
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # MDS event types derived from the batch
    placement: live.Placement | None = None  # where the live index puts the vehicle once committed


async def ingest(
    session: AsyncSession, *, device_id: str, key: str, points: Sequence[Fix], rules: FleetRules, now: datetime
) -> IngestReport:
    """Authenticate the device by its key, screen its batch, store the believable points (history partitioned by
    day), move the vehicle's last fix, and derive MDS events: battery low, leaving or re-entering the service area
    during a trip, contact restored; speeding in a slow zone becomes a compliance event. All in the caller's
    transaction."""
    device = await repository.device_for_update(session, device_id=device_id, at=now)
    if device is None or not device_keys.matches(device.vehicle.device_key_hash, key):
        raise DeviceNotAuthenticated("unknown device, or its key is wrong, rotated or revoked")
    vehicle = device.vehicle
    last = None
    if vehicle.last_fix_at is not None and device.last_position is not None:
        last = Fix(at=vehicle.last_fix_at, lon=device.last_position[0], lat=device.last_position[1])
    ordered = sorted(enumerate(points), key=lambda pair: pair[1].at)
    accepted, refused = screen(
        [p for _, p in ordered], last=last, bounds=device.service_bounds, now=now, rules=rules.screening
    )
    report = IngestReport(vehicle.state, len(accepted), sorted((ordered[i][0], why) for i, why in refused))
    if not accepted:
        return report
    trip_id = None
    if vehicle.state not in IDLE_STATES:  # on a trip, or may be (a trip continues elsewhere or out of contact)
        trip_id = await session.scalar(
            select(Trip.id).where(Trip.vehicle_id == vehicle.id, Trip.status == TripStatus.ON_TRIP)
        )
    await repository.append_telemetry(session, vehicle_id=vehicle.id, trip_id=trip_id, fixes=accepted)
    hits = await repository.move_and_locate(
        session,
        vehicle,
        accepted,
        kinds=[GeofenceKind.SLOW, GeofenceKind.NO_RIDING],
        last_kinds=[GeofenceKind.SERVICE_AREA],
    )
    latest = accepted[-1]
    report.events = await _derive_events(session, vehicle, accepted, hits, trip_id=trip_id, rules=rules, now=now)
    report.vehicle_state = vehicle.state
    report.placement = live.Placement(vehicle.id, vehicle.type_code, vehicle.state, latest.lon, latest.lat)
    return report


async def _derive_events(
    session: AsyncSession,
    vehicle: Vehicle,
    accepted: Sequence[Fix],
    hits: Sequence[repository.PointInArea],
    *,
    trip_id: uuid.UUID | None,
    rules: FleetRules,
    now: datetime,
) -> list[str]:
    latest = accepted[-1]
    derived: list[str] = []

    async def emit(event_type: str, to: S | None = None) -> None:
        await record(
            session, vehicle, event_type, now=now, to=to, trip_id=trip_id, at=latest.at, lon=latest.lon, lat=latest.lat
        )
        derived.append(event_type)

    if vehicle.state in (S.NON_CONTACTABLE, S.MISSING):
        back = await _state_before_contact_lost(session, vehicle.id)
        await emit("comms_restored" if vehicle.state == S.NON_CONTACTABLE else "located", back)
    inside = any(hit.kind == GeofenceKind.SERVICE_AREA for hit in hits)
    if vehicle.state == S.ON_TRIP and not inside:
        await emit("trip_leave_jurisdiction")
    elif vehicle.state == S.ELSEWHERE and inside:
        await emit("trip_enter_jurisdiction")
    if vehicle.state == S.AVAILABLE and vehicle.battery_pct < rules.battery_low_pct:
        await emit("battery_low")
    for hit in hits:
        if hit.kind == GeofenceKind.SERVICE_AREA:
            continue
        point = accepted[hit.index]
        detail: dict[str, Any] = {"zone": hit.name}
        if hit.kind == GeofenceKind.SLOW:
            kmh = (point.speed_mps or 0) * 3.6
            if hit.max_speed_kmh is None or kmh <= hit.max_speed_kmh:
                continue
            kind, detail = "speeding", detail | {"speed_kmh": round(kmh, 1), "limit_kmh": hit.max_speed_kmh}
        elif trip_id is not None:
            kind = "riding_in_no_riding_zone"
        else:
            continue
        session.add(
            ComplianceEvent(
                vehicle_id=vehicle.id,
                geofence_id=hit.geofence_id,
                kind=kind,
                at=point.at,
                lon=point.lon,
                lat=point.lat,
                detail=detail,
            )
        )
    await session.flush()
    return derived


async def _state_before_contact_lost(session: AsyncSession, vehicle_id: uuid.UUID) -> S:
    """The last known state before the vehicle went non_contactable or missing."""
    state = await session.scalar(
        select(VehicleEvent.state)
        .where(VehicleEvent.vehicle_id == vehicle_id, VehicleEvent.state.not_in([S.NON_CONTACTABLE, S.MISSING]))
        .order_by(VehicleEvent.seq.desc())
        .limit(1)
    )
    return S(state) if state else S.AVAILABLE


async def prepare_telemetry(session: AsyncSession, *, now: datetime, retention_days: int, ahead_days: int = 7) -> None:
    """Daily partitions from the oldest a point may be (yesterday) to `ahead_days` ahead (a fix of a day without one
    lands in the DEFAULT partition and moves when the day's is made); drop those past retention.
    Run by the worker every hour and by `maeul demo`."""
    today = now.astimezone(UTC).date()
    await repository.create_telemetry_partitions(
        session, first=today - timedelta(days=1), last=today + timedelta(days=ahead_days)
    )
    await repository.drop_telemetry_before(session, today - timedelta(days=retention_days))


async def mark_silent(session: AsyncSession, *, rules: FleetRules, now: datetime) -> dict[str, int]:
    """The worker's sweep: vehicles silent for `comms_lost` become non_contactable, for `missing` missing."""
    counts = {"comms_lost": 0, "not_located": 0}
    silent = await session.execute(
        select(Vehicle)
        .where(
            Vehicle.last_fix_at < now - rules.comms_lost,
            Vehicle.state.not_in([S.MISSING, S.REMOVED]),
        )
        .with_for_update(skip_locked=True)
    )
    for vehicle in silent.scalars():
        assert vehicle.last_fix_at is not None
        if vehicle.last_fix_at < now - rules.missing:
            await record(session, vehicle, "not_located", now=now)
            counts["not_located"] += 1
        elif vehicle.state != S.NON_CONTACTABLE:
            await record(session, vehicle, "comms_lost", now=now)
            counts["comms_lost"] += 1
    return counts
