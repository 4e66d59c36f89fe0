"""HTTP models of the happiness cars: contracts, invoices, bookings, condition reports, carpools, ratings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictBool

from api.schemas.common import MONTH, Instant, LocalDate, Location, Strict
from api.schemas.parking import WeeklyWindowIO


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
    account_id: uuid.UUID | None = Field(
        description="for the carpool's driver, its riders and the operators (to rate one another); null for others"
    )
    display_name: str = Field(description="all anyone else sees of a participant")
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
