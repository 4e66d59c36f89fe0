"""Cameras, entrance counts and illegal-parking events: what the city's KPIs count beyond bookings and staff.

Plates never reach the database in clear: each is normalised and stored as HMAC-SHA256 under the plate key (a
setting), so counting distinct vehicles works and reading a plate back does not.

Camera batches (up to 1,000 events) are screened event by event: `duplicate` (an event id already stored for this
camera, or twice in the batch: so a batch sent again is harmless), `future` (more than a minute ahead of the server's
clock), `stale` (older than `device_event_max_age_hours`), `invalid_plate`. The accepted events are stored together, or
none is. A fire-lane violation, from any source, queues an alert to the operators at once (the outbox).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.errors import DeviceNotAuthenticated
from accounts.models import Role
from core import device_keys
from core.errors import InvalidInput, NotFound
from core.outbox import notify
from geo.spatial import geography_point, latitude, longitude
from kpi import repository
from kpi.errors import CameraNotFound, WaterGaugeNotFound, WrongCameraPurpose
from kpi.models import (
    Camera,
    CameraPurpose,
    CityDevice,
    EntranceEvent,
    Violation,
    ViolationKind,
    ViolationSource,
    WaterGauge,
    WaterLevel,
)
from parking.errors import InvalidPlate, LotNotFound
from parking.models import Lot
from parking.policy import normalize_plate

FUTURE_SKEW = timedelta(minutes=1)
SOURCE_OF_ROLE = {
    Role.RESIDENT: ViolationSource.RESIDENT,
    Role.OWNER: ViolationSource.RESIDENT,
    Role.CITY: ViolationSource.OFFICER,
    Role.OPERATOR: ViolationSource.OPERATOR,
    Role.STAFF: ViolationSource.OPERATOR,
    Role.ADMIN: ViolationSource.OPERATOR,
}


def plate_hash(key: bytes, plate: str) -> str:
    """The keyed hash a plate is stored as (422 `invalid_vehicle_plate` when it is not a plate)."""
    return hmac.new(key, normalize_plate(plate).encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- devices: cameras and water gauges

Device = TypeVar("Device", Camera, WaterGauge)
NOT_FOUND: dict[type[CityDevice], type[NotFound]] = {Camera: CameraNotFound, WaterGauge: WaterGaugeNotFound}


async def register_camera(
    session: AsyncSession, *, device_id: str, name: str, purpose: CameraPurpose, lon: float, lat: float, now: datetime
) -> tuple[Camera, str]:
    """A camera and its key (shown once)."""
    camera = Camera(
        id=uuid.uuid4(), device_id=device_id, name=name, purpose=purpose, location=geography_point(lon, lat)
    )
    return await _register(session, camera, now=now)


async def register_gauge(
    session: AsyncSession,
    *,
    device_id: str,
    name: str,
    lot_id: uuid.UUID,
    threshold_cm: int,
    lon: float,
    lat: float,
    now: datetime,
) -> tuple[WaterGauge, str]:
    """A water-level gauge watching a lot (404 `lot_not_found`), and its key (shown once)."""
    if await session.get(Lot, lot_id) is None:
        raise LotNotFound(f"lot {lot_id} not found")
    gauge = WaterGauge(
        id=uuid.uuid4(),
        device_id=device_id,
        name=name,
        lot_id=lot_id,
        threshold_cm=threshold_cm,
        location=geography_point(lon, lat),
    )
    return await _register(session, gauge, now=now)


async def _register(session: AsyncSession, device: Device, *, now: datetime) -> tuple[Device, str]:
    kind = type(device)
    if await session.scalar(select(kind.id).where(kind.device_id == device.device_id)) is not None:
        raise InvalidInput(
            f"a {kind.__tablename__[:-1].replace('_', ' ')} with device id {device.device_id!r} is already registered",
            extra={"field": "device_id"},
        )
    key = device_keys.new_key()
    device.key_hash, device.key_rotated_at = device_keys.digest(key), now
    session.add(device)
    await session.flush()
    return device, key


async def device(session: AsyncSession, kind: type[Device], device_id: uuid.UUID, *, lock: bool = False) -> Device:
    found = await session.get(kind, device_id, with_for_update=lock)
    if found is None:
        raise NOT_FOUND[kind](f"{kind.__tablename__[:-1].replace('_', ' ')} {device_id} not found")
    return found


async def devices(session: AsyncSession, kind: type[Device], *, limit: int, offset: int) -> Sequence[Device]:
    query = select(kind).order_by(kind.created_at, kind.id).limit(limit).offset(offset)
    return list(await session.scalars(query))


async def rotate_key(
    session: AsyncSession, kind: type[Device], device_id: uuid.UUID, *, now: datetime
) -> tuple[Device, str]:
    """A new key (shown once); the previous one stops working at once."""
    found = await device(session, kind, device_id, lock=True)
    key = device_keys.new_key()
    found.key_hash, found.key_rotated_at = device_keys.digest(key), now
    await session.flush()
    return found, key


async def revoke_key(session: AsyncSession, kind: type[Device], device_id: uuid.UUID, *, now: datetime) -> Device:
    found = await device(session, kind, device_id, lock=True)
    found.key_hash, found.key_rotated_at = None, now
    await session.flush()
    return found


async def _authenticated(session: AsyncSession, kind: type[Device], *, device_id: str, key: str) -> Device:
    found = await session.scalar(select(kind).where(kind.device_id == device_id).with_for_update())
    if found is None or not device_keys.matches(found.key_hash, key):
        raise DeviceNotAuthenticated("unknown device, or its key is wrong, rotated or revoked")
    return found


async def _camera(session: AsyncSession, *, device_id: str, key: str, purpose: CameraPurpose) -> Camera:
    found = await _authenticated(session, Camera, device_id=device_id, key=key)
    if found.purpose != purpose:
        raise WrongCameraPurpose(
            f"this camera is registered for {found.purpose}, not {purpose}", extra={"purpose": found.purpose}
        )
    return found


# ---------------------------------------------------------------- camera events


@dataclass(frozen=True, slots=True)
class Sighting:
    """One camera event: its id on the camera, when, which plate; for enforcement, what kind and where."""

    event_id: str
    at: datetime
    plate: str
    kind: ViolationKind | None = None
    lon: float | None = None
    lat: float | None = None


@dataclass(slots=True)
class BatchReport:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in the batch, reason)
    alerts: int = 0  # fire-lane alerts queued


def _screen(
    sightings: Sequence[Sighting], *, key: bytes, max_age: timedelta, now: datetime
) -> tuple[list[tuple[int, Sighting, str]], BatchReport]:
    report = BatchReport()
    kept: list[tuple[int, Sighting, str]] = []
    seen: set[str] = set()
    for index, sighting in enumerate(sightings):
        reason = None
        if sighting.event_id in seen:
            reason = "duplicate"
        elif sighting.at > now + FUTURE_SKEW:
            reason = "future"
        elif sighting.at < now - max_age:
            reason = "stale"
        else:
            try:
                hashed = plate_hash(key, sighting.plate)
            except InvalidPlate:
                reason = "invalid_plate"
        seen.add(sighting.event_id)
        if reason is None:
            kept.append((index, sighting, hashed))
        else:
            report.rejected.append((index, reason))
    return kept, report


async def record_entries(
    session: AsyncSession,
    *,
    device_id: str,
    device_key: str,
    sightings: Sequence[Sighting],
    key: bytes,
    max_age: timedelta,
    now: datetime,
) -> BatchReport:
    """An entrance camera's batch of vehicles entering the village."""
    found = await _camera(session, device_id=device_id, key=device_key, purpose=CameraPurpose.ENTRANCE)
    kept, report = _screen(sightings, key=key, max_age=max_age, now=now)
    if kept:
        rows = [
            {"camera_id": found.id, "event_id": s.event_id, "at": s.at, "plate_hash": h, "received_at": now}
            for _, s, h in kept
        ]
        statement = insert(EntranceEvent).values(rows).on_conflict_do_nothing().returning(EntranceEvent.event_id)
        stored = set(await session.scalars(statement))
        _tally(report, kept, stored)
    return report


def _tally(report: BatchReport, kept: list[tuple[int, Sighting, str]], stored: set[str]) -> None:
    """Events the database already had (an earlier batch) are duplicates; the rest were accepted."""
    for index, sighting, _ in kept:
        if sighting.event_id in stored:
            report.accepted += 1
        else:
            report.rejected.append((index, "duplicate"))
    report.rejected.sort()


async def record_cctv_violations(
    session: AsyncSession,
    *,
    device_id: str,
    device_key: str,
    sightings: Sequence[Sighting],
    key: bytes,
    max_age: timedelta,
    now: datetime,
) -> BatchReport:
    """An enforcement camera's batch of vehicles standing where parking is illegal (at the camera, unless the event
    says where)."""
    found = await _camera(session, device_id=device_id, key=device_key, purpose=CameraPurpose.ENFORCEMENT)
    kept, report = _screen(sightings, key=key, max_age=max_age, now=now)
    if not kept:
        return report
    at_camera = (
        await session.execute(
            select(longitude(Camera.location), latitude(Camera.location)).where(Camera.id == found.id)
        )
    ).one()
    rows = [
        {
            "id": uuid.uuid4(),
            "at": s.at,
            "location": geography_point(
                *((s.lon, s.lat) if s.lon is not None and s.lat is not None else (at_camera[0], at_camera[1]))
            ),
            "plate_hash": h,
            "kind": s.kind or ViolationKind.NO_PARKING,
            "source": ViolationSource.CCTV,
            "camera_id": found.id,
            "event_id": s.event_id,
            "note": "",
            "created_at": now,
        }
        for _, s, h in kept
    ]
    statement = insert(Violation).values(rows).on_conflict_do_nothing().returning(Violation.id, Violation.event_id)
    stored = {str(event_id): violation_id for violation_id, event_id in await session.execute(statement)}
    _tally(report, kept, set(stored))
    for _, sighting, _ in kept:
        if sighting.event_id in stored and sighting.kind == ViolationKind.FIRE_LANE:
            await _alert(session, stored[sighting.event_id], now=now)
            report.alerts += 1
    return report


# ---------------------------------------------------------------- water levels and flood alerts


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime
    level_cm: int


@dataclass(frozen=True, slots=True)
class FloodRule:
    clear_margin_cm: int  # clear again below threshold - this
    lookahead: timedelta  # bookings starting within this are warned too, not only the cars parked now


@dataclass(slots=True)
class ReadingsReport:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in the batch, reason)
    flooding: bool = False  # the lot's state after the batch
    warned: int = 0  # drivers warned by this batch


async def record_water_levels(
    session: AsyncSession,
    *,
    device_id: str,
    device_key: str,
    readings: Sequence[Reading],
    rule: FloodRule,
    max_age: timedelta,
    now: datetime,
) -> ReadingsReport:
    """A gauge's batch of readings: each accepted or rejected with a reason (`duplicate`: a time already stored for
    this gauge, or twice in the batch; `future`; `stale`). The latest reading is the gauge's level. When it reaches
    the threshold the lot is flooding: every driver whose booking holds a slot of the lot now or within the
    lookahead is warned, and the operators; when it falls below the threshold minus the margin, the operators hear
    that it is clear. All in the caller's transaction (the warnings go through the outbox)."""
    gauge = await _authenticated(session, WaterGauge, device_id=device_id, key=device_key)
    report = ReadingsReport()
    kept: list[tuple[int, Reading]] = []
    seen: set[datetime] = set()
    for index, reading in enumerate(readings):
        reason = None
        if reading.at in seen:
            reason = "duplicate"
        elif reading.at > now + FUTURE_SKEW:
            reason = "future"
        elif reading.at < now - max_age:
            reason = "stale"
        seen.add(reading.at)
        if reason is None:
            kept.append((index, reading))
        else:
            report.rejected.append((index, reason))
    if kept:
        rows = [{"gauge_id": gauge.id, "at": r.at, "level_cm": r.level_cm, "received_at": now} for _, r in kept]
        statement = insert(WaterLevel).values(rows).on_conflict_do_nothing().returning(WaterLevel.at)
        stored = set(await session.scalars(statement))
        for index, reading in kept:
            if reading.at in stored:
                report.accepted += 1
            else:
                report.rejected.append((index, "duplicate"))
        report.rejected.sort()
        latest = max((r for _, r in kept if r.at in stored), key=lambda r: r.at, default=None)
        if latest is not None and (gauge.level_at is None or latest.at > gauge.level_at):
            gauge.level_cm, gauge.level_at = latest.level_cm, latest.at
            report.warned = await _flood_state(session, gauge, rule=rule, now=now)
    report.flooding = gauge.flooding_since is not None
    await session.flush()
    return report


async def _flood_state(session: AsyncSession, gauge: WaterGauge, *, rule: FloodRule, now: datetime) -> int:
    """Move the lot into or out of flooding after a new latest reading; the number of drivers warned."""
    assert gauge.level_cm is not None
    lot_name = await session.scalar(select(Lot.name).where(Lot.id == gauge.lot_id))
    about = {
        "gauge_id": str(gauge.id),
        "lot_id": str(gauge.lot_id),
        "lot": lot_name,
        "level_cm": gauge.level_cm,
        "threshold_cm": gauge.threshold_cm,
    }
    if gauge.flooding_since is None and gauge.level_cm >= gauge.threshold_cm:
        gauge.flooding_since = now
        drivers = await repository.bookings_in_lot(session, lot_id=gauge.lot_id, start=now, end=now + rule.lookahead)
        for driver_id, booking_id, slot_code, start in drivers:
            notify(
                session,
                kind="flood_alert",
                audience=f"account:{driver_id}",
                subject=f"Flood warning at {lot_name}: move your car or park elsewhere",
                body=about | {"booking_id": str(booking_id), "slot_code": slot_code, "start": start.isoformat()},
                now=now,
            )
        notify(
            session,
            kind="flood_alert",
            audience=Role.OPERATOR,
            subject=f"Flood warning at {lot_name}: {len(drivers)} drivers warned",
            body=about | {"drivers_warned": len(drivers)},
            now=now,
        )
        return len(drivers)
    if gauge.flooding_since is not None and gauge.level_cm < gauge.threshold_cm - rule.clear_margin_cm:
        gauge.flooding_since = None
        notify(
            session,
            kind="flood_clear",
            audience=Role.OPERATOR,
            subject=f"{lot_name} is clear of flood water",
            body=about,
            now=now,
        )
    return 0


# ---------------------------------------------------------------- people's reports


async def report_violation(
    session: AsyncSession,
    *,
    actor: Actor,
    kind: ViolationKind,
    plate: str,
    lon: float,
    lat: float,
    at: datetime | None,
    note: str,
    key: bytes,
    max_age: timedelta,
    now: datetime,
) -> Violation:
    """A resident's, officer's or operator's report (the source follows the role)."""
    when = at or now
    if when > now + FUTURE_SKEW:
        raise InvalidInput("a violation cannot be reported ahead of time", extra={"field": "at"})
    if when < now - max_age:
        raise InvalidInput(f"too old to report: at most {max_age} ago", extra={"field": "at"})
    violation = Violation(
        id=uuid.uuid4(),
        at=when,
        location=geography_point(lon, lat),
        plate_hash=plate_hash(key, plate),
        kind=kind,
        source=SOURCE_OF_ROLE[actor.role],
        reported_by=actor.id,
        note=note,
    )
    violation.created_at = now
    session.add(violation)
    await session.flush()
    if kind == ViolationKind.FIRE_LANE:
        await _alert(session, violation.id, now=now)
    return violation


async def _alert(session: AsyncSession, violation_id: uuid.UUID, *, now: datetime) -> None:
    """A fire lane blocked: the operators hear of it at once (the outbox, delivered by the worker)."""
    at, lon, lat = (
        await session.execute(
            select(Violation.at, longitude(Violation.location), latitude(Violation.location)).where(
                Violation.id == violation_id
            )
        )
    ).one()
    notify(
        session,
        kind="fire_lane_alert",
        audience=Role.OPERATOR,
        subject="A vehicle is blocking a fire lane",
        body={"violation_id": str(violation_id), "at": at.isoformat(), "lon": lon, "lat": lat},
        now=now,
    )
    await session.flush()


async def violations(
    session: AsyncSession,
    *,
    start: datetime | None,
    end: datetime | None,
    kind: ViolationKind | None,
    limit: int,
    offset: int,
) -> Sequence[tuple[Violation, float, float]]:
    """Newest first, with their coordinates."""
    query = select(Violation, longitude(Violation.location), latitude(Violation.location))
    if start is not None:
        query = query.where(Violation.at >= start)
    if end is not None:
        query = query.where(Violation.at < end)
    if kind is not None:
        query = query.where(Violation.kind == kind)
    rows = await session.execute(query.order_by(Violation.at.desc(), Violation.id).limit(limit).offset(offset))
    return [(violation, float(lon), float(lat)) for violation, lon, lat in rows]
