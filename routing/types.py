"""The routing problems' data: nodes with time windows, pickup-delivery pairs, a distance matrix, and plans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Node:
    """A place to visit: node 0 of a problem is the depot, where every route starts and ends."""

    earliest: float  # time window, in the problem's time unit
    latest: float
    service: float = 0.0  # time spent there
    demand: int = 0  # load picked up (> 0) or delivered (< 0)
    point: tuple[float, float] | None = None  # plane coordinates when the problem has them (solvers use `distance`)


@dataclass(frozen=True, slots=True)
class Pair:
    """Something picked up at one node and delivered at another by the same vehicle, pickup first."""

    pickup: int
    delivery: int


@dataclass(frozen=True, slots=True)
class Problem:
    """Pickup and delivery with time windows and capacity (PDPTW); travel time = distance / speed."""

    nodes: Sequence[Node]
    pairs: Sequence[Pair]
    distance: Sequence[Sequence[float]]  # between node indices
    vehicles: int
    capacity: int
    speed: float = 1.0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")

    def travel_time(self, a: int, b: int) -> float:
        return self.distance[a][b] / self.speed


@dataclass(frozen=True, slots=True)
class Plan:
    """Routes of the vehicles used (node indices, depot left out), their total distance, and how long it took."""

    routes: tuple[tuple[int, ...], ...]
    distance: float
    solve_s: float

    @property
    def vehicles(self) -> int:
        return len(self.routes)
