"""Shared vehicles (e-scooters, e-bikes, cars), their MDS events, trips, telemetry history and geofences."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, IdMixin
from core.enums import check_in
from mobility.states import VehicleState


class FormFactor(StrEnum):
    """GBFS v3.0 form factors maeul runs."""

    SCOOTER_STANDING = "scooter_standing"
    BICYCLE = "bicycle"
    CAR = "car"


class Propulsion(StrEnum):
    """GBFS v3.0 propulsion types maeul runs."""

    ELECTRIC = "electric"
    ELECTRIC_ASSIST = "electric_assist"


class GeofenceKind(StrEnum):
    SERVICE_AREA = "service_area"  # where vehicles operate; leaving it during a trip is `elsewhere`
    NO_RIDING = "no_riding"
    NO_PARKING = "no_parking"  # a ride may not end here
    SLOW = "slow"  # max_speed_kmh applies
    PARKING = "parking"  # a ride may end here (required for types with requires_parking_area)


class TripStatus(StrEnum):
    ON_TRIP = "on_trip"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ProviderKind(StrEnum):
    VILLAGE_ENTERPRISE = "village_enterprise"
    PARTNER = "partner"


class Provider(IdMixin, CreatedAtMixin, Base):
    """Who owns and runs vehicles: the village enterprise or a partner company. A partner's revenue share is booked
    to the journal account `provider:<id>`; the village enterprise's to `enterprise`."""

    __tablename__ = "mobility_providers"
    __table_args__ = (CheckConstraint(check_in("kind", ProviderKind), name="kind"),)

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))


class VehicleType(Base):
    """A kind of vehicle: what riders see in GBFS and what the fare and rules depend on."""

    __tablename__ = "vehicle_types"
    __table_args__ = (
        CheckConstraint(check_in("form_factor", FormFactor), name="form_factor"),
        CheckConstraint(check_in("propulsion", Propulsion), name="propulsion"),
        CheckConstraint("max_range_m > 0 AND max_speed_kmh > 0 AND unlock_fee_krw >= 0", name="numbers"),
    )

    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    form_factor: Mapped[str] = mapped_column(String(24))
    propulsion: Mapped[str] = mapped_column(String(24))
    max_range_m: Mapped[int] = mapped_column(Integer)
    max_speed_kmh: Mapped[int] = mapped_column(Integer)
    unlock_fee_krw: Mapped[int] = mapped_column(Integer)
    requires_parking_area: Mapped[bool] = mapped_column(Boolean)
    force_end_fee_krw: Mapped[int] = mapped_column(Integer, default=0)


class Vehicle(IdMixin, CreatedAtMixin, Base):
    """One shared vehicle and its current MDS state (the replay of its event log, kept in step by the service)."""

    __tablename__ = "vehicles"
    __table_args__ = (
        CheckConstraint(check_in("state", VehicleState), name="state"),
        CheckConstraint("battery_pct BETWEEN 0 AND 100", name="battery"),
    )

    type_code: Mapped[str] = mapped_column(ForeignKey("vehicle_types.code"), index=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mobility_providers.id"), index=True)
    label: Mapped[str] = mapped_column(String(32), unique=True)  # printed on the vehicle, e.g. SC-0012
    device_id: Mapped[str] = mapped_column(String(64), unique=True)  # the IoT module's id
    device_key_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 hex of the current key
    device_key_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(24))
    battery_pct: Mapped[int] = mapped_column(SmallInteger)
    location: Mapped[Any | None] = mapped_column(Geography("POINT", srid=4326, spatial_index=True))
    last_fix_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    public_id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4, unique=True)  # GBFS id, rotated per trip
    reserved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))
    reserved_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    odometer_m: Mapped[int] = mapped_column(BigInteger, default=0)


class VehicleEvent(Base):
    """An MDS vehicle event: the state after it, the event types that led there. Append-only (trigger)."""

    __tablename__ = "vehicle_events"
    # a vehicle's state at an instant is its latest event at or before it (MDS replays, KPIs per hour)
    __table_args__ = (Index("ix_vehicle_events_vehicle_at", "vehicle_id", "at"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)  # order of recording
    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4, unique=True)  # MDS event_id
    vehicle_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vehicles.id"))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    state: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    battery_pct: Mapped[int | None] = mapped_column(SmallInteger)
    trip_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("trips.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ParkAndRideStatus(StrEnum):
    WAITING = "waiting"  # for the parking booking's check-out
    HELD = "held"  # a vehicle is reserved for the driver
    RIDDEN = "ridden"  # the driver unlocked it: a trip carries the booking
    CANCELLED = "cancelled"  # with the booking (cancelled, no-show) or by the rider
    EXPIRED = "expired"  # the hold ran out unused
    UNFULFILLED = "unfulfilled"  # no vehicle could be held at check-out (see note)


class ParkAndRide(IdMixin, CreatedAtMixin, Base):
    """The last leg of a parking booking: made with the booking, undone with it; at check-out the nearest
    available vehicle of the type within the radius of the slot is reserved for the driver."""

    __tablename__ = "park_and_ride"
    __table_args__ = (CheckConstraint(check_in("status", ParkAndRideStatus), name="status"),)

    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id"), unique=True)
    rider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    type_code: Mapped[str] = mapped_column(ForeignKey("vehicle_types.code"))
    radius_m: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ParkAndRideStatus.WAITING)
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("vehicles.id"))
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(200))
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Trip(IdMixin, Base):
    """A ride. The route is the vehicle's telemetry between start and end; fare lines are kept as given."""

    __tablename__ = "trips"
    __table_args__ = (
        CheckConstraint(check_in("status", TripStatus), name="status"),
        CheckConstraint("fare_krw IS NULL OR fare_krw >= 0", name="fare"),
        # one open trip per vehicle and per rider: two racing unlocks cannot both succeed
        Index("uq_trips_open_vehicle", "vehicle_id", unique=True, postgresql_where=text("status = 'on_trip'")),
        Index("uq_trips_open_rider", "rider_id", unique=True, postgresql_where=text("status = 'on_trip'")),
    )

    vehicle_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vehicles.id"), index=True)
    rider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mobility_providers.id"))
    type_code: Mapped[str] = mapped_column(ForeignKey("vehicle_types.code"))
    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("zones.id"))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    start_lon: Mapped[float] = mapped_column(Float)
    start_lat: Mapped[float] = mapped_column(Float)
    end_lon: Mapped[float | None] = mapped_column(Float)
    end_lat: Mapped[float | None] = mapped_column(Float)
    route: Mapped[Any | None] = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=False))
    distance_m: Mapped[int | None] = mapped_column(Integer)
    fare_krw: Mapped[int | None] = mapped_column(Integer)
    fare_lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    hold_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_holds.id"))
    forced_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))
    parking_booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bookings.id"))


class Geofence(IdMixin, CreatedAtMixin, Base):
    """A rule area: kind, the vehicle types it applies to (empty: all), effective [from, to)."""

    __tablename__ = "geofences"
    __table_args__ = (
        CheckConstraint(check_in("kind", GeofenceKind), name="kind"),
        CheckConstraint("kind <> 'slow' OR max_speed_kmh IS NOT NULL", name="slow_has_speed"),
        CheckConstraint("effective_to IS NULL OR effective_to > effective_from", name="period"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    vehicle_types: Mapped[list[str]] = mapped_column(ARRAY(String(24)), default=list)
    max_speed_kmh: Mapped[int | None] = mapped_column(Integer)
    area: Mapped[Any] = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True))
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    effective_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ComplianceEvent(IdMixin, Base):
    """A rule broken by a vehicle, for the city (e.g. speeding in a slow zone). No rider identity."""

    __tablename__ = "compliance_events"

    vehicle_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vehicles.id"), index=True)
    geofence_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("geofences.id"))
    kind: Mapped[str] = mapped_column(String(32))  # speeding
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class RideFareCap(Base):
    """The city's cap on ride prices in a zone for a vehicle type."""

    __tablename__ = "ride_fare_caps"
    __table_args__ = (CheckConstraint("max_krw_per_minute >= 0 AND max_unlock_fee_krw >= 0", name="caps"),)

    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("zones.id"), primary_key=True)
    type_code: Mapped[str] = mapped_column(ForeignKey("vehicle_types.code"), primary_key=True)
    max_krw_per_minute: Mapped[int] = mapped_column(Integer)
    max_unlock_fee_krw: Mapped[int] = mapped_column(Integer)


class TelemetryPoint(Base):
    """A fix of a vehicle. The table is partitioned by day on `at` (created ahead by the worker; BRIN on `at`)."""

    __tablename__ = "telemetry"
    __table_args__ = (
        Index("ix_telemetry_at", "at", postgresql_using="brin"),
        {"postgresql_partition_by": "RANGE (at)"},
    )

    vehicle_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    battery_pct: Mapped[int | None] = mapped_column(SmallInteger)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    trip_id: Mapped[uuid.UUID | None] = mapped_column()
