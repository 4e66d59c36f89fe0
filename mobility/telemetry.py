"""Screening of device telemetry, point by point. Pure: the service loads the vehicle's last fix and the service
area's bounds, this decides which points are believable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from math import asin, cos, pi, sin, sqrt

EARTH_RADIUS_M = 6_371_008.8
RADIANS = pi / 180


class Rejection(StrEnum):
    DUPLICATE = "duplicate"  # same time as an accepted fix of the vehicle
    OUT_OF_ORDER = "out_of_order"  # earlier than the vehicle's latest accepted fix
    FUTURE = "future"  # later than now (+ allowed clock skew)
    STALE = "stale"  # older than the retention of live data
    FAR_OUT_OF_AREA = "far_out_of_area"  # implausibly far from the service area
    IMPOSSIBLE_SPEED = "impossible_speed"  # faster than physically possible since the previous fix


@dataclass(frozen=True, slots=True)
class Fix:
    at: datetime
    lon: float
    lat: float
    speed_mps: float | None = None
    heading_deg: float | None = None
    battery_pct: int | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class Bounds:
    """The service area's bounding box (degrees)."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True, slots=True)
class Screening:
    max_age: timedelta
    future_skew: timedelta
    far_m: float
    max_speed_mps: float


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    phi1, phi2 = lat1 * RADIANS, lat2 * RADIANS
    h = sin((phi2 - phi1) / 2) ** 2 + cos(phi1) * cos(phi2) * sin((lon2 - lon1) * RADIANS / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(h)))


def outside_by_m(bounds: Bounds, lon: float, lat: float) -> float:
    """How far (metres) the point lies outside the box; 0 inside."""
    if bounds.min_lon <= lon <= bounds.max_lon and bounds.min_lat <= lat <= bounds.max_lat:
        return 0.0
    near_lon = min(max(lon, bounds.min_lon), bounds.max_lon)
    near_lat = min(max(lat, bounds.min_lat), bounds.max_lat)
    return distance_m(lon, lat, near_lon, near_lat)


def screen(
    points: Sequence[Fix], *, last: Fix | None, bounds: Bounds | None, now: datetime, rules: Screening
) -> tuple[list[Fix], list[tuple[int, Rejection]]]:
    """Accepted points in order, and (index in `points`, reason) for each refused one. Each point is checked
    against the latest accepted fix before it (the vehicle's stored one, then the batch's)."""
    accepted: list[Fix] = []
    refused: list[tuple[int, Rejection]] = []
    previous = last
    latest_allowed, earliest_allowed = now + rules.future_skew, now - rules.max_age
    for index, point in enumerate(points):
        reason: Rejection | None = None
        if point.at > latest_allowed:
            reason = Rejection.FUTURE
        elif point.at < earliest_allowed:
            reason = Rejection.STALE
        elif previous is not None and point.at <= previous.at:
            reason = Rejection.DUPLICATE if point.at == previous.at else Rejection.OUT_OF_ORDER
        elif bounds is not None and outside_by_m(bounds, point.lon, point.lat) > rules.far_m:
            reason = Rejection.FAR_OUT_OF_AREA
        elif previous is not None:
            seconds = (point.at - previous.at).total_seconds()
            if distance_m(previous.lon, previous.lat, point.lon, point.lat) > rules.max_speed_mps * seconds:
                reason = Rejection.IMPOSSIBLE_SPEED
        if reason is None:
            accepted.append(point)
            previous = point
        else:
            refused.append((index, reason))
    return accepted, refused
