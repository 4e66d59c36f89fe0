"""Pickup and delivery with time windows (PDPTW) on OR-Tools routing, ranked as the literature ranks it: fewest
vehicles first, then total distance.

Integer model (OR-Tools routing wants integer costs): distances and times are multiplied by `SCALE` (1,000: three
decimals of the problem's unit). Arc costs are rounded; travel plus service times are rounded *up*, so a plan that
fits the integer time windows fits the real ones too (`violations` checks it in real numbers). A vehicle costs
`vehicle_cost(problem)`: more than any plan's total distance could be, so the search first saves vehicles, then
distance. (A bound, not a huge constant: penalty-driven searches, PyVRP's and guided local search, scale their
penalties with the objective, and 1e10 per vehicle cost PyVRP 9% on lr205.)

The same model serves the staff: each vehicle starts and ends at its own nodes (their windows bound the shift), may have
a maximum route duration and a chain of stops it must begin with (a task under way is never moved); a pair may be bound
to one vehicle (`Pair.vehicle`), be refused at a penalty (the plan lists it unserved) and may have a maximum ride time
(a rider's, from leaving the pickup to reaching the delivery; enforced on service start times in the integer model,
rounded down). `Plan.times` are the service start times of the solver's schedule; unreachable pairs of places (an
infinite time or distance, as a routing engine reports them) are never used. A vehicle may start with loads on board
(`Vehicle.on_board`: the delivery nodes of riders or cars it carries): it alone delivers them, and they count against
its capacity.

Search: parallel cheapest insertion, then guided local search. `large_neighbourhoods` (on by default) adds OR-Tools'
ruin-and-recreate operators that are off by default: remove the most expensive chains of a route, or a node and its
nearest neighbours, and re-insert them by global or local cheapest insertion. On Li & Lim's instances they take a 10 s
search from 1.5% above the best-known distances (and 4 routes too many) to 0.2% (2 too many); OR-Tools' CP-based
path and inactive LNS made it worse (bench/bench_dispatch.py and the README give the numbers). A move must save at
least `STEP` (0.05 of the problem's distance unit: a twentieth of a metre for the staff's plans): on Li & Lim's
instances that takes the 2 s search from 1.5% above the best-known distances to about 1% on average over renumberings
of the same instances (as published: 0.6% and 1.2% in two benchmark runs); lrc201 drops its fifth route in every
numbering.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from routing.types import Node, Plan, Problem, Vehicle

SCALE = 1_000
STEP = 50  # the least a local search move must save, in the integer model: 0.05 of the problem's distance unit
LNS_OPERATORS = (
    "use_global_cheapest_insertion_expensive_chain_lns",
    "use_local_cheapest_insertion_expensive_chain_lns",
    "use_global_cheapest_insertion_close_nodes_lns",
    "use_local_cheapest_insertion_close_nodes_lns",
)


class Engine(StrEnum):
    """Which solver plans a problem: `routing.solver` picks one when the search says AUTO."""

    AUTO = "auto"
    OR_TOOLS = "or-tools"  # this module
    PYVRP = "pyvrp"  # routing.ils


@dataclass(frozen=True, slots=True)
class Search:
    time_limit_s: float = 2.0
    large_neighbourhoods: bool = True  # OR-Tools' ruin-and-recreate operators
    improve: bool = True  # False: stop at the first solution (cheapest insertion alone, a baseline)
    engine: Engine = Engine.AUTO
    # also stop after this many iterations (PyVRP) or solutions (OR-Tools): the plan then depends on the problem alone
    iterations: int | None = None


class Infeasible(Exception):
    """No plan was found within the time limit (or none exists)."""


def solve(problem: Problem, search: Search = Search(), initial: Sequence[Sequence[int]] | None = None) -> Plan:
    """`initial`: routes (node indices, one per vehicle) to start the search from, e.g. a heuristic's plan; a start
    that breaks the problem is ignored and the first solution heuristic runs instead."""
    began = time.perf_counter()
    fleet = problem.vehicle_list
    size = len(problem.nodes)
    manager = pywrapcp.RoutingIndexManager(size, len(fleet), [v.start for v in fleet], [v.end for v in fleet])
    model = pywrapcp.RoutingModel(manager)
    horizon, never = time_bounds(problem)

    def scaled(value: float, rounding: Callable[[float], float]) -> int:
        return int(rounding(value * SCALE)) if math.isfinite(value) else never

    distance, travel = real_matrices(problem)
    service = np.asarray([node.service for node in problem.nodes], dtype=float)
    arc = integers(np.rint(distance * SCALE), never).tolist()
    step = integers(np.ceil((service[:, None] + travel) * SCALE), never).tolist()
    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitMatrix(arc))
    if problem.fewest_vehicles_first:
        model.SetFixedCostOfAllVehicles(vehicle_cost(problem))

    model.AddDimension(model.RegisterTransitMatrix(step), horizon, horizon, False, "time")
    clock = model.GetDimensionOrDie("time")

    terminals = problem.terminals
    for node in range(size):
        if node not in terminals:
            clock.CumulVar(manager.NodeToIndex(node)).SetRange(*scaled_window(problem.nodes[node]))
            if problem.time_value:  # cost = value x (scaled) start time, in scaled distance units
                clock.SetCumulVarSoftUpperBound(manager.NodeToIndex(node), 0, round(problem.time_value))
    solver = model.solver()
    for v, vehicle in enumerate(fleet):
        clock.CumulVar(model.Start(v)).SetRange(*scaled_window(problem.nodes[vehicle.start]))
        clock.CumulVar(model.End(v)).SetRange(*scaled_window(problem.nodes[vehicle.end]))
        if vehicle.max_duration is not None:
            clock.SetSpanUpperBoundForVehicle(math.floor(vehicle.max_duration * SCALE), v)
        chain = [model.Start(v), *(manager.NodeToIndex(node) for node in vehicle.first)]
        for here, there in zip(chain, chain[1:], strict=False):
            solver.Add(model.NextVar(here) == there)

    demands = [node.demand for node in problem.nodes]
    model.AddDimensionWithVehicleCapacity(
        model.RegisterUnaryTransitVector(demands), 0, [problem.capacity] * len(fleet), False, "load"
    )
    load = model.GetDimensionOrDie("load")
    for v, vehicle in enumerate(fleet):
        load.CumulVar(model.Start(v)).SetValue(initial_load(problem, vehicle))
        for node in vehicle.on_board:
            model.VehicleVar(manager.NodeToIndex(node)).SetValue(v)
    if any(node.uses for node in problem.nodes):  # what a vehicle brought, used up along its route, never below zero
        model.AddDimensionWithVehicleCapacity(
            model.RegisterUnaryTransitVector([-node.uses for node in problem.nodes]),
            0,
            [vehicle.supply for vehicle in fleet],
            False,
            "supply",
        )
        supply = model.GetDimensionOrDie("supply")
        for v, vehicle in enumerate(fleet):
            supply.CumulVar(model.Start(v)).SetValue(vehicle.supply)
    for quota in problem.quotas:
        indices = [manager.NodeToIndex(node) for node in quota.nodes]
        model.AddDisjunction(indices, scaled(quota.penalty, round), quota.count, model.PENALIZE_PER_INACTIVE)
    in_quotas = problem.quota_nodes

    limits: list[Callable[[int, int], int]] = []  # the model calls these from C++: they must outlive the solve
    for p, pair in enumerate(problem.pairs):
        pickup, delivery = manager.NodeToIndex(pair.pickup), manager.NodeToIndex(pair.delivery)
        model.AddPickupAndDelivery(pickup, delivery)
        solver.Add(model.VehicleVar(pickup) == model.VehicleVar(delivery))
        if pair.penalty is not None or pair.pickup in in_quotas:
            solver.Add(model.ActiveVar(pickup) == model.ActiveVar(delivery))
        if pair.penalty is not None:
            model.AddDisjunction([pickup, delivery], scaled(pair.penalty, round), 2)
        if pair.vehicle is not None:  # -1: the vehicle of a node left out
            model.VehicleVar(pickup).SetValues([pair.vehicle] if pair.penalty is None else [-1, pair.vehicle])
        if pair.max_ride is not None:  # OR-Tools' own pickup-to-delivery limit: its filters see it during the search
            longest = math.floor((pair.max_ride + problem.nodes[pair.pickup].service) * SCALE)
            limits.append(functools.partial(_constant, longest))
            clock.SetPickupToDeliveryLimitFunctionForPair(limits[-1], p)
            # and the times the solution reports keep it (the filters alone let a solution's cumuls break it)
            slack = horizon * (1 - model.ActiveVar(pickup))  # a pair left out is not held to it
            solver.Add(clock.CumulVar(delivery) - clock.CumulVar(pickup) <= longest + slack)

    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    parameters.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    parameters.time_limit.FromMilliseconds(max(1, round(search.time_limit_s * 1000)))
    parameters.optimization_step = STEP
    if not search.improve:
        parameters.solution_limit = 1
    elif search.iterations is not None:
        parameters.solution_limit = search.iterations
    if search.large_neighbourhoods:
        operators = parameters.local_search_operators
        for name in LNS_OPERATORS:
            setattr(operators, name, optional_boolean_pb2.BOOL_TRUE)

    start = None
    if initial is not None:
        model.CloseModelWithParameters(parameters)
        start = model.ReadAssignmentFromRoutes([[manager.NodeToIndex(n) for n in route] for route in initial], True)
    if start is not None:
        solution = model.SolveFromAssignmentWithParameters(start, parameters)
    else:
        solution = model.SolveWithParameters(parameters)
    if solution is None:
        raise Infeasible(f"no plan found in {search.time_limit_s:g} s")
    routes, times = [], []
    for v in range(len(fleet)):
        index = solution.Value(model.NextVar(model.Start(v)))
        route, when = [], []
        while not model.IsEnd(index):
            route.append(manager.IndexToNode(index))
            when.append(solution.Value(clock.CumulVar(index)) / SCALE)
            index = solution.Value(model.NextVar(index))
        routes.append(tuple(route))
        times.append(tuple(when))
    return planned(problem, routes, times, time.perf_counter() - began)


def planned(
    problem: Problem, routes: Sequence[tuple[int, ...]], times: Sequence[tuple[float, ...]], solve_s: float
) -> Plan:
    """A plan of these routes (one per vehicle) and times: its distance, and the pairs it leaves unserved."""
    visited = {node for route in routes for node in route}
    unserved = tuple(p for p, pair in enumerate(problem.pairs) if pair.pickup not in visited)
    return Plan(tuple(routes), route_distance(problem, routes), solve_s, tuple(times), unserved)


def time_bounds(problem: Problem) -> tuple[int, int]:
    """The integer model's horizon (the latest window's close) and `never`, a time no route can spend: what an
    unreachable arc takes."""
    horizon = math.ceil(max(node.latest for node in problem.nodes) * SCALE)
    return horizon, 4 * horizon + 1


def real_matrices(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Distance and travel time between the nodes, in the problem's units (infinite: unreachable)."""
    distance = np.asarray(problem.distance, dtype=float)
    travel = np.asarray(problem.time, dtype=float) if problem.time is not None else distance / problem.speed
    return distance, travel


def integers(scaled: np.ndarray, never: int) -> np.ndarray:
    """A scaled matrix in integers; unreachable (infinite) entries become `never`."""
    return np.where(np.isfinite(scaled), scaled, never).astype(np.int64)


def scaled_window(node: Node) -> tuple[int, int]:
    """A node's time window in the integer model, narrowed inward so it never admits a time the real one refuses."""
    return math.ceil(node.earliest * SCALE), math.floor(node.latest * SCALE)


def initial_load(problem: Problem, vehicle: Vehicle) -> int:
    """What a vehicle carries when its route starts: the loads it still has to deliver."""
    return -sum(problem.nodes[node].demand for node in vehicle.on_board)


def _constant(value: int, _pickup: int, _delivery: int) -> int:
    return value


def vehicle_cost(problem: Problem) -> int:
    """Above any plan's scaled distance: every node but the starts is left at most once, a start once per vehicle."""
    longest = [round(max((d for d in row if math.isfinite(d)), default=0) * SCALE) for row in problem.distance]
    starts = [vehicle.start for vehicle in problem.vehicle_list]
    return sum(longest) - sum(longest[node] for node in set(starts)) + sum(longest[node] for node in starts) + 1


def objective(problem: Problem, plan: Plan) -> float:
    """What the search minimises, in distance units: distance, the penalties of pairs unserved and of quotas short
    (and, when vehicles come first, their fixed cost)."""
    fixed = vehicle_cost(problem) / SCALE * plan.vehicles if problem.fewest_vehicles_first else 0.0
    refused = sum(problem.pairs[p].penalty or 0.0 for p in plan.unserved)
    visited = {node for route in plan.routes for node in route}
    short = sum(q.penalty * max(0, q.count - len(visited.intersection(q.nodes))) for q in problem.quotas)
    early = problem.time_value * sum(at for times in plan.times for at in times)
    return fixed + plan.distance + refused + short + early


def route_distance(problem: Problem, routes: Sequence[tuple[int, ...]]) -> float:
    """Total distance in the problem's unit, unrounded: route r is vehicle r's, from its start to its end."""
    total = 0.0
    for vehicle, route in zip(problem.vehicle_list, routes, strict=False):
        if route:
            path = (vehicle.start, *route, vehicle.end)
            total += sum(problem.distance[a][b] for a, b in zip(path, path[1:], strict=False))
    return total


def violations(problem: Problem, plan: Plan, *, tolerance: float = 1e-6) -> list[str]:
    """Every way the plan breaks the problem, checked in real numbers (empty: feasible). Times are the plan's when it
    has them, else each route's earliest schedule."""
    problems: list[str] = []
    fleet = problem.vehicle_list
    if len(plan.routes) > len(fleet):
        problems.append(f"{len(plan.routes)} routes for {len(fleet)} vehicles")
    seen = [node for route in plan.routes for node in route]
    if len(seen) != len(set(seen)):
        problems.append(f"some node is visited more than once: {sorted(seen)}")
    visited = set(seen)
    unserved = set(plan.unserved)
    for p, pair in enumerate(problem.pairs):
        done = {pair.pickup, pair.delivery} & visited
        if p in unserved and done:
            problems.append(f"pair {pair.pickup}->{pair.delivery} is listed unserved but visited")
        elif p in unserved and pair.penalty is None and pair.pickup not in problem.quota_nodes:
            problems.append(f"pair {pair.pickup}->{pair.delivery} must be served")
        elif p not in unserved and len(done) != 2:
            problems.append(f"pair {pair.pickup}->{pair.delivery} is not served and not listed unserved")
    for quota in problem.quotas:
        made = len(visited.intersection(quota.nodes))
        if made > quota.count:
            problems.append(f"{made} of nodes {list(quota.nodes)} are visited, at most {quota.count} may be")
    allowed = {node for pair in problem.pairs for node in (pair.pickup, pair.delivery)}
    allowed |= {node for vehicle in fleet for node in (*vehicle.first, *vehicle.on_board)}
    allowed |= problem.quota_nodes
    if visited - allowed:
        problems.append(f"nodes {sorted(visited - allowed)} are not tasks (terminals or unknown)")
    route_of = {node: (r, position) for r, route in enumerate(plan.routes) for position, node in enumerate(route)}
    for pair in problem.pairs:
        pickup, delivery = route_of.get(pair.pickup), route_of.get(pair.delivery)
        if pickup is not None and delivery is not None and (pickup[0] != delivery[0] or pickup[1] > delivery[1]):
            problems.append(f"pair {pair.pickup}->{pair.delivery} is not picked up before delivery on one route")
        if pickup is not None and pair.vehicle is not None and pickup[0] != pair.vehicle:
            problems.append(f"pair {pair.pickup}->{pair.delivery} is served by vehicle {pickup[0]}, not {pair.vehicle}")
    for r, vehicle in enumerate(fleet):  # a vehicle without a route in the plan stays home: its promises still count
        route = plan.routes[r] if r < len(plan.routes) else ()
        if route[: len(vehicle.first)] != vehicle.first:
            problems.append(f"route {r} does not begin with its stops under way {vehicle.first}")
        if set(vehicle.on_board) - set(route):
            problems.append(f"route {r} does not deliver what it carries: {sorted(set(vehicle.on_board) - set(route))}")
        if route:
            if plan.times:  # a plan with times has them for every route; a missing one is reported, not guessed
                when: Sequence[float] = plan.times[r] if r < len(plan.times) else ()
                problems += _route_violations(problem, r, vehicle, route, when, tolerance)
            else:
                problems += route_violations(problem, r, vehicle, route, tolerance=tolerance)
    return problems


def route_violations(
    problem: Problem, r: int, vehicle: Vehicle, route: tuple[int, ...], *, tolerance: float = 1e-6
) -> list[str]:
    """How one route (vehicle `r`'s) breaks the problem on its earliest schedule: windows, capacity, supply, ride
    times, duration, its end."""
    return _route_violations(problem, r, vehicle, route, earliest_schedule(problem, vehicle, route), tolerance)


def earliest_schedule(problem: Problem, vehicle: Vehicle, route: tuple[int, ...]) -> tuple[float, ...]:
    when, now, here = [], problem.nodes[vehicle.start].earliest, vehicle.start
    for node in route:
        now = max(now + problem.nodes[here].service + problem.travel_time(here, node), problem.nodes[node].earliest)
        when.append(now)
        here = node
    return tuple(when)


def _route_violations(
    problem: Problem, r: int, vehicle: Vehicle, route: tuple[int, ...], when: Sequence[float], tolerance: float
) -> list[str]:
    found = []
    nodes = problem.nodes
    if len(when) != len(route):
        return [f"route {r} has {len(route)} stops and {len(when)} times"]
    leave = when[0] - problem.travel_time(vehicle.start, route[0]) - nodes[vehicle.start].service
    if leave < nodes[vehicle.start].earliest - tolerance:
        found.append(f"route {r} would leave its start at {leave:.3f}, before its window opens")
    load, here, ready = initial_load(problem, vehicle), vehicle.start, leave + nodes[vehicle.start].service
    supply = vehicle.supply
    for node, at in zip(route, when, strict=True):
        if at < ready + problem.travel_time(here, node) - tolerance:
            found.append(f"route {r} serves node {node} at {at:.3f}, before it can get there")
        if at < nodes[node].earliest - tolerance or at > nodes[node].latest + tolerance:
            found.append(f"route {r} serves node {node} at {at:.3f}, outside its window")
        load += nodes[node].demand
        if load > problem.capacity or load < 0:
            found.append(f"route {r} carries {load} after node {node}, capacity {problem.capacity}")
        supply -= nodes[node].uses
        if supply < 0:
            found.append(f"route {r} uses more than its supply of {vehicle.supply} at node {node}")
        here, ready = node, at + nodes[node].service
    if load:
        found.append(f"route {r} ends carrying {load}")
    arrive = ready + problem.travel_time(here, vehicle.end)
    if arrive > nodes[vehicle.end].latest + tolerance:
        found.append(f"route {r} reaches its end at {arrive:.3f}, after its window closes")
    if vehicle.max_duration is not None and arrive - leave > vehicle.max_duration + tolerance:
        found.append(f"route {r} lasts {arrive - leave:.3f}, longer than {vehicle.max_duration:g}")
    at_node = dict(zip(route, when, strict=True))
    for pair in problem.pairs:
        if pair.max_ride is not None and pair.pickup in at_node and pair.delivery in at_node:
            ride = at_node[pair.delivery] - at_node[pair.pickup] - nodes[pair.pickup].service
            if ride > pair.max_ride + tolerance:
                found.append(f"pair {pair.pickup}->{pair.delivery} rides {ride:.3f}, longer than {pair.max_ride:g}")
    return found
