"""Vehicles and their MDS events, device keys, deployment and staff actions. A state change is one row in
`vehicle_events` written with the vehicle's new state in the same transaction, so the event log always replays to the
stored state."""

from __future__ import annotations

import csv
import io
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import device_keys
from geo.spatial import geography_point
from mobility import repository
from mobility.errors import (
    InvalidImport,
    InvalidVehicleTransition,
    LabelTaken,
    ProviderNotFound,
    VehicleTypeNotFound,
)
from mobility.models import (
    Provider,
    Vehicle,
    VehicleEvent,
    VehicleType,
)
from mobility.rules import S
from mobility.states import TransitionRefused, step


async def record(
    session: AsyncSession,
    vehicle: Vehicle,
    event_type: str,
    *,
    now: datetime,
    to: S | None = None,
    trip_id: uuid.UUID | None = None,
    at: datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> VehicleEvent:
    """Move the vehicle through one MDS event (409 `invalid_vehicle_transition` when the state machine forbids it)
    and append the event."""
    try:
        new_state = step(S(vehicle.state), event_type, to)
    except TransitionRefused as error:
        raise InvalidVehicleTransition(
            str(error), extra={"vehicle_id": vehicle.id, "state": vehicle.state, "event_type": event_type}
        ) from error
    if lon is None:
        known = await repository.position(session, vehicle)
        lon, lat = known if known else (None, None)
    vehicle.state = new_state
    event = VehicleEvent(
        vehicle_id=vehicle.id,
        event_types=[event_type],
        state=new_state,
        at=at or now,
        lon=lon,
        lat=lat,
        battery_pct=vehicle.battery_pct,
        trip_id=trip_id,
        recorded_at=now,
    )
    session.add(event)
    await session.flush()
    return event


async def provider(session: AsyncSession, provider_id: uuid.UUID) -> Provider:
    found = await session.get(Provider, provider_id)
    if found is None:
        raise ProviderNotFound(f"provider {provider_id} not found")
    return found


async def vehicle_type(session: AsyncSession, code: str) -> VehicleType:
    found = await session.get(VehicleType, code)
    if found is None:
        raise VehicleTypeNotFound(f"vehicle type {code!r} not found", extra={"type_code": code})
    return found


class TypeCodes:
    """The vehicle type codes, reference data that only migrations change: read at most once a minute per process
    (a nearby search would otherwise spend a database round trip on them every time)."""

    def __init__(self, ttl_s: float = 60) -> None:
        self._ttl_s, self._codes, self._read_at = ttl_s, frozenset[str](), -math.inf

    async def get(self, session: AsyncSession) -> frozenset[str]:
        if time.monotonic() - self._read_at > self._ttl_s:
            self._codes = frozenset((await session.execute(select(VehicleType.code))).scalars())
            self._read_at = time.monotonic()
        return self._codes


@dataclass(frozen=True, slots=True)
class NewVehicle:
    type_code: str
    provider_id: uuid.UUID
    label: str
    device_id: str
    battery_pct: int


async def register_vehicles(session: AsyncSession, vehicles: Sequence[NewVehicle]) -> list[tuple[Vehicle, str]]:
    """Register vehicles (state `removed`: in the provider's hands until deployed), each with a new device key,
    returned once. All or nothing: a taken label or device id refuses the whole set (409)."""
    made: list[tuple[Vehicle, str]] = []
    for spec in vehicles:
        await vehicle_type(session, spec.type_code)
        await provider(session, spec.provider_id)
        key = device_keys.new_key()
        made.append(
            (
                Vehicle(
                    type_code=spec.type_code,
                    provider_id=spec.provider_id,
                    label=spec.label,
                    device_id=spec.device_id,
                    device_key_hash=device_keys.digest(key),
                    state=S.REMOVED,
                    battery_pct=spec.battery_pct,
                    odometer_m=0,
                    public_id=uuid.uuid4(),
                ),
                key,
            )
        )
    try:
        async with session.begin_nested():
            session.add_all(vehicle for vehicle, _ in made)
            await session.flush()
    except IntegrityError as error:
        raise LabelTaken("a vehicle with this label or device id is already registered") from error
    return made


CSV_COLUMNS = ("label", "device_id", "type_code", "provider_code", "battery_pct")


async def import_csv(session: AsyncSession, content: str) -> list[tuple[Vehicle, str]]:
    """Register vehicles from CSV (columns `CSV_COLUMNS`). Every row is checked first; any bad row refuses the
    import with every problem listed by row number (422 `invalid_import`), and nothing is registered."""
    reader = csv.DictReader(io.StringIO(content))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidImport(f"the CSV header lacks {', '.join(missing)}", extra={"rows": [], "expected": CSV_COLUMNS})
    types = set((await session.execute(select(VehicleType.code))).scalars())
    providers = {code: provider_id for code, provider_id in await session.execute(select(Provider.code, Provider.id))}
    existing_labels = set((await session.execute(select(Vehicle.label))).scalars())
    existing_devices = set((await session.execute(select(Vehicle.device_id))).scalars())
    problems: list[dict[str, Any]] = []
    specs: list[NewVehicle] = []
    seen_labels: set[str] = set()
    seen_devices: set[str] = set()
    for number, row in enumerate(reader, start=2):  # row 1 is the header
        errors = []
        label, device = (row.get("label") or "").strip(), (row.get("device_id") or "").strip()
        if not label or len(label) > 32:
            errors.append("label must be 1 to 32 characters")
        elif label in existing_labels or label in seen_labels:
            errors.append(f"label {label} is already registered or repeated")
        if not device or len(device) > 64:
            errors.append("device_id must be 1 to 64 characters")
        elif device in existing_devices or device in seen_devices:
            errors.append(f"device_id {device} is already registered or repeated")
        if row.get("type_code") not in types:
            errors.append(f"type_code must be one of {sorted(types)}")
        if row.get("provider_code") not in providers:
            errors.append(f"provider_code must be one of {sorted(providers)}")
        battery = (row.get("battery_pct") or "").strip()
        if not battery.isdigit() or int(battery) > 100:
            errors.append("battery_pct must be an integer from 0 to 100")
        if errors:
            problems.append({"row": number, "errors": errors})
            continue
        seen_labels.add(label)
        seen_devices.add(device)
        specs.append(
            NewVehicle(str(row["type_code"]), providers[str(row["provider_code"])], label, device, int(battery))
        )
    if problems:
        raise InvalidImport(f"{len(problems)} row(s) have errors; nothing was imported", extra={"rows": problems})
    if not specs:
        raise InvalidImport("the CSV has no rows", extra={"rows": []})
    return await register_vehicles(session, specs)


async def rotate_device_key(session: AsyncSession, vehicle_id: uuid.UUID, *, now: datetime) -> str:
    """A new key for the vehicle's device; the old one stops working at once."""
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    key = device_keys.new_key()
    vehicle.device_key_hash = device_keys.digest(key)
    vehicle.device_key_rotated_at = now
    await session.flush()
    return key


async def revoke_device_key(session: AsyncSession, vehicle_id: uuid.UUID, *, now: datetime) -> None:
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    vehicle.device_key_hash = None
    vehicle.device_key_rotated_at = now
    await session.flush()


async def deploy(session: AsyncSession, vehicle_id: uuid.UUID, *, lon: float, lat: float, now: datetime) -> Vehicle:
    """Put a vehicle on the street (`provider_drop_off`): removed (or lost and found) -> available."""
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    vehicle.location = geography_point(lon, lat)  # where staff put it; `last_fix_at` stays the device's
    await record(session, vehicle, "provider_drop_off", now=now, lon=lon, lat=lat)
    return vehicle


# The staff actions on a vehicle and the MDS event each records.
STAFF_ACTIONS = {
    "maintenance": "maintenance_pick_up",  # take it off the street for service
    "rebalance": "rebalance_pick_up",
    "retire": "decommissioned",
    "charged": "battery_charged",
    "suspend": "system_suspend",
    "resume": "system_resume",
}


async def staff_action(session: AsyncSession, vehicle_id: uuid.UUID, action: str, *, now: datetime) -> Vehicle:
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    if action == "charged":
        vehicle.battery_pct = 100
    await record(session, vehicle, STAFF_ACTIONS[action], now=now)
    return vehicle


async def events_of(session: AsyncSession, vehicle_id: uuid.UUID, *, limit: int, offset: int) -> list[VehicleEvent]:
    rows = await session.execute(
        select(VehicleEvent)
        .where(VehicleEvent.vehicle_id == vehicle_id)
        .order_by(VehicleEvent.seq.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars())
