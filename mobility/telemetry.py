"""Screening of device telemetry, point by point. Pure: the service loads the vehicle's last fix and the service
area's bounds, this decides which points are believable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from math import asin, cos, pi, sin, sqrt
from typing import NamedTuple

import numpy as np

from routing.travel import EARTH_RADIUS_M

RADIANS = pi / 180


class Rejection(StrEnum):
    DUPLICATE = "duplicate"  # same time as an accepted fix of the vehicle
    OUT_OF_ORDER = "out_of_order"  # earlier than the vehicle's latest accepted fix
    FUTURE = "future"  # later than now (+ allowed clock skew)
    STALE = "stale"  # older than the retention of live data
    FAR_OUT_OF_AREA = "far_out_of_area"  # implausibly far from the service area
    IMPOSSIBLE_SPEED = "impossible_speed"  # faster than physically possible since the previous fix


class Fix(NamedTuple):
    """One position report of a device. A named tuple, not a frozen dataclass: a batch makes up to 1,000 and a
    frozen dataclass takes three times as long to make (measured: 0.3 ms against 0.1 ms per 500)."""

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
    """Accepted points in order, and (index in `points`, reason) for each refused one; `points` in time order.
    Most batches are clean: one vectorised pass over the whole batch proves it (each point then follows the one
    before it); a batch with any doubtful point is screened one by one."""
    if points and _all_believable(points, last=last, bounds=bounds, now=now, rules=rules):
        return list(points), []
    return screen_one_by_one(points, last=last, bounds=bounds, now=now, rules=rules)


def _all_believable(
    points: Sequence[Fix], *, last: Fix | None, bounds: Bounds | None, now: datetime, rules: Screening
) -> bool:
    """Whether `screen_one_by_one` would accept every point: in time, strictly later than the fix before it, near
    the service area, and reachable from the fix before it."""
    chain = [last, *points] if last is not None else list(points)
    count = len(chain)
    # POSIX seconds as floats: near 2026 they are 2.4e-7 s apart, finer than datetime's microsecond, so the order
    # and the equality of two times are kept exactly
    at = np.fromiter((p.at.timestamp() for p in chain), float, count)
    lon = np.fromiter((p.lon for p in chain), float, count)
    lat = np.fromiter((p.lat for p in chain), float, count)
    new = slice(1, None) if last is not None else slice(None)
    if at[new].max() > (now + rules.future_skew).timestamp() or at[new].min() < (now - rules.max_age).timestamp():
        return False
    if bounds is not None:
        near_lon = np.clip(lon[new], bounds.min_lon, bounds.max_lon)
        near_lat = np.clip(lat[new], bounds.min_lat, bounds.max_lat)
        if (_distances_m(lon[new], lat[new], near_lon, near_lat) > rules.far_m).any():
            return False
    seconds = np.diff(at)
    if (seconds <= 0).any():
        return False
    return not (_distances_m(lon[:-1], lat[:-1], lon[1:], lat[1:]) > rules.max_speed_mps * seconds).any()


def _distances_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """`distance_m` over arrays."""
    phi1, phi2 = lat1 * RADIANS, lat2 * RADIANS
    h = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin((lon2 - lon1) * RADIANS / 2) ** 2
    result: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return result


def screen_one_by_one(
    points: Sequence[Fix], *, last: Fix | None, bounds: Bounds | None, now: datetime, rules: Screening
) -> tuple[list[Fix], list[tuple[int, Rejection]]]:
    """`screen`, point by point: each is checked against the latest accepted fix before it (the vehicle's stored
    one, then the batch's)."""
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
