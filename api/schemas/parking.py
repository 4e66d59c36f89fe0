"""HTTP models of parking: zones and lots, slots and their sharing windows, bookings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool

from accounts.actor import Actor
from api.schemas.common import Instant, Location, Strict
from core.errors import InvalidInput
from ledger.log import Receipt
from mobility.models import ParkAndRide
from parking.allocation import Need
from parking.models import ExceptionKind, SharingException, SlotKind, SlotSize
from parking.policy import END_CLOCK, START_CLOCK, WeeklyWindow
from parking.repository import BookingRow, SlotMatch, SlotView
from parking.service import Sharing, sees_driver_details


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


# slots


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


# bookings


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


class NeedIn(Strict):
    destination: Location
    start: Instant
    end: Instant
    max_walk_m: int = Field(default=500, ge=50, le=3000, description="estimated walking metres")
    needs_ev: StrictBool = False
    needs_accessible: StrictBool = False
    vehicle_size: SlotSize = SlotSize.REGULAR
    vehicle_plate: str = Field(min_length=2, max_length=20, examples=["12가3456"])

    def need(self) -> Need:
        if self.end <= self.start:
            raise InvalidInput("end must be after start")
        return Need(
            lon=self.destination.lon,
            lat=self.destination.lat,
            start=self.start,
            end=self.end,
            max_walk_m=self.max_walk_m,
            needs_ev=self.needs_ev,
            needs_accessible=self.needs_accessible,
            vehicle_size=self.vehicle_size,
            vehicle_plate=self.vehicle_plate,
        )


class InstantOut(BaseModel):
    booking: BookingOut
    explanation: dict[str, Any] = Field(description="chosen slot, walk, price, and why other candidates were not")


class MatchRequestOut(BaseModel):
    id: uuid.UUID
    status: str = Field(
        description="pending (re-matched each run), matched, expired, cancelled, or refused (the booking could not "
        "be made for the driver: `explanation.refused` says why, e.g. insufficient_funds)"
    )
    start: datetime
    end: datetime
    destination: Location
    max_walk_m: int
    needs_ev: bool
    needs_accessible: bool
    vehicle_size: str
    booking_id: uuid.UUID | None
    attempts: int
    explanation: dict[str, Any] | None
    created_at: datetime
    status_changed_at: datetime
