"""Pickup and delivery with time windows (PDPTW) on OR-Tools routing, ranked as the literature ranks it: fewest
vehicles first, then total distance.

Integer model (OR-Tools routing wants integer costs): distances and times are multiplied by `SCALE` (1,000: three
decimals of the problem's unit). Arc costs are rounded; travel plus service times are rounded *up*, so a plan that
fits the integer time windows fits the real ones too (`violations` checks it in real numbers). A vehicle costs
`vehicle_cost(problem)`: more than any plan's total distance could be, so the search first saves vehicles, then
distance. (A bound, not a huge constant: penalty-driven searches, PyVRP's and guided local search, scale their
penalties with the objective, and 1e10 per vehicle cost PyVRP 9% on lr205.)

Search: parallel cheapest insertion, then guided local search. `large_neighbourhoods` (on by default) adds OR-Tools'
ruin-and-recreate operators that are off by default: remove the most expensive chains of a route, or a node and its
nearest neighbours, and re-insert them by global or local cheapest insertion. On Li & Lim's instances they take a 10 s
search from 1.5% above the best-known distances (and 3 routes too many) to 0.2% (2 too many); OR-Tools' CP-based
path and inactive LNS made it worse (bench/bench_dispatch.py and the README give the numbers).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from routing.types import Plan, Problem

SCALE = 1_000
LNS_OPERATORS = (
    "use_global_cheapest_insertion_expensive_chain_lns",
    "use_local_cheapest_insertion_expensive_chain_lns",
    "use_global_cheapest_insertion_close_nodes_lns",
    "use_local_cheapest_insertion_close_nodes_lns",
)


@dataclass(frozen=True, slots=True)
class Search:
    time_limit_s: float = 2.0
    large_neighbourhoods: bool = True


class Infeasible(Exception):
    """No plan was found within the time limit (or none exists)."""


def solve(problem: Problem, search: Search = Search()) -> Plan:
    began = time.perf_counter()
    size = len(problem.nodes)
    manager = pywrapcp.RoutingIndexManager(size, problem.vehicles, 0)
    model = pywrapcp.RoutingModel(manager)

    arc = [[round(problem.distance[a][b] * SCALE) for b in range(size)] for a in range(size)]
    step = [
        [math.ceil((problem.nodes[a].service + problem.travel_time(a, b)) * SCALE) for b in range(size)]
        for a in range(size)
    ]
    cost = model.RegisterTransitMatrix(arc)
    model.SetArcCostEvaluatorOfAllVehicles(cost)
    model.SetFixedCostOfAllVehicles(vehicle_cost(problem))

    horizon = math.ceil(max(node.latest for node in problem.nodes) * SCALE)
    model.AddDimension(model.RegisterTransitMatrix(step), horizon, horizon, False, "time")
    clock = model.GetDimensionOrDie("time")
    for node, window in enumerate(problem.nodes):
        earliest, latest = math.ceil(window.earliest * SCALE), math.floor(window.latest * SCALE)
        if node == 0:
            for vehicle in range(problem.vehicles):
                clock.CumulVar(model.Start(vehicle)).SetRange(earliest, latest)
                clock.CumulVar(model.End(vehicle)).SetRange(earliest, latest)
        else:
            clock.CumulVar(manager.NodeToIndex(node)).SetRange(earliest, latest)

    demands = [node.demand for node in problem.nodes]
    load = model.RegisterUnaryTransitVector(demands)
    model.AddDimensionWithVehicleCapacity(load, 0, [problem.capacity] * problem.vehicles, True, "load")

    solver = model.solver()
    for pair in problem.pairs:
        pickup, delivery = manager.NodeToIndex(pair.pickup), manager.NodeToIndex(pair.delivery)
        model.AddPickupAndDelivery(pickup, delivery)
        solver.Add(model.VehicleVar(pickup) == model.VehicleVar(delivery))
        solver.Add(clock.CumulVar(pickup) <= clock.CumulVar(delivery))

    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    parameters.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    parameters.time_limit.FromMilliseconds(max(1, round(search.time_limit_s * 1000)))
    if search.large_neighbourhoods:
        operators = parameters.local_search_operators
        for name in LNS_OPERATORS:
            setattr(operators, name, optional_boolean_pb2.BOOL_TRUE)

    solution = model.SolveWithParameters(parameters)
    if solution is None:
        raise Infeasible(f"no plan found in {search.time_limit_s:g} s")
    routes = []
    for vehicle in range(problem.vehicles):
        index = solution.Value(model.NextVar(model.Start(vehicle)))
        route = []
        while not model.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(model.NextVar(index))
        if route:
            routes.append(tuple(route))
    return Plan(tuple(routes), route_distance(problem, routes), time.perf_counter() - began)


def vehicle_cost(problem: Problem) -> int:
    """Above any plan's scaled distance: every node but the depot is left once, the depot once per vehicle."""
    longest = [round(max(row) * SCALE) for row in problem.distance]
    return sum(longest[1:]) + problem.vehicles * longest[0] + 1


def route_distance(problem: Problem, routes: Sequence[tuple[int, ...]]) -> float:
    """Total distance in the problem's unit, unrounded: depot, the route's nodes, depot."""
    total = 0.0
    for route in routes:
        path = (0, *route, 0)
        total += sum(problem.distance[a][b] for a, b in zip(path, path[1:], strict=False))
    return total


def violations(problem: Problem, plan: Plan, *, tolerance: float = 1e-6) -> list[str]:
    """Every way the plan breaks the problem, checked in real numbers (empty: feasible)."""
    problems: list[str] = []
    seen = [node for route in plan.routes for node in route]
    expected = {node for pair in problem.pairs for node in (pair.pickup, pair.delivery)}
    if sorted(seen) != sorted(expected):
        problems.append(f"nodes visited {sorted(seen)} are not each task node exactly once {sorted(expected)}")
    if plan.vehicles > problem.vehicles:
        problems.append(f"{plan.vehicles} vehicles used, {problem.vehicles} available")
    route_of = {node: (r, position) for r, route in enumerate(plan.routes) for position, node in enumerate(route)}
    for pair in problem.pairs:
        pickup, delivery = route_of.get(pair.pickup), route_of.get(pair.delivery)
        if pickup is None or delivery is None:
            continue
        if pickup[0] != delivery[0] or pickup[1] > delivery[1]:
            problems.append(f"pair {pair.pickup}->{pair.delivery} is not picked up before delivery on one route")
    for r, route in enumerate(plan.routes):
        problems += _route_violations(problem, r, route, tolerance)
    return problems


def _route_violations(problem: Problem, r: int, route: tuple[int, ...], tolerance: float) -> list[str]:
    found = []
    depot = problem.nodes[0]
    now, load, here = depot.earliest, 0, 0
    for node in (*route, 0):
        now = max(now + problem.nodes[here].service + problem.travel_time(here, node), problem.nodes[node].earliest)
        if now > problem.nodes[node].latest + tolerance:
            found.append(f"route {r} reaches node {node} at {now:.3f}, after its window closes")
        load += problem.nodes[node].demand
        if load > problem.capacity:
            found.append(f"route {r} carries {load} after node {node}, capacity {problem.capacity}")
        here = node
    return found
