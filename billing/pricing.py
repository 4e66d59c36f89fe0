"""Quotes from tariffs. Pure: integer KRW, no floats.

A tariff gives, for one zone, slot kind and day type (weekday, weekend, public holiday), a time band of the local day
and its price per unit of time (e.g. 500 KRW per 30 minutes). A stay is cut where the local day or the band changes;
each piece is billed in whole units, rounded up (31 minutes at 30-minute units are two units). The city's caps bound
the price per unit, pro rata to the hour.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class DayType(StrEnum):
    WEEKDAY = "weekday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


@dataclass(frozen=True, slots=True)
class Band:
    day_type: DayType
    start_minute: int  # of the local day
    end_minute: int  # exclusive; 1440 is midnight
    unit_minutes: int
    unit_price_krw: int


@dataclass(frozen=True, slots=True)
class Caps:
    min_krw_per_hour: int
    max_krw_per_hour: int


@dataclass(frozen=True, slots=True)
class QuoteLine:
    start: datetime
    end: datetime
    band: str  # e.g. "weekday 09:00-18:00"
    units: int
    unit_minutes: int
    unit_price_krw: int
    amount_krw: int


@dataclass(frozen=True, slots=True)
class Quote:
    lines: tuple[QuoteLine, ...]

    @property
    def total_krw(self) -> int:
        return sum(line.amount_krw for line in self.lines)


class NoTariff(ValueError):
    """No tariff band covers part of the stay."""


def day_type(day: date, holidays: Iterable[date]) -> DayType:
    if day in set(holidays):
        return DayType.HOLIDAY
    return DayType.WEEKEND if day.isoweekday() >= 6 else DayType.WEEKDAY


def unit_price(band: Band, *, multiplier_permille: int = 1000, caps: Caps | None = None) -> int:
    """The band's price per unit times the dynamic multiplier (per mille, rounded half up), within the city's caps."""
    price = (band.unit_price_krw * multiplier_permille + 500) // 1000
    if caps is not None:
        low = -(-caps.min_krw_per_hour * band.unit_minutes // 60)
        high = caps.max_krw_per_hour * band.unit_minutes // 60
        price = min(max(price, low), high)
    return price


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def quote(
    start: datetime,
    end: datetime,
    *,
    timezone: str,
    bands: Sequence[Band],
    holidays: Iterable[date] = (),
    caps: Caps | None = None,
    multipliers: Mapping[int, int] | None = None,
) -> Quote:
    """Price [start, end). With `multipliers` (local hour of day -> per mille, from occupancy), pieces are also cut at
    the hour and each hour's multiplier applies. Raises NoTariff where no band covers a minute of the stay."""
    zone = ZoneInfo(timezone)
    holiday_set = set(holidays)
    lines = []
    cursor = start.astimezone(zone)
    finish = end.astimezone(zone)
    while cursor < finish:
        midnight = cursor.replace(hour=0, minute=0, second=0, microsecond=0)
        minute = cursor.hour * 60 + cursor.minute
        kind = day_type(cursor.date(), holiday_set)
        band = next((b for b in bands if b.day_type == kind and b.start_minute <= minute < b.end_minute), None)
        if band is None:
            raise NoTariff(f"no {kind} tariff covers {cursor.strftime('%H:%M')} local time")
        piece_end = min(finish, midnight + timedelta(minutes=band.end_minute))
        multiplier = 1000
        if multipliers:
            piece_end = min(piece_end, cursor.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
            multiplier = multipliers.get(cursor.hour, 1000)
        minutes = -(-int((piece_end - cursor).total_seconds()) // 60)
        units = -(-minutes // band.unit_minutes)
        price = unit_price(band, multiplier_permille=multiplier, caps=caps)
        lines.append(
            QuoteLine(
                start=cursor,
                end=piece_end,
                band=f"{kind} {_clock(band.start_minute)}-{_clock(band.end_minute)}",
                units=units,
                unit_minutes=band.unit_minutes,
                unit_price_krw=price,
                amount_krw=units * price,
            )
        )
        cursor = piece_end
    return Quote(tuple(lines))


# Dynamic pricing: occupancy (per mille) -> multiplier (per mille), piecewise linear through these points.
# Quiet hours get a small discount, busy hours up to +50%; the city's caps still bound the resulting price.
MULTIPLIER_CURVE = ((0, 900), (200, 1000), (500, 1000), (850, 1300), (1000, 1500))


def multiplier_for(occupancy_permille: int) -> int:
    """The documented curve: 0% -> 0.9, 20-50% -> 1.0, 85% -> 1.3, 100% -> 1.5 (integers, per mille)."""
    occupancy = min(max(occupancy_permille, 0), 1000)
    for (x0, y0), (x1, y1) in zip(MULTIPLIER_CURVE, MULTIPLIER_CURVE[1:], strict=False):
        if occupancy <= x1:
            return y0 + (y1 - y0) * (occupancy - x0) // (x1 - x0)
    return MULTIPLIER_CURVE[-1][1]


@dataclass(frozen=True, slots=True)
class PriceBook:
    """Everything quotes need for some zones, loaded once: tariff bands per (zone, slot kind), the city's caps and
    the dynamic multipliers per zone, the public holidays. Picklable (it travels to the solver's processes)."""

    bands: dict[tuple[Hashable, str], tuple[Band, ...]]
    caps: dict[Hashable, Caps]
    multipliers: dict[Hashable, dict[int, int]]
    holidays: tuple[date, ...]

    def priced(self, zone_id: Hashable, slot_kind: str) -> bool:
        return bool(self.bands.get((zone_id, slot_kind)))

    def quote(self, zone_id: Hashable, slot_kind: str, start: datetime, end: datetime, *, timezone: str) -> Quote:
        """Raises NoTariff where no band covers a minute of the stay."""
        return quote(
            start,
            end,
            timezone=timezone,
            bands=self.bands.get((zone_id, slot_kind), ()),
            holidays=self.holidays,
            caps=self.caps.get(zone_id),
            multipliers=self.multipliers.get(zone_id, {}),
        )
