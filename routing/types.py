"""The routing problems' data: nodes with time windows, pickup-delivery pairs, quotas, vehicles, cost and time
matrices, and plans. One model serves Li & Lim's benchmark (one depot, every pair required, fewest vehicles first) and
the village enterprise's staff (each starts where they are, tasks may be refused at a price, riders have a maximum ride
time, a task already under way stays first in its route, a task assigned by hand stays with its vehicle), including
the crews' rebalancing: quotas over alternative nodes (take this vehicle to one of these places; fill this place up to
its target, each unit short costing a penalty) and visits that use up what a vehicle brought (a charged battery)."""

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
    uses: int = 0  # units of the vehicle's supply used up here (a charged battery swapped in)
    point: tuple[float, float] | None = None  # plane coordinates when the problem has them (solvers use `distance`)


@dataclass(frozen=True, slots=True)
class Pair:
    """Something picked up at one node and delivered at another by the same vehicle, pickup first."""

    pickup: int
    delivery: int
    penalty: float | None = None  # None: must be served; else what leaving it unserved costs, in distance units
    max_ride: float | None = None  # longest time from leaving the pickup to reaching the delivery
    vehicle: int | None = None  # only this vehicle may serve it (a task an operator assigned by hand)


@dataclass(frozen=True, slots=True)
class Vehicle:
    """Where a vehicle's route starts and ends (their windows bound its shift), and what it has already promised."""

    start: int = 0
    end: int = 0
    first: tuple[int, ...] = ()  # nodes its route must begin with, in this order (a task already under way)
    on_board: tuple[int, ...] = ()  # delivery nodes of loads it already carries: it delivers them, they fill it
    max_duration: float | None = None  # from leaving the start to reaching the end
    supply: int = 0  # units it brings that visits use up (charged batteries); never more can be used


@dataclass(frozen=True, slots=True)
class Quota:
    """At most `count` of `nodes` are visited, and each one short of `count` costs `penalty` (in distance units).
    Nodes in a quota are optional: a pair of them is served or left out whole, at no cost of its own."""

    nodes: tuple[int, ...]
    count: int = 1
    penalty: float = 0.0


@dataclass(frozen=True, slots=True)
class Problem:
    """Pickup and delivery with time windows and capacity (PDPTW). Travel time is `time` when given, else
    distance / speed. Without `fleet`, `vehicles` identical vehicles start and end at node 0 (the depot)."""

    nodes: Sequence[Node]
    pairs: Sequence[Pair]
    distance: Sequence[Sequence[float]]  # between node indices: what a plan minimises
    vehicles: int
    capacity: int
    speed: float = 1.0
    time: Sequence[Sequence[float]] | None = None
    fleet: Sequence[Vehicle] | None = None
    fewest_vehicles_first: bool = True  # the literature's ranking; staff on shift cost the same used or not
    quotas: Sequence[Quota] = ()
    time_value: float = 0.0  # distance units each time unit of a stop's service start costs: serve early

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if self.fleet is not None and len(self.fleet) != self.vehicles:
            raise ValueError(f"{len(self.fleet)} vehicles described, {self.vehicles} declared")

    def travel_time(self, a: int, b: int) -> float:
        return self.time[a][b] if self.time is not None else self.distance[a][b] / self.speed

    @property
    def vehicle_list(self) -> tuple[Vehicle, ...]:
        return tuple(self.fleet) if self.fleet is not None else (Vehicle(),) * self.vehicles

    @property
    def quota_nodes(self) -> frozenset[int]:
        return frozenset(node for quota in self.quotas for node in quota.nodes)

    @property
    def terminals(self) -> frozenset[int]:
        """Nodes where routes start or end: never visited as tasks."""
        return frozenset(node for vehicle in self.vehicle_list for node in (vehicle.start, vehicle.end))


@dataclass(frozen=True, slots=True)
class Plan:
    """One route per vehicle of the problem's fleet (node indices, start and end left out; empty when unused), when
    each stop's service starts, the pairs left unserved (indices into `Problem.pairs`), total distance, solve time."""

    routes: tuple[tuple[int, ...], ...]
    distance: float
    solve_s: float
    times: tuple[tuple[float, ...], ...] = ()  # per route, per stop; empty: not scheduled (a checker computes one)
    unserved: tuple[int, ...] = ()

    @property
    def vehicles(self) -> int:
        return sum(1 for route in self.routes if route)
