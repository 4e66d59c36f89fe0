"""Happiness cars' rules: the settings they run by, a contract's terms (the primary user's time), and what is pure about
a booking (its period, whether it keeps clear of the primary user's time)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from accounts.actor import Actor
from cars.errors import (
    CarUnavailable,
    PrimaryTimeTaken,
)
from cars.models import (
    CarBooking,
    CarContract,
    GuaranteedWindow,
)
from cars.windows import Interval, guaranteed, inside, touches
from core.settings import Settings
from mobility.models import Vehicle
from parking.policy import BookingPolicy, WeeklyWindow

CAR = "car"


HOLD_GRACE = timedelta(days=2)  # a car hold outlives the booking by this: a late return is still captured from it


@dataclass(frozen=True, slots=True)
class CarRules:
    buffer: timedelta
    per_km_krw: int
    estimate_km: int
    late_fee_krw_per_10_min: int
    low_battery_pct: int
    low_battery_fee_krw: int
    cleaning_fee_krw: int
    return_radius_m: int
    contact_lost: timedelta  # a position older than this is no evidence of where the car is
    policy: BookingPolicy

    @property
    def timezone(self) -> str:
        return self.policy.timezone

    @classmethod
    def from_settings(cls, settings: Settings) -> CarRules:
        return cls(
            buffer=timedelta(minutes=settings.car_buffer_minutes),
            per_km_krw=settings.car_per_km_krw,
            estimate_km=settings.car_estimate_km,
            late_fee_krw_per_10_min=settings.car_late_fee_krw_per_10_min,
            low_battery_pct=settings.car_low_battery_pct,
            low_battery_fee_krw=settings.car_low_battery_fee_krw,
            cleaning_fee_krw=settings.car_cleaning_fee_krw,
            return_radius_m=settings.car_return_radius_m,
            contact_lost=timedelta(minutes=settings.comms_lost_minutes),
            policy=BookingPolicy.from_settings(settings),
        )


def windows_of(rows: Sequence[GuaranteedWindow]) -> list[WeeklyWindow]:
    return [WeeklyWindow(tuple(row.weekdays), row.start_minute, row.end_minute) for row in rows]


@dataclass(frozen=True, slots=True)
class Terms:
    """A contract with what defines the primary user's time."""

    contract: CarContract
    windows: list[WeeklyWindow]
    extras: list[Interval]
    releases: list[Interval]

    def guaranteed(self, start: datetime, end: datetime, timezone: str) -> list[Interval]:
        return guaranteed(self.windows, self.extras, self.releases, start, end, timezone)


def plate_of(car: Vehicle) -> str:
    """What the home slot's booking names the car by: its label as a plate (letters and digits, at most 12)."""
    return (re.sub(r"[^0-9A-Za-z]", "", car.label).upper() or "CAR")[-12:].rjust(2, "0")


def period_of(booking: CarBooking) -> tuple[datetime, datetime]:
    assert booking.period.lower is not None and booking.period.upper is not None
    return booking.period.lower, booking.period.upper


def shareable(terms_: Terms, *, driver: Actor, start: datetime, end: datetime, rules: CarRules) -> bool:
    """Whether [start, end) is the primary user's own time for them (True), or raise unless it keeps clear of it."""
    contract = terms_.contract
    if start < contract.starts_at or end > contract.ends_at:
        raise CarUnavailable("the car is not under contract for all of that time")
    around = terms_.guaranteed(start - rules.buffer, end + rules.buffer, rules.timezone)
    if driver.id == contract.primary_id and inside(around, start, end):
        return True
    if touches(around, start - rules.buffer, end + rules.buffer):
        raise PrimaryTimeTaken(
            "that time is (or borders, within the buffer) the primary user's guaranteed time",
            extra={
                "guaranteed": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in around],
                "buffer_minutes": int(rules.buffer.total_seconds() // 60),
            },
        )
    return False
