"""The fleet's rules: the settings vehicles, telemetry and rides run by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.settings import Settings
from mobility.states import VehicleState
from mobility.telemetry import Screening

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
