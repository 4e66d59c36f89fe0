"""The solver's own types: plain dataclasses, positions in metres, times in minutes, money in KRW."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from enum import IntEnum


class Priority(IntEnum):
    """Priority classes; the value is the weight of serving such a request (documented in README)."""

    GENERAL = 1
    RESIDENT = 2  # permit-holding village resident
    ACCESSIBILITY = 3  # accessibility need


@dataclass(frozen=True, slots=True)
class Interval:
    """[start, end) in minutes from the instance's origin."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty interval [{self.start}, {self.end})")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end

    @property
    def minutes(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Slot:
    id: Hashable
    x_m: float  # metres east of the instance origin
    y_m: float  # metres north
    free: tuple[Interval, ...]  # sharing windows minus existing bookings
    ev_charger: bool = False
    accessible: bool = False
    size: int = 1  # 0 compact, 1 regular, 2 large
    price_per_hour_krw: int = 0

    def without(self, interval: Interval) -> Slot:
        """The same slot with `interval` booked: its free intervals with that time cut out."""
        free: list[Interval] = []
        for window in self.free:
            if not window.overlaps(interval):
                free.append(window)
                continue
            if window.start < interval.start:
                free.append(Interval(window.start, interval.start))
            if interval.end < window.end:
                free.append(Interval(interval.end, window.end))
        return replace(self, free=tuple(free))

    def price_for(self, interval: Interval) -> int:
        """Integer KRW for the interval, rounded up to the won."""
        return -(-self.price_per_hour_krw * interval.minutes // 60)


@dataclass(frozen=True, slots=True)
class Request:
    id: Hashable
    x_m: float
    y_m: float
    interval: Interval
    max_walk_m: float
    needs_ev: bool = False
    needs_accessible: bool = False
    vehicle_size: int = 1
    priority: Priority = Priority.GENERAL


Pricer = Callable[["Request", "Slot"], int]  # KRW for the request's interval on the slot (picklable)


@dataclass(frozen=True, slots=True)
class Candidate:
    slot_id: Hashable
    walk_m: int
    price_krw: int


@dataclass(frozen=True, slots=True)
class Assignment:
    request_id: Hashable
    slot_id: Hashable
    walk_m: int
    price_krw: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """The result of a batch. `objective` and `bound` are in the solver's objective units (README); `gap` is
    (bound - objective) / bound, 0 when every component was solved to optimality."""

    assignments: tuple[Assignment, ...]
    candidates: dict[Hashable, tuple[Candidate, ...]] = field(repr=False)
    status: str  # OPTIMAL | FEASIBLE (time limit hit) | FALLBACK (greedy used for some component)
    objective: int
    bound: int
    solve_s: float
    components: int
    flow_components: int
    cpsat_components: int

    @property
    def gap(self) -> float:
        return 0.0 if self.bound <= 0 else max(self.bound - self.objective, 0) / self.bound

    def by_request(self) -> dict[Hashable, Assignment]:
        return {a.request_id: a for a in self.assignments}

    @property
    def total_walk_m(self) -> int:
        return sum(a.walk_m for a in self.assignments)
