"""Pickup and delivery with time windows on PyVRP (iterated local search over shipments: paired pickups and deliveries),
for the problems it expresses faithfully. `inexpressible` names what it cannot (stops a route must begin with, loads
on board, a pair bound to one vehicle, maximum ride times, quotas, supplies, the value of time); those problems go to
OR-Tools (`routing.solver` chooses).

The integer model is OR-Tools' (`routing.pdptw`): distances x `SCALE` rounded, travel and service times x `SCALE`
rounded up (each on its own: never shorter than the real sum), windows narrowed inward, unreachable arcs a time no
route can spend, the same fixed cost per vehicle when vehicles come first. A pair that may be refused is an optional
shipment whose prize is its penalty (the same ranking: the objectives differ by the sum of all penalties). Vehicles
alike (same start, end and longest duration) are one PyVRP vehicle type; each start or end node is a depot.

Fewest vehicles first (Li & Lim's ranking), with one kind of vehicle and every pair required: `fleet_share` of the
time limit goes to PyVRP's fleet minimisation (solve with a vehicle less until no feasible plan turns up), the rest
to the distance with the smallest fleet found; without that phase PyVRP keeps a route too many on long-horizon
instances, where a fixed cost alone rarely empties a route. `TUNED` was chosen on the training set only
(bench/README.md: the 200-task Li & Lim instances).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import FirstFeasible, MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from routing.pdptw import (
    SCALE,
    Infeasible,
    Search,
    integers,
    planned,
    real_matrices,
    scaled_window,
    time_bounds,
    vehicle_cost,
)
from routing.types import Plan, Problem

SEED = 1
PENALTY_CAP = 100_000.0  # PyVRP's default highest penalty per unit of a violation


@dataclass(frozen=True, slots=True)
class Tuning:
    """maeul's settings of PyVRP (bench/tune_dispatch.py compares them on the training set)."""

    fleet_share: float  # of the time limit, spent minimising the fleet first (when vehicles come first)
    penalty_up_to_a_vehicle: bool  # a unit of excess load or lateness may cost up to a vehicle or a pair's prize


TUNED = Tuning(fleet_share=0.25, penalty_up_to_a_vehicle=True)
AS_SHIPPED = Tuning(fleet_share=0.0, penalty_up_to_a_vehicle=False)  # PyVRP's defaults: one solve
UNLIMITED = np.iinfo(np.int64).max  # PyVRP's "no limit" for durations


def inexpressible(problem: Problem) -> str | None:
    """Why PyVRP cannot plan this problem as the model means it (None: it can)."""
    fleet = problem.vehicle_list
    if problem.quotas:
        return "quotas over alternative places"
    if problem.time_value:
        return "a value of time per stop"
    if any(vehicle.first or vehicle.on_board for vehicle in fleet):
        return "stops under way"
    if any(vehicle.supply for vehicle in fleet) or any(node.uses for node in problem.nodes):
        return "supplies used up along a route"
    if any(pair.max_ride is not None for pair in problem.pairs):
        return "maximum ride times"
    if any(pair.vehicle is not None for pair in problem.pairs):
        return "pairs bound to one vehicle"
    if problem.terminals & {node for pair in problem.pairs for node in (pair.pickup, pair.delivery)}:
        return "tasks at a route's start or end"
    return None


def solve(
    problem: Problem,
    search: Search,
    initial: Sequence[Sequence[int]] | None = None,
    *,
    tuning: Tuning = TUNED,
) -> Plan:
    """`initial`: routes (node indices, one per vehicle) to start from. Raises `Infeasible` when no feasible plan is
    found within the time limit, `ValueError` for a problem `inexpressible` refuses."""
    why = inexpressible(problem)
    if why is not None:
        raise ValueError(f"PyVRP cannot express {why}")
    began = time.perf_counter()
    data, kinds, shipped = _data(problem)
    # PyVRP's default cap (1e5) is below the fixed cost of a vehicle and a refused pair's prize here, and a search that
    # may not price a violation above them keeps infeasible plans (a 3-pair instance went unsolved in 0.5 s; valets
    # carried two cars rather than refuse one)
    worth = [vehicle.fixed_cost for vehicle in data.vehicle_types()] + [s.prize for s in data.shipments()]
    cap = max(PENALTY_CAP, *worth) if tuning.penalty_up_to_a_vehicle else PENALTY_CAP
    params = pyvrp.SolveParams(penalty=pyvrp.PenaltyParams(max_penalty=cap))
    fleet_share = tuning.fleet_share
    limit = search.time_limit_s
    minimise = (
        problem.fewest_vehicles_first
        and fleet_share > 0
        and len(kinds) == 1
        and all(pair.penalty is None for pair in problem.pairs)
    )
    with warnings.catch_warnings():  # a fleet too small to be feasible (the phase tries them): told by the result
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        start = _solution(problem, data, kinds, shipped, initial) if initial is not None else None
        if minimise:
            data, start = _fewest_vehicles(
                data, _stop(fleet_share * limit, search.iterations, fleet_share), start, params
            )
        remaining = max(0.01, limit - (time.perf_counter() - began))
        stop = _stop(remaining, search.iterations, 1 - fleet_share if minimise else 1.0)
        result = pyvrp.solve(
            data, stop, seed=SEED, collect_stats=False, display=False, params=params, initial_solution=start
        )
    best = result.best
    if not best.is_feasible():
        raise Infeasible(f"no plan found in {limit:g} s")
    return _plan(problem, kinds, shipped, best, time.perf_counter() - began)


def _fewest_vehicles(
    data: pyvrp.ProblemData, stop: StoppingCriterion, start: pyvrp.Solution | None, params: pyvrp.SolveParams
) -> tuple[pyvrp.ProblemData, pyvrp.Solution | None]:
    """The problem with the smallest fleet for which a feasible plan turned up before `stop`, and that plan (the
    distance search starts from it). Each round searches with a vehicle less until a first feasible plan; a plan that
    used fewer vehicles than it had sets the fleet at once. (PyVRP's `minimise_fleet`, keeping the plan. Starting a
    round from the last plan without its shortest route was tried: it found fewer small fleets on the training set.)"""
    fleet = data.vehicle_type(0)
    while fleet.num_available > 1:
        smaller = data.replace(vehicle_types=[fleet.replace(num_available=fleet.num_available - 1)])
        criteria = MultipleCriteria([FirstFeasible(), stop])
        result = pyvrp.solve(smaller, criteria, seed=SEED, collect_stats=False, display=False, params=params)
        found = result.best
        if not found.is_feasible():
            break
        fleet = fleet.replace(num_available=found.num_routes())
        data = smaller.replace(vehicle_types=[fleet])
        start = pyvrp.Solution(data, [_route(data, route) for route in found.routes()])
    return data, start


def _route(data: pyvrp.ProblemData, route: pyvrp.Route) -> pyvrp.Route:
    visits = [pyvrp.Activity(visit.type, visit.idx) for visit in route.schedule() if not visit.is_depot()]
    return pyvrp.Route(data, visits, route.vehicle_type())


def _stop(seconds: float, iterations: int | None, share: float) -> StoppingCriterion:
    if iterations is None:
        return MaxRuntime(seconds)
    return MultipleCriteria([MaxRuntime(seconds), MaxIterations(max(1, round(share * iterations)))])


def _data(problem: Problem) -> tuple[pyvrp.ProblemData, list[list[int]], list[int]]:
    """PyVRP's problem, the vehicles (indices into the problem's fleet) of each vehicle type, and the pair of each
    shipment: a pair whose delivery closes before its pickup opens is no shipment (PyVRP refuses it); left out, or
    `Infeasible` when it must be served."""
    fleet = problem.vehicle_list
    nodes = problem.nodes
    _, never = time_bounds(problem)
    distance, travel = real_matrices(problem)
    distances, durations = integers(np.rint(distance * SCALE), never), integers(np.ceil(travel * SCALE), never)
    np.fill_diagonal(distances, 0)
    np.fill_diagonal(durations, 0)
    locations = [pyvrp.Location(*(node.point or (0.0, 0.0))) for node in nodes]
    terminals = sorted(problem.terminals)
    depot_of = {node: d for d, node in enumerate(terminals)}
    depots = [pyvrp.Depot(node, *scaled_window(nodes[node])) for node in terminals]
    kinds: dict[tuple[int, int, float | None], list[int]] = {}
    for v, vehicle in enumerate(fleet):
        kinds.setdefault((vehicle.start, vehicle.end, vehicle.max_duration), []).append(v)
    fixed = vehicle_cost(problem) if problem.fewest_vehicles_first else 0
    types = []
    for (start, end, longest), members in kinds.items():
        opens, starts_by = scaled_window(nodes[start])
        types.append(
            pyvrp.VehicleType(
                num_available=len(members),
                capacity=[problem.capacity],
                start_depot=depot_of[start],
                end_depot=depot_of[end],
                fixed_cost=fixed,
                tw_early=opens,
                start_late=starts_by,
                tw_late=scaled_window(nodes[end])[1],
                shift_duration=math.floor(longest * SCALE) if longest is not None else UNLIMITED,
            )
        )
    shipments, shipped = [], []
    for p, pair in enumerate(problem.pairs):
        pickup, delivery = nodes[pair.pickup], nodes[pair.delivery]
        (pickup_opens, pickup_closes), (delivery_opens, delivery_closes) = map(scaled_window, (pickup, delivery))
        if delivery_closes < pickup_opens or pickup_closes < pickup_opens or delivery_closes < delivery_opens:
            if pair.penalty is None:
                raise Infeasible(f"pair {pair.pickup}->{pair.delivery} cannot be served in its windows")
            continue
        shipped.append(p)
        shipments.append(
            pyvrp.Shipment(
                pair.pickup,
                pair.delivery,
                pickup_opens,
                pickup_closes,
                math.ceil(pickup.service * SCALE),
                delivery_opens,
                delivery_closes,
                math.ceil(delivery.service * SCALE),
                [pickup.demand],
                prize=round(pair.penalty * SCALE) if pair.penalty is not None else 0,
                required=pair.penalty is None,
            )
        )
    matrices: tuple[list[Any], list[Any]] = [distances], [durations]  # PyVRP's stubs name an ndarray of int
    data = pyvrp.ProblemData(locations, [], depots, types, *matrices, shipments=shipments)
    return data, list(kinds.values()), shipped


def _solution(
    problem: Problem,
    data: pyvrp.ProblemData,
    kinds: list[list[int]],
    shipped: list[int],
    initial: Sequence[Sequence[int]],
) -> pyvrp.Solution | None:
    """The given routes as PyVRP's solution, or None (the search starts afresh) when they name a node that is no
    pair's end or PyVRP refuses them (a delivery before its pickup, a pair split between routes)."""
    activity = {}
    for s, pair in enumerate(problem.pairs[p] for p in shipped):
        activity[pair.pickup] = pyvrp.Activity(pyvrp.ActivityType.PICKUP, s)
        activity[pair.delivery] = pyvrp.Activity(pyvrp.ActivityType.DELIVERY, s)
    kind_of = {v: k for k, members in enumerate(kinds) for v in members}
    routes = []
    for v, route in enumerate(initial):
        if not route:
            continue
        if v not in kind_of or any(node not in activity for node in route):
            return None
        try:
            routes.append(pyvrp.Route(data, [activity[node] for node in route], kind_of[v]))
        except ValueError:
            return None
    try:
        return pyvrp.Solution(data, routes)
    except ValueError:  # more routes of a kind than it has vehicles
        return None


def _plan(problem: Problem, kinds: list[list[int]], shipped: list[int], best: pyvrp.Solution, took: float) -> Plan:
    """PyVRP's routes given to the fleet's vehicles (each type's in order), with PyVRP's service start times."""
    ends = {s: (problem.pairs[p].pickup, problem.pairs[p].delivery) for s, p in enumerate(shipped)}
    free = [list(members) for members in kinds]
    routes: list[tuple[int, ...]] = [()] * problem.vehicles
    times: list[tuple[float, ...]] = [()] * problem.vehicles
    for route in best.routes():
        v = free[route.vehicle_type()].pop(0)
        stops, when = [], []
        for visit in route.schedule():
            if visit.is_pickup() or visit.is_delivery():
                stops.append(ends[visit.idx][0 if visit.is_pickup() else 1])
                when.append(visit.start_time / SCALE)
        routes[v], times[v] = tuple(stops), tuple(when)
    return planned(problem, routes, times, took)
