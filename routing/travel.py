"""Travel times and distances between places, through one interface: `TravelTimes.table(points, mode)`.

Two implementations:
- `StraightLine` (the default, and what tests use): great-circle (haversine) distance x a detour factor, at a speed
  per mode.
- `OsrmTable`: an OSRM server's table service (`/table/v1/{profile}/...?annotations=duration,distance`), one
  profile per mode, for production where real street times matter. maeul never builds a road graph of its own.

A table is metres and seconds between every pair of points, in the order given (rows from, columns to).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import httpx
import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # the mean Earth radius (IUGG), metres


class Mode(StrEnum):
    WALK = "walk"
    SCOOTER = "scooter"
    CAR = "car"
    VAN = "van"


@dataclass(frozen=True, slots=True)
class Point:
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Table:
    metres: tuple[tuple[float, ...], ...]
    seconds: tuple[tuple[float, ...], ...]


class TravelTimes(Protocol):
    def table(self, points: Sequence[Point], mode: Mode) -> Table: ...


class TravelTimesUnavailable(Exception):
    """The routing engine did not answer with a table (down, refused, or a point it cannot snap to a road)."""


DEFAULT_SPEEDS_MPS: Mapping[Mode, float] = {
    Mode.WALK: 1.2,  # 4.3 km/h
    Mode.SCOOTER: 4.2,  # 15 km/h: a shared e-scooter in village streets
    Mode.CAR: 6.9,  # 25 km/h: residential streets with stops
    Mode.VAN: 6.9,
}


@dataclass(frozen=True, slots=True)
class StraightLine:
    """Straight-line distance x `detour` (streets are not straight), at a constant speed per mode."""

    detour: float = 1.3
    speeds_mps: Mapping[Mode, float] = field(default_factory=lambda: dict(DEFAULT_SPEEDS_MPS))

    def __post_init__(self) -> None:
        if self.detour < 1:
            raise ValueError("the detour factor is at least 1")
        if any(speed <= 0 for speed in self.speeds_mps.values()):
            raise ValueError("speeds must be positive")

    def table(self, points: Sequence[Point], mode: Mode) -> Table:
        """Haversine distance for all pairs at once (numpy)."""
        lon = np.radians([p.lon for p in points])
        lat = np.radians([p.lat for p in points])
        h = (
            np.sin((lat[None, :] - lat[:, None]) / 2) ** 2
            + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin((lon[None, :] - lon[:, None]) / 2) ** 2
        )
        metres = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h))) * self.detour
        seconds = metres / self.speeds_mps[mode]
        return Table(tuple(map(tuple, metres.tolist())), tuple(map(tuple, seconds.tolist())))


OSRM_PROFILES: Mapping[Mode, str] = {Mode.WALK: "foot", Mode.SCOOTER: "bike", Mode.CAR: "car", Mode.VAN: "car"}


@dataclass(frozen=True, slots=True)
class OsrmTable:
    """An OSRM server's table service; `base_url` like `http://osrm:5000`. Blocking: call it off the event loop."""

    base_url: str
    timeout_s: float = 5.0
    profiles: Mapping[Mode, str] = field(default_factory=lambda: dict(OSRM_PROFILES))

    def table(self, points: Sequence[Point], mode: Mode) -> Table:
        if not points:
            return Table((), ())
        where = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in points)
        url = f"{self.base_url.rstrip('/')}/table/v1/{self.profiles[mode]}/{where}"
        try:
            response = httpx.get(url, params={"annotations": "duration,distance"}, timeout=self.timeout_s)
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise TravelTimesUnavailable(f"OSRM table at {self.base_url}: {error}") from error
        if response.status_code != 200 or body.get("code") != "Ok":
            raise TravelTimesUnavailable(f"OSRM table answered {response.status_code}: {body.get('message', body)}")
        try:
            return Table(_matrix(body["distances"]), _matrix(body["durations"]))
        except (KeyError, TypeError) as error:
            raise TravelTimesUnavailable(f"OSRM table without distances and durations: {error}") from error


def _matrix(rows: Sequence[Sequence[float | None]]) -> tuple[tuple[float, ...], ...]:
    """OSRM says null where no route exists: unreachable is infinitely far, never zero."""
    return tuple(tuple(math.inf if value is None else float(value) for value in row) for row in rows)
