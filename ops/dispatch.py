"""Staff who carry something from an origin to a destination, planned into a live day: a valet drives one resident's
car, a van driver carries riders (pick-up rides). Pure, like `matching/`: dataclasses in, dataclasses out, travel
times through `routing.travel`; `plan_carriers` and `insert_job` run in the solver pool.

The routing problem (`carrier_problem`), in seconds from now and metres:
- Node 0 is a free end (zero time from anywhere: a route ends wherever its last stop is); nodes 1..C are the
  carriers' starts (where the staff app last saw them, from `ready_s`); then each job's origin (unless its load is
  already on board) and destination.
- Each job is a pickup-and-delivery pair with a load (a car: 1; riders: the party), time windows at both ends, a
  penalty for leaving it out (None: it must be served), an optional maximum ride time (a factor over the direct
  travel time between its ends) and an optional carrier it is bound to (assigned by hand).
- Legs are travelled in `legs.loaded` mode when leaving a pickup, or a start with a load on board (a valet drives
  the car), else in `legs.empty` mode (a valet rides a shared e-scooter); a van is a van both ways.
- What is under way is never moved: a carrier's `first` stops begin its route; its `on_board` loads are delivered by
  it and fill it from the start. Their windows, and the carrier's shift, never make the problem infeasible: they are
  widened to when the carrier can get there at the soonest (its first stops, then the loads on board by deadline),
  so a late carrier is late, not refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routing.insertion import insert
from routing.pdptw import Search
from routing.solver import solve
from routing.travel import Mode, Point, TravelTimes
from routing.types import Node, Pair, Plan, Problem, Vehicle

Visit = tuple[uuid.UUID, bool]  # a job, and whether at its destination (else at its origin)


@dataclass(frozen=True, slots=True)
class Legs:
    empty: Mode  # how a carrier travels with nothing on board
    loaded: Mode  # and with a load


@dataclass(frozen=True, slots=True)
class Carrier:
    staff_id: uuid.UUID
    at: Point
    available_s: float | None  # seconds from now to the end of the shift; None: no limit
    first: tuple[Visit, ...] = ()  # stops under way, in order: the route begins with them
    on_board: tuple[uuid.UUID, ...] = ()  # jobs whose load it carries
    ready_s: float = 0.0  # when it can leave `at`


@dataclass(frozen=True, slots=True)
class Job:
    job_id: uuid.UUID
    origin: Point
    destination: Point
    origin_window: tuple[float, float]  # seconds from now
    destination_window: tuple[float, float]
    penalty: float | None  # metres; None: must be served (under way)
    carrier: int | None = None  # index into the carriers: assigned by hand
    load: int = 1
    max_ride_factor: float | None = None  # longest ride from origin to destination, over the direct travel time


@dataclass(frozen=True, slots=True)
class Stop:
    job_id: uuid.UUID
    at_destination: bool
    at_s: float


@dataclass(frozen=True, slots=True)
class CarrierPlan:
    routes: tuple[tuple[Stop, ...], ...]  # per carrier, in order
    unserved: frozenset[uuid.UUID]
    solve_s: float


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Who carries, what, how: everything a plan is made from."""

    carriers: Sequence[Carrier]
    jobs: Sequence[Job]
    travel: TravelTimes
    legs: Legs
    service_s: float  # at every stop (keys and photos; riders boarding)
    capacity: int
    time_value: float = 0.0  # metres each second of a stop's time costs (riders: serve early)


@dataclass(frozen=True, slots=True)
class Model:
    problem: Problem
    visits: list[Visit]  # what node 1 + C + k is

    def node(self, visit: Visit) -> int:
        return 1 + len(self.problem.vehicle_list) + self.visits.index(visit)

    def routes(self, stops: Sequence[Sequence[Visit]]) -> list[tuple[int, ...]]:
        index = {visit: 1 + len(self.problem.vehicle_list) + k for k, visit in enumerate(self.visits)}
        return [tuple(index[visit] for visit in route) for route in stops]

    def plan(self, dispatch: Dispatch, plan: Plan) -> CarrierPlan:
        first = 1 + len(dispatch.carriers)
        routes = tuple(
            tuple(Stop(*self.visits[node - first], at) for node, at in zip(route, times, strict=True))
            for route, times in zip(plan.routes, plan.times, strict=True)
        )
        served = {stop.job_id for route in routes for stop in route}
        return CarrierPlan(routes, frozenset(job.job_id for job in dispatch.jobs) - served, plan.solve_s)


def carrier_problem(dispatch: Dispatch) -> Model:
    carriers, jobs = dispatch.carriers, dispatch.jobs
    carried = {job_id for carrier in carriers for job_id in carrier.on_board}
    points = [carrier.at for carrier in carriers]
    visits: list[Visit] = []
    for job in jobs:
        if job.job_id not in carried:
            points.append(job.origin)
            visits.append((job.job_id, False))
        points.append(job.destination)
        visits.append((job.job_id, True))
    size = len(points) + 1
    starts = len(carriers)
    loaded = np.zeros(size, dtype=bool)  # leaving this node, the carrier has a load (a valet drives the car)
    for c, carrier in enumerate(carriers):
        loaded[1 + c] = bool(carrier.on_board)
    for k, (_, at_destination) in enumerate(visits):
        loaded[1 + starts + k] = not at_destination
    empty = dispatch.travel.table(points, dispatch.legs.empty)
    full = empty if dispatch.legs.loaded == dispatch.legs.empty else dispatch.travel.table(points, dispatch.legs.loaded)

    def matrix(field: str) -> list[list[float]]:
        rows = np.zeros((size, size))
        rows[1:, 1:] = np.where(
            loaded[1:, None], np.asarray(getattr(full, field), dtype=float), np.asarray(getattr(empty, field))
        )
        rows[:, 0] = 0.0
        return rows.tolist()

    node_of = {visit: 1 + starts + k for k, visit in enumerate(visits)}
    time = matrix("seconds")
    windows = [job.origin_window for job in jobs] + [job.destination_window for job in jobs]
    limits = [carrier.available_s + carrier.ready_s for carrier in carriers if carrier.available_s is not None]
    horizon = max([*limits, *(hi for _, hi in windows), *(c.ready_s for c in carriers), 1.0])
    # a start's window is a millisecond wide: the integer model (x 1,000) has an integer inside it
    nodes = (
        [Node(0, horizon)] + [Node(c.ready_s, c.ready_s + 1e-3) for c in carriers] + [Node(0, horizon)] * len(visits)
    )
    pairs = []
    for job in jobs:
        delivery = node_of[(job.job_id, True)]
        nodes[delivery] = Node(*job.destination_window, dispatch.service_s, -job.load)
        if job.job_id in carried:
            continue
        pickup = node_of[(job.job_id, False)]
        nodes[pickup] = Node(*job.origin_window, dispatch.service_s, job.load)
        ride = job.max_ride_factor * time[pickup][delivery] if job.max_ride_factor is not None else None
        pairs.append(Pair(pickup, delivery, penalty=job.penalty, max_ride=ride, vehicle=job.carrier))
    vehicles = []
    for c, carrier in enumerate(carriers):
        first = tuple(node_of[visit] for visit in carrier.first)
        on_board = tuple(node_of[(job_id, True)] for job_id in carrier.on_board)
        # under way: each promise is widened to the soonest the carrier gets there (first stops, then by deadline)
        here, clock = 1 + c, carrier.ready_s
        for node in (*first, *sorted(set(on_board) - set(first), key=lambda n: (nodes[n].latest, n))):
            clock = max(clock + nodes[here].service + time[here][node], nodes[node].earliest)
            if clock > nodes[node].latest:
                nodes[node] = Node(nodes[node].earliest, clock, nodes[node].service, nodes[node].demand)
            here = node
        duration = None
        if carrier.available_s is not None:
            duration = max(carrier.available_s, clock + nodes[here].service - carrier.ready_s)
        vehicles.append(Vehicle(start=1 + c, end=0, first=first, on_board=on_board, max_duration=duration))
    end = max(node.latest for node in nodes)
    nodes[0] = Node(0, end)
    problem = Problem(
        nodes=nodes,
        pairs=pairs,
        distance=matrix("metres"),
        time=time,
        vehicles=len(carriers),
        capacity=dispatch.capacity,
        fleet=vehicles,
        fewest_vehicles_first=False,
        time_value=dispatch.time_value,
    )
    return Model(problem, visits)


def plan_carriers(dispatch: Dispatch, search: Search, current: Sequence[Sequence[Visit]] | None = None) -> CarrierPlan:
    """Every job over every carrier, searched by OR-Tools from `current` (the routes in force, when they still
    hold) or from cheapest insertion. Raises `routing.pdptw.Infeasible` when no plan is found in time."""
    if not dispatch.jobs:
        return CarrierPlan(tuple(() for _ in dispatch.carriers), frozenset(), 0.0)
    if not dispatch.carriers:
        return CarrierPlan((), frozenset(job.job_id for job in dispatch.jobs), 0.0)
    model = carrier_problem(dispatch)
    initial = model.routes(current) if current is not None else None
    return model.plan(dispatch, solve(model.problem, search, initial=initial))


def insert_job(
    dispatch: Dispatch, current: Sequence[Sequence[Visit]], times: Sequence[Sequence[float]], job_id: uuid.UUID
) -> CarrierPlan | None:
    """The routes in force (`current`, one per carrier, every other job in them or left out; `times`: their planned
    times, seconds from now) with job `job_id` inserted where it adds the fewest metres, every other stop kept in
    order (and the other routes on their times); None when it fits nowhere."""
    if not dispatch.carriers:
        return None
    model = carrier_problem(dispatch)
    pickup = model.node((job_id, False))
    pair = next(p for p, pair in enumerate(model.problem.pairs) if pair.pickup == pickup)
    plan = insert(model.problem, model.routes(current), pair, times)
    return model.plan(dispatch, plan) if plan is not None else None
