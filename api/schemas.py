"""HTTP request and response models. Times are ISO 8601 with an offset; money (later) is integer KRW."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, StrictBool

from accounts.actor import Actor
from accounts.models import Account, Role
from core.outbox import Notification
from ledger.log import Receipt
from mobility.models import ParkAndRide
from ops.models import Skill
from parking.models import ExceptionKind, SharingException, SlotKind, SlotSize
from parking.policy import END_CLOCK, START_CLOCK, WeeklyWindow
from parking.repository import BookingRow, SlotMatch, SlotView
from parking.service import Sharing, sees_driver_details

T = TypeVar("T")


def _not_a_bool(value: Any) -> Any:
    """pydantic reads JSON `false` as 0.0 for a float: a coordinate of `false` is a client's bug, refused (422)."""
    if isinstance(value, bool):
        raise ValueError("give a number, not true or false")
    return value


# the validator after the Field: before it, FastAPI's query parameters document the bounds as `ge`/`le`, not as
# JSON Schema's minimum/maximum (schemathesis then sends 6e16 as a valid longitude)
Longitude = Annotated[
    float, Field(ge=-180, le=180, description="WGS84 longitude, degrees east"), BeforeValidator(_not_a_bool)
]


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _iso_only(value: Any) -> Any:
    """pydantic takes a number for a datetime (Unix seconds); the contract says ISO 8601, and only that is taken."""
    if isinstance(value, str) and ":" in value:  # the usual case, never a number: no pattern to match
        return value
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("give an ISO 8601 date-time with an offset, e.g. 2026-11-23T09:00:00+09:00")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]


def _iso_date_only(value: Any) -> Any:
    """pydantic takes a number for a date (Unix seconds: 0 is 1970-01-01); the contract says YYYY-MM-DD."""
    if isinstance(value, str) and "-" in value:
        return value
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("give a date as YYYY-MM-DD")
    return value


LocalDate = Annotated[date, BeforeValidator(_iso_date_only)]
MONTH = r"^[1-9]\d{3}-(0[1-9]|1[0-2])$"  # YYYY-MM
HOUR = r"^[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3])$"  # YYYY-MM-DDTHH
Latitude = Annotated[
    float, Field(ge=-90, le=90, description="WGS84 latitude, degrees north"), BeforeValidator(_not_a_bool)
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="where: body, query, path or header, then the field path")
    msg: str
    type: str = Field(description="pydantic's error type, e.g. missing, greater_than_equal")


class ErrorOut(BaseModel):
    """Every error response. Some carry more context beside `detail`: `conflicts`, `retry_after_s`, ..."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="stable machine-readable code", examples=["slot_unavailable"])
    detail: str | list[FieldProblem] = Field(
        description="a human-readable explanation, or the field problems of an `invalid_request`",
        examples=["the slot is already booked for part of this interval"],
    )


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


def page(items: list[Any], *, limit: int, offset: int) -> dict[str, Any]:
    """Build a page from `limit + 1` fetched items (the extra one only tells that a next page exists)."""
    more = len(items) > limit
    return {"items": items[:limit], "limit": limit, "offset": offset, "next_offset": offset + limit if more else None}


class Location(Strict):
    lon: Longitude
    lat: Latitude


# ------------------------------------------------------------------ accounts


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")


class RegisterIn(Strict):
    email: EmailStr = Field(
        description="an address mail can reach: the special-use names of RFC 6761 (`.test`, `.local`, `.localhost`, "
        "`.invalid`, `.onion`, `.arpa`) are refused"
    )
    password: str = Field(min_length=10, max_length=200)
    display_name: str = Field(min_length=1, max_length=100)


class AccountIn(RegisterIn):
    role: Role


class AccountOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(id=account.id, email=account.email, display_name=account.display_name, role=account.role)


# ------------------------------------------------------------------ zones and lots


class ZoneOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    area: dict[str, Any] = Field(description="GeoJSON polygon")


class LotIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal[SlotKind.PUBLIC_LOT, SlotKind.PRIVATE_LOT]
    location: Location
    owner_id: uuid.UUID
    operator_id: uuid.UUID | None = Field(default=None, description="the village enterprise, if entrusted")


class LotOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: SlotKind
    zone_id: uuid.UUID
    owner_id: uuid.UUID
    operator_id: uuid.UUID | None
    location: Location
    slot_count: int


# ------------------------------------------------------------------ slots


class SlotIn(Strict):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    kind: SlotKind
    location: Location
    lot_id: uuid.UUID | None = Field(default=None, description="required for public_lot and private_lot slots")
    owner_id: uuid.UUID | None = Field(default=None, description="defaults to the caller")
    operator_id: uuid.UUID | None = None
    ev_charger: StrictBool = False
    accessible: StrictBool = False
    size: SlotSize = SlotSize.REGULAR


class SlotPatch(Strict):
    ev_charger: StrictBool | None = None
    accessible: StrictBool | None = None
    size: SlotSize | None = None
    active: StrictBool | None = Field(default=None, description="false withdraws the slot from sharing")


class SlotOut(BaseModel):
    id: uuid.UUID
    code: str
    kind: SlotKind
    lot_id: uuid.UUID | None
    zone_id: uuid.UUID
    zone_code: str
    owner_id: uuid.UUID
    operator_id: uuid.UUID | None
    location: Location
    ev_charger: bool
    accessible: bool
    size: SlotSize
    active: bool

    @classmethod
    def of(cls, view: SlotView) -> SlotOut:
        fields = {name: getattr(view, name) for name in cls.model_fields if name != "location"}
        return cls(**fields, location=Location(lon=view.lon, lat=view.lat))


class SlotMatchOut(BaseModel):
    slot: SlotOut
    distance_m: int = Field(description="straight-line metres from the destination")
    walk_m: int = Field(description="estimated walking metres (straight line x detour factor)")
    price_krw: int = Field(description="what booking the interval costs now (unpriceable slots are never offered)")

    @classmethod
    def of(cls, match: SlotMatch, *, detour: float) -> SlotMatchOut:
        assert match.price_krw is not None  # search leaves unpriceable slots out
        return cls(
            slot=SlotOut.of(match.slot),
            distance_m=round(match.distance_m),
            walk_m=round(match.distance_m * detour),
            price_krw=match.price_krw,
        )


class WeeklyWindowIO(Strict):
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1, max_length=7)
    start: str = Field(pattern=START_CLOCK, examples=["09:00"], description="local time HH:MM (Asia/Seoul)")
    end: str = Field(
        pattern=END_CLOCK,
        examples=["18:00"],
        description="local HH:MM; at or before start runs overnight; 24:00 allowed",
    )

    @classmethod
    def of(cls, window: WeeklyWindow) -> WeeklyWindowIO:
        return cls.model_validate({"weekdays": window.weekday_names, "start": window.start, "end": window.end})


class WeeklyIn(Strict):
    windows: list[WeeklyWindowIO] = Field(max_length=50, description="replaces all weekly windows; [] stops sharing")


class ExceptionIn(Strict):
    kind: ExceptionKind = Field(description="extra: one-off availability; blackout: the owner needs the slot back")
    start: Instant
    end: Instant
    note: str = Field(default="", max_length=500)


class ExceptionOut(BaseModel):
    id: uuid.UUID
    kind: ExceptionKind
    start: datetime
    end: datetime
    note: str

    @classmethod
    def of(cls, exception: SharingException) -> ExceptionOut:
        assert exception.period.lower is not None and exception.period.upper is not None
        return cls(
            id=exception.id,
            kind=exception.kind,
            start=exception.period.lower,
            end=exception.period.upper,
            note=exception.note,
        )


class SharingOut(BaseModel):
    slot_id: uuid.UUID
    timezone: str
    weekly: list[WeeklyWindowIO]
    exceptions: list[ExceptionOut] = Field(description="extra windows and blackouts not yet over")

    @classmethod
    def of(cls, slot_id: uuid.UUID, sharing: Sharing, *, timezone: str) -> SharingOut:
        return cls(
            slot_id=slot_id,
            timezone=timezone,
            weekly=[WeeklyWindowIO.of(w) for w in sharing.weekly],
            exceptions=[ExceptionOut.of(e) for e in sharing.exceptions],
        )


class Period(BaseModel):
    start: datetime
    end: datetime


class AvailabilityOut(BaseModel):
    slot_id: uuid.UUID
    start: datetime
    end: datetime
    free: list[Period] = Field(description="periods in the sharing windows with no booking")


# ------------------------------------------------------------------ bookings


class LastLegIn(Strict):
    """Park-and-ride: a shared scooter or e-bike for the last leg, held from the booking's check-out."""

    type_code: str = Field(min_length=1, max_length=24, examples=["scooter"], description="a scooter or e-bike type")
    radius_m: int = Field(default=300, ge=50, le=1000, description="straight-line metres from the slot")


class BookingIn(Strict):
    slot_id: uuid.UUID
    start: Instant
    end: Instant
    vehicle_plate: str = Field(min_length=2, max_length=20, examples=["12가3456"])
    park_and_ride: LastLegIn | None = Field(
        default=None, description="also reserve a vehicle for the last leg; undone with the booking"
    )


class AssistedBookingIn(BookingIn):
    driver_id: uuid.UUID = Field(description="the resident (or owner) booked for: their wallet pays")


class ReceiptOut(BaseModel):
    leaf_index: int = Field(description="position of the entry in the public ledger")
    leaf_hash: str = Field(description="SHA-256(0x00 || entry), hex (RFC 9162)")

    @classmethod
    def of(cls, receipt: Receipt) -> ReceiptOut:
        return cls(leaf_index=receipt.leaf_index, leaf_hash=receipt.leaf_hash)


class LastLegOut(BaseModel):
    type_code: str
    radius_m: int
    status: str = Field(description="waiting, held, ridden, cancelled, expired or unfulfilled")
    vehicle_id: uuid.UUID | None = Field(description="the vehicle held at check-out (unlock it with POST /rides)")
    held_until: datetime | None
    note: str | None = Field(description="why the leg was cancelled or could not be fulfilled")
    status_changed_at: datetime

    @classmethod
    def of(cls, leg: ParkAndRide) -> LastLegOut:
        return cls(
            type_code=leg.type_code,
            radius_m=leg.radius_m,
            status=leg.status,
            vehicle_id=leg.vehicle_id,
            held_until=leg.held_until,
            note=leg.note,
            status_changed_at=leg.status_changed_at,
        )


class BookingOut(BaseModel):
    id: uuid.UUID
    slot_id: uuid.UUID
    slot_code: str
    start: datetime
    end: datetime
    status: str = Field(description="reserved, active, overstayed, completed, cancelled or no_show")
    driver_id: uuid.UUID | None = Field(description="null unless the caller is the driver or staff")
    vehicle_plate: str | None = Field(description="null unless the caller is the driver or staff")
    created_at: datetime
    status_changed_at: datetime
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    cancelled_at: datetime | None
    receipts: list[ReceiptOut] | None = Field(
        description="ledger receipts of every change of this booking, oldest first (null in listings)"
    )
    quote_krw: int | None = Field(description="price locked when booked; held on the driver's wallet")
    quote_lines: list[dict[str, Any]] | None = Field(description="how the quote was computed, band by band")
    charged_krw: int | None = Field(description="what was finally charged (null until the booking ends)")
    charge_lines: list[dict[str, Any]] | None = Field(description="what each charge is for")
    park_and_ride: LastLegOut | None = Field(
        default=None, description="the last-leg vehicle reservation (driver and staff only)"
    )
    assisted_by: uuid.UUID | None = Field(
        default=None, description="the operator who made this booking on the driver's behalf (driver and staff only)"
    )

    @classmethod
    def of(cls, row: BookingRow, actor: Actor, leg: ParkAndRide | None = None) -> BookingOut:
        booking = row.booking
        full = sees_driver_details(actor, row)
        assert booking.period.lower is not None and booking.period.upper is not None
        return cls(
            id=booking.id,
            slot_id=booking.slot_id,
            slot_code=row.slot_code,
            start=booking.period.lower,
            end=booking.period.upper,
            status=booking.status,
            driver_id=booking.driver_id if full else None,
            vehicle_plate=booking.vehicle_plate if full else None,
            created_at=booking.created_at,
            status_changed_at=booking.status_changed_at,
            checked_in_at=booking.checked_in_at,
            checked_out_at=booking.checked_out_at,
            cancelled_at=booking.cancelled_at,
            quote_krw=booking.quote_krw,
            quote_lines=booking.quote_lines,
            charged_krw=booking.charged_krw,
            charge_lines=booking.charge_lines,
            receipts=None if row.receipts is None else [ReceiptOut.of(r) for r in row.receipts],
            park_and_ride=LastLegOut.of(leg) if leg is not None and full else None,
            assisted_by=booking.assisted_by if full else None,
        )


# ------------------------------------------------------------------ micro-mobility


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


# ------------------------------------------------------------------ staff, tasks, valet


class StaffIn(RegisterIn):
    skills: list[Skill] = Field(min_length=1, description="valet: driving licence; crew: van; driver: passenger van")
    hourly_wage_krw: int = Field(ge=0, le=1_000_000)


class StaffPatch(Strict):
    skills: list[Skill] | None = Field(default=None, min_length=1)
    hourly_wage_krw: int | None = Field(default=None, ge=0, le=1_000_000)


class StaffOut(BaseModel):
    id: uuid.UUID
    display_name: str
    skills: list[str]
    hourly_wage_krw: int
    on_shift: bool = Field(description="clocked in now")
    shift_end: datetime | None = Field(description="planned end of the shift clocked in on")
    position: Location | None = Field(description="last position reported by the staff app")
    position_at: datetime | None
    open_tasks: int = Field(description="tasks assigned, on the way or arrived")


class ShiftIn(Strict):
    start: Instant
    end: Instant


class ShiftOut(BaseModel):
    id: uuid.UUID
    staff_id: uuid.UUID
    planned_start: datetime
    planned_end: datetime
    clocked_in_at: datetime | None
    clocked_out_at: datetime | None


class ClockInOut(BaseModel):
    shift: ShiftOut
    released_task_ids: list[uuid.UUID] = Field(
        default_factory=list, description="clock-out: tasks only planned for this person, handed to the next plan"
    )


class EarningsOut(BaseModel):
    staff_id: uuid.UUID
    month: str
    minutes_worked: int
    tasks_done: int
    hourly_wage_krw: int
    amount_krw: int = Field(description="minutes worked x hourly wage / 60, rounded down")


class PayIn(Strict):
    month: str = Field(pattern=MONTH, description="a finished month, Seoul time", examples=["2026-10"])


class PayStatementOut(BaseModel):
    id: uuid.UUID
    staff_id: uuid.UUID
    month: str
    minutes_worked: int
    tasks_done: int
    hourly_wage_krw: int
    amount_krw: int
    paid_at: datetime
    receipts: list[ReceiptOut] = Field(description="ledger receipt of the payment (none for a zero amount)")


class StaffOnTheWay(BaseModel):
    display_name: str | None
    position: Location | None
    position_at: datetime | None


class TaskOut(BaseModel):
    id: uuid.UUID
    kind: str
    state: str = Field(description="unassigned, assigned, en_route, arrived, done, failed or cancelled")
    staff_id: uuid.UUID | None
    pinned: bool = Field(description="assigned by hand: re-plans keep it with its staff member")
    origin: Location
    destination: Location | None
    origin_from: datetime | None
    origin_by: datetime | None
    destination_from: datetime | None
    destination_by: datetime | None
    sequence: int | None = Field(description="position in its staff member's route")
    eta_origin: datetime | None = Field(description="planned (live while on the way) arrival at the origin")
    eta_destination: datetime | None
    booking_id: uuid.UUID | None
    vehicle_plate: str | None
    vehicle_id: uuid.UUID | None = Field(description="the fleet vehicle a crew task moves or swaps")
    geofence_id: uuid.UUID | None = Field(description="the parking area a rebalanced vehicle is taken to")
    leg_of: uuid.UUID | None = Field(description="a second leg's first task (a ride's drop-off: its pickup)")
    passengers: int | None = Field(description="a pick-up ride's party")
    fee_krw: int | None = Field(description="what the requester was finally charged")
    failure_reason: str | None
    created_at: datetime
    state_changed_at: datetime
    assigned_at: datetime | None
    en_route_at: datetime | None
    arrived_at: datetime | None
    done_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None
    staff: StaffOnTheWay | None = Field(default=None, description="who is coming and where they are (one task)")
    receipts: list[ReceiptOut] | None = Field(default=None, description="ledger receipts of the task (one task)")


class TaskMoveIn(Strict):
    state: Literal["en_route", "arrived", "done", "failed"]
    reason: str | None = Field(default=None, min_length=1, max_length=500, description="required for failed")


class AssignIn(Strict):
    staff_id: uuid.UUID


class PlanOut(BaseModel):
    staff_on_shift: int = Field(description="valets, or van drivers, on shift")
    planned: int = Field(description="open requests in someone's route")
    unassigned_task_ids: list[uuid.UUID] = Field(description="requests no one on shift can do in their windows")
    solve_ms: int


class AreaTargetOut(BaseModel):
    geofence_id: uuid.UUID
    name: str
    vehicle_type: str
    target: int = Field(description="vehicles wanted there for the hour the tours end in (trip history rule)")
    supply: int = Field(description="available, charged vehicles inside the area now")
    shortfall: int = Field(description="target - supply when positive, else 0")


class TargetsOut(BaseModel):
    hour: int = Field(description="the Seoul hour the targets are for")
    areas: list[AreaTargetOut]


class CrewPlanOut(BaseModel):
    crew_planned: int = Field(description="crew members on shift given a new tour")
    crew_on_tour: int = Field(description="crew members who keep the tour they have started")
    tasks: list[TaskOut] = Field(description="the new tours' tasks, per crew member in order")
    unmet_before: int = Field(description="units of the areas' targets unmet now")
    unmet_after: int = Field(description="units unmet once the tours are done")
    flat_before: int = Field(description="flat vehicles (non-operational, battery low) now")
    flat_after: int
    crew_hours: float
    solve_ms: int


class ValetParkingIn(Strict):
    home: Location = Field(description="where the valet takes the car")
    vehicle_plate: str = Field(min_length=2, max_length=20, examples=["12가3456"])
    pickup_from: Instant
    pickup_by: Instant
    park_until: Instant = Field(description="end of the parking booking")
    needs_ev: StrictBool = False
    vehicle_size: SlotSize = SlotSize.REGULAR


class Window(Strict):
    start: Instant
    end: Instant


class RideIn(Strict):
    origin: Location = Field(description="where the van picks the riders up")
    destination: Location = Field(description="where it drops them off")
    passengers: int = Field(default=1, ge=1, le=40, description="riders in the party (at most the van's seats)")
    pickup: Window | None = Field(default=None, description="be picked up within this window")
    dropoff: Window | None = Field(
        default=None, description="or arrive within this window; neither: picked up within MAEUL_SHUTTLE_WAIT_MINUTES"
    )


class RideOut(BaseModel):
    id: uuid.UUID = Field(description="the ride (its pickup task's id)")
    state: str = Field(description="the pickup's state until the rider is on board, then the drop-off's")
    passengers: int
    fare_krw: int = Field(description="held until the drop-off, then charged (or the cancellation fee charged)")
    pickup: TaskOut = Field(description="eta_origin: the planned pickup time; staff: the van driver on the way")
    dropoff: TaskOut = Field(description="eta_origin: the planned drop-off time")


class ValetReturnIn(Strict):
    booking_id: uuid.UUID = Field(description="the checked-in booking whose car comes back")
    home: Location = Field(description="where the valet brings the car")
    deliver_from: Instant
    deliver_by: Instant


# ------------------------------------------------------------------ the city's data and KPIs

PlateText = Annotated[str, Field(min_length=2, max_length=20, description="vehicle plate; stored only as a keyed hash")]
EventId = Annotated[str, Field(min_length=1, max_length=64, description="the camera's own id for the event")]


DeviceIdText = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


class CameraIn(Strict):
    device_id: DeviceIdText
    name: str = Field(min_length=1, max_length=120)
    purpose: Literal["entrance", "enforcement"]
    lon: Longitude
    lat: Latitude


class DeviceOut(BaseModel):
    id: uuid.UUID
    device_id: str
    name: str
    key_active: bool = Field(description="false once the key is revoked")
    key_rotated_at: datetime | None


class CameraOut(DeviceOut):
    purpose: str


class CameraKeyOut(CameraOut):
    device_key: str = Field(description="shown once, stored hashed; the camera sends it as X-Device-Key")


class WaterGaugeIn(Strict):
    device_id: DeviceIdText
    name: str = Field(min_length=1, max_length=120)
    lot_id: uuid.UUID = Field(description="the riverside lot the gauge watches")
    threshold_cm: int = Field(ge=1, le=10_000, description="a level at or over this floods the lot")
    lon: Longitude
    lat: Latitude


class WaterGaugeOut(DeviceOut):
    lot_id: uuid.UUID
    threshold_cm: int
    level_cm: int | None = Field(description="the latest reading (null before the first)")
    level_at: datetime | None
    flooding_since: datetime | None = Field(description="null while the lot is not flooding")


class WaterGaugeKeyOut(WaterGaugeOut):
    device_key: str = Field(description="shown once, stored hashed; the gauge sends it as X-Device-Key")


class WaterLevelIn(Strict):
    at: Instant
    level_cm: int = Field(ge=-1000, le=10_000, description="water level over the gauge's zero, centimetres")


class WaterLevelsIn(Strict):
    readings: list[WaterLevelIn] = Field(min_length=1, max_length=1000)


class RejectedReading(BaseModel):
    index: int = Field(description="position of the reading in the posted batch")
    reason: Literal["duplicate", "future", "stale"]


class WaterLevelsOut(BaseModel):
    accepted: int
    rejected: int
    rejections: list[RejectedReading]
    flooding: bool = Field(description="the lot's state after this batch")
    warned: int = Field(description="drivers warned by this batch (their bookings hold a slot of the lot)")


class EntryIn(Strict):
    event_id: EventId
    at: Instant
    plate: PlateText


class EntriesIn(Strict):
    events: list[EntryIn] = Field(min_length=1, max_length=1000)


class SightingIn(Strict):
    event_id: EventId
    at: Instant
    plate: PlateText
    kind: Literal["no_parking", "fire_lane", "crosswalk", "resident_slot_misuse"]
    lon: Longitude | None = Field(default=None, description="where the vehicle stands; default: at the camera")
    lat: Latitude | None = None


class SightingsIn(Strict):
    events: list[SightingIn] = Field(min_length=1, max_length=1000)


class RejectedEvent(BaseModel):
    index: int = Field(description="position of the event in the posted batch")
    reason: Literal["duplicate", "future", "stale", "invalid_plate"]


class BatchOut(BaseModel):
    accepted: int
    rejected: int
    rejections: list[RejectedEvent]
    alerts: int = Field(description="fire-lane alerts queued for the operators")


class ViolationIn(Strict):
    kind: Literal["no_parking", "fire_lane", "crosswalk", "resident_slot_misuse"]
    plate: PlateText
    lon: Longitude
    lat: Latitude
    at: Instant | None = Field(default=None, description="when it was seen; default: now")
    note: str = Field(default="", max_length=500)


class ViolationOut(BaseModel):
    id: uuid.UUID
    at: datetime
    kind: str
    source: str = Field(description="cctv, officer, resident or operator")
    lon: float
    lat: float
    note: str


class KpiDayOut(BaseModel):
    day: str = Field(description="local date, YYYY-MM-DD")
    day_type: Literal["weekday", "weekend"] = Field(description="weekend: Saturdays, Sundays and public holidays")
    entering_vehicles: float | None
    illegal_parking: float | None
    supply_ratio: float | None
    shared_slots_open: float | None
    shared_slots_supplied: float | None
    jobs: float | None = Field(description="staff hours over an 8-hour day")
    revenue_owners: float | None = Field(description="KRW the slot owners earned (captures less refunds)")
    revenue_providers: float | None = Field(description="KRW the partner fleet companies earned")
    revenue_enterprise: float | None = Field(description="KRW the village enterprise earned")
    revenue_city: float | None = Field(description="KRW the city earned")
    revenue_platform: float | None = Field(description="KRW the platform earned")
    vehicles_deployed: float | None = Field(description="shared vehicles in any state but removed during the day")
    vehicles_active: float | None = Field(description="shared vehicles ridden at least once")
    trips: float | None = Field(description="shared-vehicle trips started")
    trips_per_vehicle: float | None = Field(description="trips over deployed vehicles (null with none deployed)")
    idle_share: float | None = Field(description="deployed vehicles nobody rode, over deployed vehicles")
    suppressed: list[str] = Field(description="cells built from fewer than k people: their values are null")


class ZoneHoursOut(BaseModel):
    zone_id: uuid.UUID
    code: str
    name: str
    open_slots: list[float] = Field(description="per local hour 0-23: slots open to sharing, time-weighted")
    occupancy: list[float | None] = Field(
        description="per local hour: slot time booked over slot time open (0-1); null when nothing was open or the "
        "cell was suppressed"
    )
    suppressed: list[int] = Field(description="hours whose occupancy came from fewer than k drivers")


class KpiHourlyOut(BaseModel):
    day: str = Field(description="local date, YYYY-MM-DD")
    min_people: int = Field(description="k: cells from fewer people are suppressed")
    supply_ratio: list[float] = Field(
        description="per local hour 0-23: (pre-existing legal spaces + slots open to sharing, time-weighted) / "
        "registered vehicles"
    )
    zones: list[ZoneHoursOut]
    fleet: list[dict[str, int]] = Field(
        description="per local hour 0-23: shared vehicles in each MDS state at the start of the hour"
    )


class KpiSummaryOut(BaseModel):
    kpi: str
    weekday: float | None = Field(description="mean over the month's weekdays whose cell is published")
    weekend: float | None
    weekday_days: int
    weekend_days: int
    published: dict[str, dict[str, float]] = Field(
        description="the pilot's published values beside: weekday/weekend -> before/after"
    )


class KpiMonthOut(BaseModel):
    month: str
    min_people: int = Field(description="k: cells from fewer people are suppressed")
    kpis: list[KpiSummaryOut]
    days: list[KpiDayOut]


class SurveyIn(Strict):
    subject: Literal["booking", "ride"] = Field(description="what is rated: a parking booking or a shared-vehicle ride")
    subject_id: uuid.UUID = Field(description="the booking's or the ride's id; it must be yours and have ended")
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: str | None = Field(default=None, max_length=2000)


class SurveyOut(BaseModel):
    id: uuid.UUID
    subject: str
    subject_id: uuid.UUID
    score: int
    comment: str | None
    answered_at: datetime


class ComplaintIn(Strict):
    category: Literal["service_quality", "digital_skills", "billing", "noise", "other"]
    text: str = Field(min_length=1, max_length=4000, description="what happened, in the resident's words")
    subject: Literal["booking", "ride"] | None = Field(default=None, description="what it is about, if anything")
    subject_id: uuid.UUID | None = Field(default=None, description="with `subject`: the booking's or ride's id (yours)")


class ComplaintReplyIn(Strict):
    text: str = Field(min_length=1, max_length=4000)


class ComplaintAssignIn(Strict):
    assignee_id: uuid.UUID = Field(description="an operator's or a field staff member's account")


class ComplaintStateIn(Strict):
    state: Literal["open", "in_progress", "resolved"]
    note: str | None = Field(
        default=None, min_length=1, max_length=4000, description="why: required to resolve or reopen; kept as a reply"
    )


class ComplaintReplyOut(BaseModel):
    id: uuid.UUID
    from_operator: bool = Field(description="true: the village enterprise wrote it; false: the resident")
    text: str
    at: datetime


class ComplaintOut(BaseModel):
    id: uuid.UUID
    category: str
    text: str
    subject: str | None
    subject_id: uuid.UUID | None
    state: str = Field(description="open, in_progress or resolved")
    filed_by: uuid.UUID
    assignee_id: uuid.UUID | None
    filed_at: datetime
    response_due_at: datetime = Field(description="SLA: a first answer from the village enterprise is due then")
    resolution_due_at: datetime = Field(description="SLA: resolution is due then")
    first_response_at: datetime | None
    resolved_at: datetime | None
    state_changed_at: datetime
    reopened: int = Field(description="times its filer reopened it")
    response_overdue: bool = Field(description="the first answer came, or is still missing, after its due time")
    resolution_overdue: bool = Field(description="resolved, or still unresolved, after its due time")
    replies: list[ComplaintReplyOut] | None = Field(description="oldest first (null in listings)")


class ComplaintCountOut(BaseModel):
    category: str
    filed: int | None = Field(description="null when fewer than k people filed them")
    share: float | None = Field(description="of all complaints filed in the period (null with `filed`)")
    resolved_late: int | None = Field(description="resolved after their due time, or still open past it")


class ComplaintSummaryOut(BaseModel):
    start: datetime
    end: datetime
    filed: int
    min_people: int = Field(description="k: categories with fewer filers are suppressed")
    categories: list[ComplaintCountOut]


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="flood_alert, flood_clear, fire_lane_alert, ...")
    subject: str
    body: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None = Field(description="when the delivery channel took it; null while pending")

    @classmethod
    def of(cls, notification: Notification) -> NotificationOut:
        return cls(
            id=notification.id,
            kind=notification.kind,
            subject=notification.subject,
            body=notification.body,
            created_at=notification.created_at,
            delivered_at=notification.delivered_at,
        )


# ------------------------------------------------------------------ happiness cars


class CarContractIn(Strict):
    car_id: uuid.UUID = Field(description="a vehicle of type car with no active contract")
    primary_id: uuid.UUID = Field(description="the primary user: a resident (or owner)")
    home_slot_id: uuid.UUID = Field(description="where the car lives; held for it for the whole contract")
    monthly_fee_krw: int = Field(ge=0, le=10_000_000)
    release_credit_krw_per_hour: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="credit per released hour; default MAEUL_CAR_RELEASE_CREDIT_KRW_PER_HOUR",
    )
    starts_on: LocalDate = Field(description="first day (Seoul)")
    ends_on: LocalDate = Field(description="last day (Seoul)")
    windows: list[WeeklyWindowIO] = Field(max_length=20, description="the primary user's guaranteed weekly windows")


class CarWindowsIn(Strict):
    windows: list[WeeklyWindowIO] = Field(max_length=20, description="replaces the guaranteed weekly windows")


class CarSpanIn(Strict):
    start: Instant
    end: Instant


class SpanOut(BaseModel):
    start: datetime
    end: datetime


class CarExceptionOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="extra (the primary user's) or released (given to others)")
    start: datetime
    end: datetime
    credit_krw: int = Field(description="a release's credit on the month's invoice")


class CarContractOut(BaseModel):
    id: uuid.UUID
    car_id: uuid.UUID
    primary_id: uuid.UUID
    home_slot_id: uuid.UUID
    monthly_fee_krw: int
    release_credit_krw_per_hour: int
    starts_at: datetime
    ends_at: datetime
    status: str = Field(description="active or ended")
    windows: list[WeeklyWindowIO]
    exceptions: list[CarExceptionOut]
    guaranteed_next_7_days: list[SpanOut] = Field(description="the primary user's time in the coming week")


class CarInvoiceOut(BaseModel):
    id: uuid.UUID
    month: str
    fee_krw: int = Field(description="the monthly fee, prorated to the days under contract")
    credit_krw: int = Field(description="credits for the primary user's time released that month")
    amount_krw: int = Field(description="charged to the primary user's wallet")


class MonthIn(Strict):
    month: str = Field(pattern=MONTH, description="a finished month, Seoul time", examples=["2026-10"])


class FreeCarOut(BaseModel):
    car_id: uuid.UUID
    label: str
    battery_pct: int
    lon: float = Field(description="its home slot, where it is picked up and returned")
    lat: float
    distance_m: float
    quote_krw: int = Field(description="held at booking: time by the zone's tariff and band, plus the estimated km")


class CarBookingIn(Strict):
    car_id: uuid.UUID
    start: Instant
    end: Instant


class ConditionIn(Strict):
    checklist: dict[Annotated[str, Field(min_length=1, max_length=40)], StrictBool] = Field(
        default_factory=dict,
        max_length=20,
        description='item -> fine? e.g. {"clean": true, "body": true, "charging_cable": true}; a false item '
        "(or a note) puts the report in the operators' queue; `clean: false` at return adds the cleaning fee",
    )
    note: str = Field(default="", max_length=2000)
    photos: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}\.(jpg|png)$")]] = Field(
        default_factory=list, max_length=10, description="keys from POST /cars/photos"
    )


class CarReturnIn(ConditionIn):
    odometer_km: float | None = Field(
        default=None, ge=0, le=1_000_000, description="operators only, when the car's device is silent"
    )
    battery_pct: int | None = Field(default=None, ge=0, le=100, description="operators only, with the odometer")


class CarBookingOut(BaseModel):
    id: uuid.UUID
    car_id: uuid.UUID
    contract_id: uuid.UUID
    driver_id: uuid.UUID
    start: datetime
    end: datetime
    blocked_until: datetime = Field(description="the end plus the buffer kept for charging and cleaning")
    status: str = Field(description="reserved, active (picked up), completed, cancelled or no_show")
    primary_time: bool = Field(description="inside the primary user's own time: covered by the monthly fee")
    quote_krw: int
    quote_lines: list[dict[str, Any]]
    trip_id: uuid.UUID | None
    picked_up_at: datetime | None
    returned_at: datetime | None
    cancelled_at: datetime | None
    km: float | None = Field(description="driven, once returned")
    charged_krw: int | None
    charge_lines: list[dict[str, Any]] | None = Field(description="time, distance and fees; they add up")


class ConditionReportOut(BaseModel):
    id: uuid.UUID
    booking_id: uuid.UUID
    stage: str
    checklist: dict[str, bool]
    note: str
    photos: list[str]
    needs_attention: bool
    created_at: datetime
    handled_at: datetime | None


class PhotoOut(BaseModel):
    key: str = Field(description="name it in a condition report's `photos`")
    bytes: int


class RebookingOfferOut(BaseModel):
    id: uuid.UUID
    booking_id: uuid.UUID = Field(description="your booking the late car threatens")
    alternative_car_id: uuid.UUID | None = Field(description="a car free for your whole booking (accept to move)")
    status: str = Field(description="open, accepted, refunded or closed (the car came back)")
    created_at: datetime


class CarpoolIn(Strict):
    booking_id: uuid.UUID = Field(description="your car booking the trip is made in")
    origin: Location
    destination: Location
    depart_from: Instant
    depart_until: Instant
    seats: int = Field(ge=1, le=6)
    cost_krw: int = Field(ge=0, le=1_000_000, description="the trip's cost to share, at most the booking's quote")


class PartyOut(BaseModel):
    account_id: uuid.UUID
    display_name: str = Field(description="all a participant sees of another")
    rating: float | None = Field(description="their mean carpool rating")


class SeatOut(BaseModel):
    id: uuid.UUID
    rider: PartyOut
    status: str = Field(description="requested, accepted, declined, cancelled or ridden")
    share_krw: int | None = Field(description="paid to the driver once the carpool completed")


class CarpoolOut(BaseModel):
    id: uuid.UUID
    driver: PartyOut
    origin: Location
    destination: Location
    depart_from: datetime
    depart_until: datetime
    seats: int
    seats_taken: int
    cost_krw: int
    share_now_krw: int = Field(description="each rider's share with the seats accepted so far (one at least)")
    status: str = Field(description="open, completed or cancelled")
    seats_detail: list[SeatOut] | None = Field(description="the seats (for the driver; a rider sees their own)")


class RatingIn(Strict):
    rated_id: uuid.UUID = Field(description="the driver (for a rider) or a rider (for the driver)")
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=500)
