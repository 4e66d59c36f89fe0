"""Cheapest insertion: into random staff problems (own starts, shifts, ride times, a stop under way), one pair at a
time, every plan it returns keeps every constraint (the plan checker), and its choice is the cheapest of every
placement the checker accepts, enumerated here plan by plan."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.insertion import insert
from routing.pdptw import route_distance, violations
from routing.types import Plan, Problem
from tests.routing.test_pdptw import _staff


def _placements(problem: Problem, routes: list[tuple[int, ...]], p: int) -> list[Plan]:
    """Every plan with pair `p` placed anywhere after the stops under way, feasible or not."""
    pair = problem.pairs[p]
    plans = []
    for r, (vehicle, route) in enumerate(zip(problem.vehicle_list, routes, strict=True)):
        for i in range(len(vehicle.first), len(route) + 1):
            for j in range(i, len(route) + 1):
                changed = [*routes]
                changed[r] = (*route[:i], pair.pickup, *route[i:j], pair.delivery, *route[j:])
                served = {node for stops in changed for node in stops}
                unserved = tuple(q for q, other in enumerate(problem.pairs) if other.pickup not in served)
                plans.append(Plan(tuple(changed), route_distance(problem, changed), 0.0, (), unserved))
    return plans


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(seed=st.integers(0, 10**6), pairs=st.integers(1, 6), staff=st.integers(1, 3), lock=st.booleans())
def test_insertion_is_the_cheapest_feasible_placement_and_keeps_every_constraint(
    seed: int, pairs: int, staff: int, lock: bool
) -> None:
    problem = _staff(seed, pairs=pairs, staff=staff, optional=True)
    if lock:  # staff 0 is on the way to the first pair's pickup: insertion never goes before it
        first = problem.pairs[0]
        problem = dataclasses.replace(
            problem,
            fleet=[dataclasses.replace(problem.vehicle_list[0], first=(first.pickup,)), *problem.vehicle_list[1:]],
        )
    routes: list[tuple[int, ...]] = [() for _ in range(staff)]
    if lock:
        routes[0] = (problem.pairs[0].pickup, problem.pairs[0].delivery)
        if violations(problem, Plan(tuple(routes), 0.0, 0.0, (), tuple(range(1, pairs)))):
            return  # the stop under way itself cannot be served in time: nothing to insert into
    for p in range(1 if lock else 0, pairs):
        feasible = [plan for plan in _placements(problem, routes, p) if not violations(problem, plan)]
        plan = insert(problem, routes, p)
        if not feasible:
            assert plan is None
            continue
        assert plan is not None
        assert violations(problem, plan) == []
        assert plan.distance <= min(other.distance for other in feasible) + 1e-6
        routes = list(plan.routes)
