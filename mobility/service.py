"""Use cases of the fleet: vehicles and their MDS events, device keys, telemetry, geofences, rides.

Services take the session, may flush, never commit. A state change is one row in `vehicle_events` written with the
vehicle's new state in the same transaction, so the event log always replays to the stored state. Money moves
through billing (hold at unlock, capture and split at the end) and every trip lands on the ledger.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DataError, IntegrityError, InternalError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.errors import DeviceNotAuthenticated
from billing import journal, mileage
from billing.errors import PriceUnavailable
from billing.models import SettlementRule, Tariff
from billing.pricing import Caps, DayType, NoTariff, quote
from billing.service import price_book
from billing.wallet import Wallet
from core import device_keys
from core.errors import Forbidden, InvalidInput
from core.settings import Settings
from geo.models import Zone
from geo.repository import zone_containing
from geo.spatial import geography_point
from ledger import log as ledger
from mobility import live, repository
from mobility.errors import (
    EndNotAllowedHere,
    GeofenceNotFound,
    InvalidGeometry,
    InvalidImport,
    InvalidVehicleTransition,
    LabelTaken,
    ProviderNotFound,
    RiderBusy,
    TripNotFound,
    VehicleTypeNotFound,
    VehicleUnavailable,
)
from mobility.models import (
    ComplianceEvent,
    Geofence,
    GeofenceKind,
    ParkAndRide,
    ParkAndRideStatus,
    Provider,
    ProviderKind,
    RideFareCap,
    Trip,
    TripStatus,
    Vehicle,
    VehicleEvent,
    VehicleType,
)
from mobility.states import TransitionRefused, VehicleState, step
from mobility.telemetry import Fix, Rejection, Screening, screen
from parking import service as parking
from parking.models import Booking, BookingStatus
from parking.policy import BookingPolicy

S = VehicleState
HOLD_VALID = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class FleetRules:
    """The mobility settings the services need, read once."""

    reservation: timedelta
    hold_minutes: int
    battery_low_pct: int
    comms_lost: timedelta
    missing: timedelta
    screening: Screening
    timezone: str
    walk_detour_factor: float

    @classmethod
    def from_settings(cls, settings: Settings) -> FleetRules:
        return cls(
            reservation=timedelta(minutes=settings.ride_reservation_minutes),
            hold_minutes=settings.ride_hold_minutes,
            battery_low_pct=settings.battery_low_pct,
            comms_lost=timedelta(minutes=settings.comms_lost_minutes),
            missing=timedelta(minutes=settings.missing_minutes),
            screening=Screening(
                max_age=timedelta(hours=settings.telemetry_max_age_hours),
                future_skew=timedelta(seconds=settings.telemetry_future_skew_seconds),
                far_m=settings.telemetry_far_m,
                max_speed_mps=settings.telemetry_max_speed_mps,
            ),
            timezone=settings.local_timezone,
            walk_detour_factor=settings.walk_detour_factor,
        )


# ------------------------------------------------------------------ vehicles and their events


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


# ------------------------------------------------------------------ telemetry


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


async def prepare_telemetry(session: AsyncSession, *, now: datetime, retention_days: int, ahead_days: int = 2) -> None:
    """Daily partitions from the oldest a point may be (yesterday) to `ahead_days` ahead; drop those past retention.
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


# ------------------------------------------------------------------ geofences


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


# ------------------------------------------------------------------ park-and-ride

FREE_FLOATING = ("scooter_standing", "bicycle")  # form factors a park-and-ride leg may take
BOOKING_ENDED = (BookingStatus.CANCELLED, BookingStatus.NO_SHOW, BookingStatus.COMPLETED)  # a waiting leg follows


async def plan_last_leg(
    session: AsyncSession, *, booking: Booking, type_code: str, radius_m: int, now: datetime
) -> ParkAndRide:
    """A vehicle reservation for the last leg of a parking booking, in the booking's transaction: nothing is held
    until the booking is checked out."""
    kind = await vehicle_type(session, type_code)
    if kind.form_factor not in FREE_FLOATING:
        raise InvalidInput(
            f"park-and-ride takes a shared scooter or bicycle, not a {kind.form_factor}",
            extra={"type_code": type_code},
        )
    leg = ParkAndRide(
        booking_id=booking.id,
        rider_id=booking.driver_id,
        type_code=type_code,
        radius_m=radius_m,
        status=ParkAndRideStatus.WAITING,
        status_changed_at=now,
    )
    session.add(leg)
    await session.flush()
    return leg


async def last_legs(session: AsyncSession, booking_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ParkAndRide]:
    rows = await session.execute(select(ParkAndRide).where(ParkAndRide.booking_id.in_(booking_ids)))
    return {leg.booking_id: leg for leg in rows.scalars()}


def _move_leg(leg: ParkAndRide, status: ParkAndRideStatus, *, now: datetime, note: str | None = None) -> None:
    leg.status, leg.status_changed_at = status, now
    if note is not None:
        leg.note = note


async def follow_booking(
    session: AsyncSession, *, booking: Booking, rules: FleetRules, now: datetime
) -> ParkAndRide | None:
    """Keep the booking's last leg in step with it: undone with a cancelled or no-show booking; at check-out the
    nearest available vehicle of the type within the radius of the slot is reserved for the driver for
    `rules.reservation` (or the leg is unfulfilled, with the reason, and parking is not affected)."""
    ended = booking.status in BOOKING_ENDED
    query = select(ParkAndRide).where(ParkAndRide.booking_id == booking.id)
    leg = await session.scalar(query.with_for_update() if ended else query)  # lock only when it may change
    if leg is None or leg.status != ParkAndRideStatus.WAITING or not ended:
        return leg
    if booking.status in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW):
        _move_leg(leg, ParkAndRideStatus.CANCELLED, now=now, note=f"the parking booking is {booking.status}")
    elif booking.status == BookingStatus.COMPLETED:
        await _hold_last_leg(session, leg, booking=booking, rules=rules, now=now)
    await session.flush()
    return leg


async def _hold_last_leg(
    session: AsyncSession, leg: ParkAndRide, *, booking: Booking, rules: FleetRules, now: datetime
) -> None:
    try:
        await _rider_free(session, leg.rider_id, now=now, except_vehicle=None)
    except RiderBusy as busy:
        _move_leg(leg, ParkAndRideStatus.UNFULFILLED, now=now, note=busy.detail)
        return
    vehicle = await repository.nearest_rentable(
        session,
        type_code=leg.type_code,
        slot_id=booking.slot_id,
        radius_m=leg.radius_m,
        min_battery_pct=rules.battery_low_pct,
    )
    if vehicle is None:
        _move_leg(
            leg,
            ParkAndRideStatus.UNFULFILLED,
            now=now,
            note=f"no {leg.type_code} was available within {leg.radius_m} m of the slot at check-out",
        )
        return
    await _hold(session, vehicle, rider_id=leg.rider_id, rules=rules, now=now)
    leg.vehicle_id, leg.held_until = vehicle.id, vehicle.reserved_until
    _move_leg(leg, ParkAndRideStatus.HELD, now=now)


async def follow_bookings(
    session: AsyncSession, *, rules: FleetRules, policy: BookingPolicy, now: datetime
) -> list[uuid.UUID]:
    """The worker's sweep: waiting legs follow bookings that ended by the clock (a no-show) or by another path.
    Returns the vehicles held, for the live index."""
    waiting = list(
        (
            await session.execute(select(ParkAndRide.booking_id).where(ParkAndRide.status == ParkAndRideStatus.WAITING))
        ).scalars()
    )
    await parking.advance(session, booking_ids=waiting, policy=policy, now=now)
    ended = await session.execute(
        select(Booking).where(
            Booking.id.in_(waiting),
            Booking.status.in_(BOOKING_ENDED),
        )
    )
    held = []
    for booking in ended.scalars():
        leg = await follow_booking(session, booking=booking, rules=rules, now=now)
        if leg is not None and leg.vehicle_id is not None:
            held.append(leg.vehicle_id)
    return held


async def _close_held_leg(
    session: AsyncSession, vehicle: Vehicle, status: ParkAndRideStatus, *, now: datetime
) -> ParkAndRide | None:
    """The vehicle's reservation ends (ridden, expired, cancelled): so does the park-and-ride leg it served."""
    if vehicle.state != S.RESERVED:
        return None
    leg = await session.scalar(
        select(ParkAndRide).where(
            ParkAndRide.vehicle_id == vehicle.id,
            ParkAndRide.rider_id == vehicle.reserved_by,
            ParkAndRide.status == ParkAndRideStatus.HELD,
        )
    )
    if leg is not None:
        _move_leg(leg, status, now=now)
    return leg


# ------------------------------------------------------------------ rides


async def _expire_reservation(session: AsyncSession, vehicle: Vehicle, *, now: datetime) -> None:
    if vehicle.state == S.RESERVED and vehicle.reserved_until is not None and vehicle.reserved_until <= now:
        await _close_held_leg(session, vehicle, ParkAndRideStatus.EXPIRED, now=now)
        await record(session, vehicle, "reservation_cancel", now=now, at=vehicle.reserved_until)
        vehicle.reserved_by = vehicle.reserved_until = None


async def expire_reservations(session: AsyncSession, *, now: datetime) -> int:
    """The worker's sweep: free reservations past their time become available again."""
    rows = await session.execute(
        select(Vehicle)
        .where(Vehicle.state == S.RESERVED, Vehicle.reserved_until <= now)
        .with_for_update(skip_locked=True)
    )
    expired = list(rows.scalars())
    for vehicle in expired:
        await _expire_reservation(session, vehicle, now=now)
    return len(expired)


async def _rider_free(
    session: AsyncSession, rider_id: uuid.UUID, *, now: datetime, except_vehicle: uuid.UUID | None
) -> None:
    riding = await session.scalar(select(Trip.id).where(Trip.rider_id == rider_id, Trip.status == TripStatus.ON_TRIP))
    if riding is not None:
        raise RiderBusy("you are already on a ride; end it first", extra={"trip_id": riding})
    held = await session.scalar(
        select(Vehicle.id).where(
            Vehicle.reserved_by == rider_id, Vehicle.state == S.RESERVED, Vehicle.reserved_until > now
        )
    )
    if held is not None and held != except_vehicle:
        raise RiderBusy("you already hold a reservation; cancel it first", extra={"vehicle_id": held})


def _rentable(vehicle: Vehicle, rider: Actor) -> None:
    if vehicle.state == S.RESERVED and vehicle.reserved_by == rider.id:
        return
    if vehicle.state != S.AVAILABLE:
        raise VehicleUnavailable(
            f"vehicle {vehicle.label} is {vehicle.state}, not available", extra={"state": vehicle.state}
        )


async def reserve(
    session: AsyncSession, *, rider: Actor, vehicle_id: uuid.UUID, rules: FleetRules, now: datetime
) -> Vehicle:
    """Hold an available vehicle for the rider, free of charge, for `rules.reservation`."""
    await _rider_free(session, rider.id, now=now, except_vehicle=None)
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    await _expire_reservation(session, vehicle, now=now)
    if vehicle.state == S.RESERVED and vehicle.reserved_by == rider.id:
        raise VehicleUnavailable("you already reserved this vehicle", extra={"reserved_until": vehicle.reserved_until})
    _rentable(vehicle, rider)
    await _hold(session, vehicle, rider_id=rider.id, rules=rules, now=now)
    await session.flush()
    return vehicle


async def _hold(
    session: AsyncSession, vehicle: Vehicle, *, rider_id: uuid.UUID, rules: FleetRules, now: datetime
) -> None:
    """Reserve the vehicle for the rider, free, for `rules.reservation` (an MDS `reservation_start`)."""
    await record(session, vehicle, "reservation_start", now=now)
    vehicle.reserved_by, vehicle.reserved_until = rider_id, now + rules.reservation


async def cancel_reservation(session: AsyncSession, *, rider: Actor, vehicle_id: uuid.UUID, now: datetime) -> Vehicle:
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    if vehicle.state != S.RESERVED or (vehicle.reserved_by != rider.id and not rider.is_operator):
        raise InvalidVehicleTransition("you hold no reservation on this vehicle", extra={"state": vehicle.state})
    await _close_held_leg(session, vehicle, ParkAndRideStatus.CANCELLED, now=now)
    await record(session, vehicle, "reservation_cancel", now=now)
    vehicle.reserved_by = vehicle.reserved_until = None
    await session.flush()
    return vehicle


def all_day_ride_tariffs(zone_id: uuid.UUID, type_code: str, krw_per_minute: int) -> list[Tariff]:
    """A flat per-minute ride tariff for a vehicle type in a zone, all day, every day type."""
    return [
        Tariff(
            zone_id=zone_id,
            slot_kind=type_code,
            day_type=day,
            start_minute=0,
            end_minute=1440,
            unit_minutes=1,
            unit_price_krw=krw_per_minute,
        )
        for day in DayType
    ]


async def fare_lines(
    session: AsyncSession,
    *,
    zone_id: uuid.UUID,
    vehicle_type: VehicleType,
    start: datetime,
    end: datetime,
    timezone: str,
    extra_fees: Sequence[tuple[str, int]] = (),
) -> list[dict[str, Any]]:
    """Unlock fee, then the per-minute tariff of the zone for the vehicle type by time band, within the city's caps,
    then any fees. Integer KRW; the lines add up to the fare."""
    book = await price_book(session, [zone_id], start, end)
    cap = await session.get(RideFareCap, (zone_id, vehicle_type.code))
    unlock = vehicle_type.unlock_fee_krw if cap is None else min(vehicle_type.unlock_fee_krw, cap.max_unlock_fee_krw)
    try:
        priced = quote(
            start,
            max(end, start + timedelta(minutes=1)),
            timezone=timezone,
            bands=book.bands.get((zone_id, vehicle_type.code), ()),
            holidays=book.holidays,
            caps=Caps(0, cap.max_krw_per_minute * 60) if cap is not None else None,
        )
    except NoTariff as error:
        raise PriceUnavailable(f"rides on {vehicle_type.code} have no price here and now: {error}") from error
    lines: list[dict[str, Any]] = [{"kind": "unlock", "amount_krw": unlock}]
    lines += [
        {
            "kind": "time",
            "from": line.start.isoformat(),
            "to": line.end.isoformat(),
            "band": line.band,
            "minutes": line.units * line.unit_minutes,
            "unit_price_krw": line.unit_price_krw,
            "amount_krw": line.amount_krw,
        }
        for line in priced.lines
    ]
    lines += [{"kind": kind, "amount_krw": amount} for kind, amount in extra_fees]
    return lines


async def ride_shares(session: AsyncSession, *, type_code: str, provider_row: Provider) -> dict[str, int]:
    """The ride settlement rule of the vehicle type, as journal accounts -> basis points. A partner's share goes
    to `provider:<id>`; the village enterprise's fleet earns its own share as `enterprise`."""
    rule = await session.scalar(
        select(SettlementRule).where(SettlementRule.slot_kind == type_code, SettlementRule.lot_id.is_(None))
    )
    if rule is None:
        raise PriceUnavailable(f"no settlement rule for rides on {type_code}")
    provider_account = (
        journal.ENTERPRISE if provider_row.kind == ProviderKind.VILLAGE_ENTERPRISE else f"provider:{provider_row.id}"
    )
    shares: dict[str, int] = {}
    for account, bp in (
        (provider_account, rule.owner_bp),
        (journal.ENTERPRISE, rule.enterprise_bp),
        (journal.CITY, rule.city_bp),
        (journal.PLATFORM, rule.platform_bp),
    ):
        if bp:
            shares[account] = shares.get(account, 0) + bp
    return shares


def trip_record(trip: Trip, *, kind: str, now: datetime) -> ledger.Record:
    """The ledger entry of a trip: no rider identity."""
    body: dict[str, Any] = {
        "trip_id": trip.id,
        "vehicle_id": trip.vehicle_id,
        "type": trip.type_code,
        "status": trip.status,
        "started_at": trip.started_at,
    }
    if trip.ended_at is not None:
        body |= {"ended_at": trip.ended_at, "distance_m": trip.distance_m or 0, "fare_krw": trip.fare_krw or 0}
    return ledger.Record(kind=kind, subject=f"trip:{trip.id}", at=now, body=body)


async def unlock(
    session: AsyncSession,
    *,
    rider: Actor,
    vehicle_id: uuid.UUID,
    rules: FleetRules,
    now: datetime,
) -> Trip:
    """Start a ride: the vehicle must be available (or reserved by the rider), in a priced zone, and the rider's
    wallet must cover the estimated fare (`rules.hold_minutes`), which is held. A vehicle held for the last leg of
    a parking booking (park-and-ride) links the trip to that booking."""
    await _rider_free(session, rider.id, now=now, except_vehicle=vehicle_id)
    vehicle = await repository.vehicle_for_update(session, vehicle_id)
    await _expire_reservation(session, vehicle, now=now)
    _rentable(vehicle, rider)
    if vehicle.battery_pct < rules.battery_low_pct:
        raise VehicleUnavailable(f"vehicle {vehicle.label}'s battery is too low to ride")
    where = await repository.position(session, vehicle)
    if where is None:
        raise VehicleUnavailable(f"vehicle {vehicle.label} has no known position")
    zone = await zone_containing(session, lon=where[0], lat=where[1])
    if zone is None:
        raise VehicleUnavailable(f"vehicle {vehicle.label} is outside every priced zone")
    kind = await vehicle_type(session, vehicle.type_code)
    estimate = await fare_lines(
        session,
        zone_id=zone.id,
        vehicle_type=kind,
        start=now,
        end=now + timedelta(minutes=rules.hold_minutes),
        timezone=rules.timezone,
    )
    leg = await _close_held_leg(session, vehicle, ParkAndRideStatus.RIDDEN, now=now)
    amount = sum(line["amount_krw"] for line in estimate)
    hold = (
        await Wallet().hold(
            session, driver_id=rider.id, amount=amount, booking_id=None, expires_at=now + HOLD_VALID, now=now
        )
        if amount
        else None
    )
    vehicle.reserved_by = vehicle.reserved_until = None
    return await start_trip(
        session,
        vehicle,
        rider_id=rider.id,
        zone_id=zone.id,
        lon=where[0],
        lat=where[1],
        hold_id=hold.id if hold else None,
        parking_booking_id=leg.booking_id if leg is not None else None,
        now=now,
    )


async def start_trip(
    session: AsyncSession,
    vehicle: Vehicle,
    *,
    rider_id: uuid.UUID,
    zone_id: uuid.UUID,
    lon: float,
    lat: float,
    hold_id: uuid.UUID | None,
    now: datetime,
    parking_booking_id: uuid.UUID | None = None,
) -> Trip:
    """A trip on the vehicle from (lon, lat), its fare held by `hold_id`: the MDS `trip_start` and the ledger entry
    (a ride's unlock, a happiness car's pick-up)."""
    trip = Trip(
        vehicle_id=vehicle.id,
        rider_id=rider_id,
        provider_id=vehicle.provider_id,
        type_code=vehicle.type_code,
        zone_id=zone_id,
        status=TripStatus.ON_TRIP,
        started_at=now,
        start_lon=lon,
        start_lat=lat,
        hold_id=hold_id,
        parking_booking_id=parking_booking_id,
    )
    session.add(trip)
    await session.flush()
    await record(session, vehicle, "trip_start", now=now, trip_id=trip.id, lon=lon, lat=lat)
    await ledger.append(session, trip_record(trip, kind="trip.started", now=now))
    return trip


async def trip_for(session: AsyncSession, *, actor: Actor, trip_id: uuid.UUID, lock: bool = False) -> Trip:
    trip = await session.get(Trip, trip_id, with_for_update=lock, populate_existing=lock)
    if trip is None or (trip.rider_id != actor.id and not actor.is_operator):
        raise TripNotFound(f"trip {trip_id} not found")
    return trip


async def end_ride(
    session: AsyncSession, *, actor: Actor, trip_id: uuid.UUID, force: bool, rules: FleetRules, now: datetime
) -> Trip:
    """End a ride where the vehicle is (its last fix). Outside every parking area (for types that need one) or in a
    no-parking area it is refused with the nearest allowed area; staff may force the end, with the documented fee.
    The fare is captured from the hold, split, and the trip written to the ledger, in this transaction."""
    if force and not actor.is_operator:
        raise Forbidden("only village enterprise staff may force a ride to end")
    trip = await trip_for(session, actor=actor, trip_id=trip_id, lock=True)
    if trip.status != TripStatus.ON_TRIP:
        raise InvalidVehicleTransition(f"this trip is already {trip.status}", extra={"status": trip.status})
    vehicle = await repository.vehicle_for_update(session, trip.vehicle_id)
    kind = await vehicle_type(session, vehicle.type_code)
    where = await repository.position(session, vehicle)
    assert where is not None  # set at unlock
    lon, lat = where
    fees: list[tuple[str, int]] = []
    refusal = await _end_refusal(session, kind=kind, lon=lon, lat=lat, rules=rules, now=now)
    if refusal is not None:
        if not force:
            raise refusal
        fees.append(("forced_end_fee", kind.force_end_fee_krw))
        trip.forced_by = actor.id
    if vehicle.state == S.ELSEWHERE:
        raise EndNotAllowedHere("the vehicle is outside the service area; ride back in to end the trip")
    lines = await fare_lines(
        session,
        zone_id=trip.zone_id,
        vehicle_type=kind,
        start=trip.started_at,
        end=now,
        timezone=rules.timezone,
        extra_fees=fees,
    )
    fare = sum(line["amount_krw"] for line in lines)
    route, distance = await repository.route_of(session, vehicle_id=vehicle.id, start=trip.started_at, end=now)
    trip.status, trip.ended_at, trip.end_lon, trip.end_lat = TripStatus.COMPLETED, now, lon, lat
    trip.route = func.ST_GeomFromText(route, 4326) if route else None
    trip.distance_m, trip.fare_krw, trip.fare_lines = distance, fare, lines
    vehicle.odometer_m += distance
    vehicle.public_id = uuid.uuid4()  # GBFS ids rotate after every trip
    await _settle(session, trip=trip, fare=fare, now=now)
    await record(session, vehicle, "trip_end", now=now, trip_id=trip.id, lon=lon, lat=lat)
    if vehicle.battery_pct < rules.battery_low_pct:
        await record(session, vehicle, "battery_low", now=now, lon=lon, lat=lat)
    await _earn_mileage(session, trip=trip, now=now)
    await ledger.append(session, trip_record(trip, kind="trip.completed", now=now))
    return trip


async def _end_refusal(
    session: AsyncSession, *, kind: VehicleType, lon: float, lat: float, rules: FleetRules, now: datetime
) -> EndNotAllowedHere | None:
    banned = await repository.areas_at(
        session, kind=GeofenceKind.NO_PARKING, type_code=kind.code, lon=lon, lat=lat, at=now
    )
    allowed = await repository.areas_at(
        session, kind=GeofenceKind.PARKING, type_code=kind.code, lon=lon, lat=lat, at=now
    )
    if not banned and (allowed or not kind.requires_parking_area):
        return None
    nearest = await repository.nearest_area(
        session, kind=GeofenceKind.PARKING, type_code=kind.code, lon=lon, lat=lat, at=now
    )
    why = f"parking is not allowed in {banned[0].name}" if banned else "a ride must end inside a parking area"
    extra: dict[str, Any] = {"location": {"lon": lon, "lat": lat}}
    if nearest is not None:
        walk = int(round(nearest.distance_m * rules.walk_detour_factor))
        extra["nearest_parking_area"] = {"id": nearest.id, "name": nearest.name, "walk_m": walk}
        why += f"; the nearest is {nearest.name}, about {walk} m away"
    return EndNotAllowedHere(why, extra=extra)


async def _settle(session: AsyncSession, *, trip: Trip, fare: int, now: datetime) -> None:
    wallet = Wallet()
    if trip.hold_id is None:
        if fare:
            hold = await wallet.hold(
                session, driver_id=trip.rider_id, amount=fare, booking_id=None, expires_at=now + HOLD_VALID, now=now
            )
            trip.hold_id = hold.id
        else:
            return
    assert trip.hold_id is not None
    if fare:
        shares = await ride_shares(
            session, type_code=trip.type_code, provider_row=await provider(session, trip.provider_id)
        )
        await wallet.capture(session, hold_id=trip.hold_id, amount=fare, shares=shares, now=now)
    await wallet.release(session, hold_id=trip.hold_id, now=now)


async def _earn_mileage(session: AsyncSession, *, trip: Trip, now: datetime) -> None:
    checked_out = await session.scalar(
        select(func.max(Booking.checked_out_at)).where(
            Booking.driver_id == trip.rider_id, Booking.checked_out_at <= trip.started_at
        )
    )
    zone_code = await session.scalar(select(Zone.code).where(Zone.id == trip.zone_id))
    await mileage.earn(
        session,
        mileage.Event(
            kind="ride_completed",
            reference=f"trip:{trip.id}",
            account_id=trip.rider_id,
            zone_code=str(zone_code or ""),
            slot_kind=trip.type_code,
            minutes=int(((trip.ended_at or now) - trip.started_at).total_seconds() // 60),
            charged_krw=trip.fare_krw or 0,
            minutes_after_parking=(
                int((trip.started_at - checked_out).total_seconds() // 60) if checked_out is not None else None
            ),
        ),
        now=now,
    )
