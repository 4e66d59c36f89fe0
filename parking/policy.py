"""Pure parking rules: booking intervals, weekly windows in local time, vehicle plates. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from billing.charges import ChargePolicy
from billing.service import charge_policy
from core.settings import Settings
from parking.errors import InvalidInterval, InvalidPlate, InvalidWindow

# A driver asking for parking "now" sends a start a few seconds old; older than this is the past.
PAST_TOLERANCE = timedelta(minutes=5)
MINUTES_PER_DAY = 1440
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class BookingPolicy:
    """The time rules of bookings, from settings. All durations are timedeltas."""

    timezone: str
    max_duration: timedelta
    horizon: timedelta
    early_check_in: timedelta
    no_show_grace: timedelta
    overstay_grace: timedelta
    charges: ChargePolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> BookingPolicy:
        return cls(
            timezone=settings.local_timezone,
            max_duration=timedelta(hours=settings.max_booking_hours),
            horizon=timedelta(days=settings.booking_horizon_days),
            early_check_in=timedelta(minutes=settings.early_check_in_minutes),
            no_show_grace=timedelta(minutes=settings.no_show_grace_minutes),
            overstay_grace=timedelta(minutes=settings.overstay_grace_minutes),
            charges=charge_policy(settings),
        )

    def check_interval(self, start: datetime, end: datetime, *, now: datetime) -> None:
        """Refuse an interval a driver cannot book: unordered, too long, in the past or beyond the horizon."""
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInterval("start and end need a UTC offset, e.g. 2026-11-23T09:00:00+09:00")
        if end <= start:
            raise InvalidInterval("end must be after start", extra={"start": start, "end": end})
        if end - start > self.max_duration:
            raise InvalidInterval(
                f"an interval may last at most {self.max_duration.total_seconds() / 3600:g} hours",
                extra={"max_hours": self.max_duration.total_seconds() / 3600},
            )
        if start < now - PAST_TOLERANCE:
            raise InvalidInterval("start is in the past", extra={"now": now})
        if start > now + self.horizon:
            raise InvalidInterval(
                f"bookings open at most {self.horizon.days} days ahead",
                extra={"horizon_days": self.horizon.days},
            )


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """Weekly recurring availability in local time. `end_minute` > 1440 means the window ends the next day."""

    weekdays: tuple[int, ...]  # ISO 1 = Monday .. 7 = Sunday
    start_minute: int
    end_minute: int

    @classmethod
    def parse(cls, weekdays: list[str], start: str, end: str) -> WeeklyWindow:
        """From API form: weekday names ('mon'..'sun') and local 'HH:MM' times; end <= start runs overnight,
        '24:00' is the end of the day."""
        if not weekdays:
            raise InvalidWindow("a window needs at least one weekday")
        days = []
        for name in weekdays:
            if name.lower() not in WEEKDAY_NAMES:
                raise InvalidWindow(f"unknown weekday {name!r}; use one of {', '.join(WEEKDAY_NAMES)}")
            days.append(WEEKDAY_NAMES.index(name.lower()) + 1)
        start_minute = parse_clock(start, allow_end_of_day=False)
        end_minute = parse_clock(end, allow_end_of_day=True)
        if end_minute <= start_minute:
            end_minute += MINUTES_PER_DAY
        return cls(tuple(sorted(set(days))), start_minute, end_minute)

    @property
    def weekday_names(self) -> list[str]:
        return [WEEKDAY_NAMES[day - 1] for day in self.weekdays]

    @property
    def start(self) -> str:
        return format_clock(self.start_minute)

    @property
    def end(self) -> str:
        return format_clock(self.end_minute)


_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
START_CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"  # the API's patterns: a start is 00:00-23:59, an end may be 24:00
END_CLOCK = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"


def parse_clock(value: str, *, allow_end_of_day: bool) -> int:
    match = _CLOCK.match(value)
    if match is None:
        raise InvalidWindow(f"time {value!r} must be HH:MM in 24-hour local time")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > MINUTES_PER_DAY or (minutes == MINUTES_PER_DAY and not allow_end_of_day):
        raise InvalidWindow(f"time {value!r} is out of range; only an end may be 24:00")
    return minutes


def format_clock(minute: int) -> str:
    if minute == MINUTES_PER_DAY:
        return "24:00"
    minute %= MINUTES_PER_DAY
    return f"{minute // 60:02d}:{minute % 60:02d}"


# Korean plates ("12가3456", "123가4567", "서울12가3456") and foreign/temporary ones: letters, digits, Hangul.
_PLATE = re.compile(r"^[0-9A-Z가-힣]{2,12}$")


def normalize_plate(plate: str) -> str:
    cleaned = re.sub(r"[\s-]", "", plate).upper()
    if not _PLATE.match(cleaned):
        raise InvalidPlate(f"vehicle plate {plate!r} is not valid: 2 to 12 letters, digits or Hangul")
    return cleaned
