"""Cheapest insertion of one pair into given routes, keeping every other stop where it is: how a request is answered
at once (a dial-a-ride rider gets a pickup estimate in milliseconds), and the baseline a re-optimised plan is
measured against.

Every position of the pickup and, after it, of the delivery in every route the pair may use is tried (after the stops
a route must begin with); the feasible one that adds the least distance wins. Feasibility is the plan checker's, on
each route's earliest schedule (leave at once, wait only for a window to open). With maximum ride times that is
conservative: delaying a pickup could shorten a ride the earliest schedule makes too long, so an insertion may be
refused that a later schedule would allow (the re-optimisation, which schedules freely, can still find it).
"""

from __future__ import annotations

from collections.abc import Sequence

from routing.pdptw import earliest_schedule, planned, route_violations
from routing.types import Plan, Problem, Vehicle


def _length(problem: Problem, vehicle: Vehicle, route: tuple[int, ...]) -> float:
    if not route:
        return 0.0
    path = (vehicle.start, *route, vehicle.end)
    return sum(problem.distance[a][b] for a, b in zip(path, path[1:], strict=False))


def insert(
    problem: Problem,
    routes: Sequence[tuple[int, ...]],
    pair_index: int,
    times: Sequence[Sequence[float]] | None = None,
) -> Plan | None:
    """`routes`: one per vehicle of the problem, feasible, without the pair; `times`: their schedule (kept for the
    routes the pair does not go into; without it they are scheduled earliest, which may break a ride time a later
    schedule kept). The cheapest feasible plan with the pair inserted (its route scheduled earliest), or None when it
    fits nowhere."""
    pair = problem.pairs[pair_index]
    best: tuple[float, int, tuple[int, ...]] | None = None
    for r, (vehicle, route) in enumerate(zip(problem.vehicle_list, routes, strict=True)):
        if pair.vehicle is not None and pair.vehicle != r:
            continue
        before = _length(problem, vehicle, route)
        for i in range(len(vehicle.first), len(route) + 1):
            for j in range(i, len(route) + 1):
                candidate = (*route[:i], pair.pickup, *route[i:j], pair.delivery, *route[j:])
                added = _length(problem, vehicle, candidate) - before
                if best is not None and added >= best[0]:
                    continue  # the checker is the costly part: only a cheaper candidate needs it
                if not route_violations(problem, r, vehicle, candidate):
                    best = (added, r, candidate)
    if best is None:
        return None
    _, r, route = best
    inserted = tuple(route if v == r else tuple(other) for v, other in enumerate(routes))
    scheduled = tuple(
        tuple(times[v]) if times is not None and v != r else earliest_schedule(problem, vehicle, stops)
        for v, (vehicle, stops) in enumerate(zip(problem.vehicle_list, inserted, strict=True))
    )
    return planned(problem, inserted, scheduled, 0.0)
