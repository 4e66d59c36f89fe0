"""HTTP models of micro-mobility: providers, vehicles and their events, telemetry, geofences, reservations, trips."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Instant, Latitude, Location, Longitude, Strict
from api.schemas.parking import ReceiptOut


class VehicleTypeOut(BaseModel):
    code: str = Field(examples=["scooter"])
    name: str
    form_factor: str = Field(description="GBFS form factor: scooter_standing, bicycle or car")
    propulsion: str = Field(description="GBFS propulsion type: electric or electric_assist")
    max_range_m: int
    max_speed_kmh: int
    unlock_fee_krw: int
    requires_parking_area: bool = Field(description="rides must end inside a `parking` geofence")
    force_end_fee_krw: int = Field(description="fee when staff force a ride to end outside the rules")


class ProviderOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: str = Field(description="village_enterprise or partner")


class VehicleIn(Strict):
    label: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", examples=["SC-0101"])
    device_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    type_code: str = Field(min_length=1, max_length=24, examples=["scooter"])
    provider_id: uuid.UUID
    battery_pct: int = Field(default=100, ge=0, le=100)


class VehicleOut(BaseModel):
    id: uuid.UUID
    label: str
    device_id: str
    type_code: str
    provider_id: uuid.UUID
    state: str = Field(description="MDS 2.0 vehicle state")
    battery_pct: int
    location: Location | None
    last_fix_at: datetime | None
    reserved_until: datetime | None
    odometer_m: int


class RegisteredVehicleOut(VehicleOut):
    device_key: str = Field(description="the device's key: shown once, stored hashed; send it as X-Device-Key")


class DeviceKeyOut(BaseModel):
    device_id: str
    device_key: str = Field(description="shown once; the previous key stops working at once")


class ImportOut(BaseModel):
    imported: int
    vehicles: list[RegisteredVehicleOut]


class DeployIn(Strict):
    location: Location


class VehicleEventOut(BaseModel):
    event_id: uuid.UUID
    event_types: list[str]
    vehicle_state: str
    at: datetime
    location: Location | None
    battery_pct: int | None
    trip_id: uuid.UUID | None


class TelemetryPointIn(Strict):
    at: Instant = Field(description="when the fix was taken")
    lon: Longitude
    lat: Latitude
    speed_mps: float | None = Field(default=None, ge=0, le=100)
    heading_deg: float | None = Field(default=None, ge=0, lt=360)
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    accuracy_m: float | None = Field(default=None, ge=0, le=10_000)


class TelemetryIn(Strict):
    points: list[TelemetryPointIn] = Field(min_length=1, max_length=1000)


class RejectedPoint(BaseModel):
    index: int = Field(description="position of the point in the posted batch")
    reason: str = Field(description="duplicate, out_of_order, future, stale, far_out_of_area or impossible_speed")


class TelemetryOut(BaseModel):
    accepted: int
    rejected: int
    rejections: list[RejectedPoint]
    events: list[str] = Field(description="MDS events the batch caused (e.g. battery_low)")
    vehicle_state: str


class GeofenceIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["service_area", "no_riding", "no_parking", "slow", "parking"]
    vehicle_types: list[str] = Field(default_factory=list, max_length=10, description="empty: every type")
    max_speed_kmh: int | None = Field(default=None, ge=1, le=100, description="required for slow zones")
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, WGS84")
    effective_from: Instant
    effective_to: Instant | None = None


class GeofenceOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    vehicle_types: list[str]
    max_speed_kmh: int | None
    area: dict[str, Any] = Field(description="GeoJSON MultiPolygon")
    effective_from: datetime
    effective_to: datetime | None


class GeofenceImportIn(Strict):
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]] = Field(min_length=1, max_length=500)


class GeofenceEndIn(Strict):
    at: Instant = Field(description="the rule stops applying from this time")


class NearbyVehicleOut(BaseModel):
    id: uuid.UUID
    label: str
    type_code: str
    battery_pct: int
    range_m: int = Field(description="estimated range left: battery x the type's range")
    location: Location
    walk_m: int = Field(description="estimated walking metres (straight line x detour factor)")


class VehicleRef(Strict):
    vehicle_id: uuid.UUID


class ReservationOut(BaseModel):
    vehicle_id: uuid.UUID
    label: str
    reserved_until: datetime


class TripOut(BaseModel):
    id: uuid.UUID
    vehicle_id: uuid.UUID
    type_code: str
    status: str = Field(description="on_trip, completed or cancelled")
    started_at: datetime
    ended_at: datetime | None
    start: Location
    end: Location | None
    distance_m: int | None
    duration_s: int | None
    fare_krw: int | None
    fare_lines: list[dict[str, Any]] | None = Field(description="unlock, time by band, fees; they add up to fare")
    route: dict[str, Any] | None = Field(description="GeoJSON LineString of the ride (detail only)")
    receipts: list[ReceiptOut] | None = Field(description="ledger receipts of the trip (detail only)")
