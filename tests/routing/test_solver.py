"""The choice of routing engine, and what PyVRP's (`routing.ils`) must do as OR-Tools' does: refuse what it cannot
express, start from a plan, answer within its time limit with the best plan so far, and give the same plan for the
same seed and work."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import pytest

from bench.lilim import read
from routing import ils, solver
from routing.pdptw import Engine, Search, objective, route_distance, violations
from routing.types import Node, Pair, Plan, Problem, Quota, Vehicle

LILIM = Path(__file__).resolve().parents[2] / "bench" / "lilim"


def _valets() -> Problem:
    """Two valets where they are (nodes 1, 2), a free end (node 0), two refusable jobs on a line."""
    xs = [0.0, 0.0, 100.0, 10.0, 20.0, 90.0, 80.0]
    distance = [[abs(a - b) for b in xs] for a in xs]
    distance = [[0.0 if b == 0 else d for b, d in enumerate(row)] for row in distance]  # the free end
    nodes = [Node(0, 1000), Node(0, 0.001), Node(0, 0.001)] + [Node(0, 500, 5, d) for d in (1, -1, 1, -1)]
    return Problem(
        nodes=nodes,
        pairs=[Pair(3, 4, penalty=1e4), Pair(5, 6, penalty=1e4)],
        distance=distance,
        vehicles=2,
        capacity=1,
        fleet=[Vehicle(start=1, end=0, max_duration=600.0), Vehicle(start=2, end=0)],
        fewest_vehicles_first=False,
    )


def test_pyvrp_plans_what_it_expresses_and_or_tools_the_rest() -> None:
    auto = Search(time_limit_s=0.3)
    lilim, valets = read(LILIM / "lc101.txt"), _valets()
    assert solver.engine_for(lilim, auto) is Engine.PYVRP
    assert solver.engine_for(valets, auto) is Engine.OR_TOOLS  # staff on shift: measured no better on PyVRP
    assert ils.inexpressible(valets) is None and solver.engine_for(valets, Search(engine=Engine.PYVRP)) is Engine.PYVRP
    assert solver.engine_for(lilim, Search(improve=False)) is Engine.OR_TOOLS  # the first-solution baseline
    assert solver.engine_for(lilim, Search(engine=Engine.OR_TOOLS)) is Engine.OR_TOOLS
    under_way = dataclasses.replace(valets, fleet=[Vehicle(start=1, end=0, first=(3,)), valets.vehicle_list[1]])
    by_hand = dataclasses.replace(valets, pairs=[dataclasses.replace(valets.pairs[0], vehicle=1), valets.pairs[1]])
    riders = dataclasses.replace(valets, pairs=[dataclasses.replace(p, max_ride=50.0) for p in valets.pairs])
    quotas = dataclasses.replace(valets, quotas=[Quota((3, 5), 1)])
    early = dataclasses.replace(valets, time_value=1.0)
    for problem, why in (
        (under_way, "stops under way"),
        (by_hand, "pairs bound to one vehicle"),
        (riders, "maximum ride times"),
        (quotas, "quotas over alternative places"),
        (early, "a value of time per stop"),
    ):
        assert ils.inexpressible(problem) == why
        assert solver.engine_for(dataclasses.replace(problem, fewest_vehicles_first=True), auto) is Engine.OR_TOOLS
        with pytest.raises(ValueError, match=why):
            ils.solve(problem, auto)
        assert violations(problem, solver.solve(problem, auto)) == []


def test_pyvrp_plans_valets_from_where_they_are_to_a_free_end() -> None:
    problem = _valets()
    plan = solver.solve(problem, Search(time_limit_s=0.3, engine=Engine.PYVRP))
    assert violations(problem, plan) == [] and plan.unserved == ()
    assert plan.routes == ((3, 4), (5, 6))  # each valet takes the job beside them
    assert plan.distance == pytest.approx(40.0)
    assert plan.times == ((10.0, 25.0), (10.0, 25.0))  # travel, then 5 of service before the next leg


def test_a_pyvrp_search_started_from_a_plan_never_ends_worse() -> None:
    problem = _valets()
    start = [(5, 6), (3, 4)]  # each valet takes the far job
    began = Plan(tuple(start), route_distance(problem, start), 0)
    assert violations(problem, began) == []
    plan = ils.solve(problem, Search(time_limit_s=0.3), start)
    assert violations(problem, plan) == [] and objective(problem, plan) <= objective(problem, began)
    assert violations(problem, ils.solve(problem, Search(time_limit_s=0.3), [[4, 3], []])) == []  # a bad start


def test_pyvrp_answers_within_its_time_limit_with_the_best_plan_so_far() -> None:
    problem = read(LILIM / "lrc105.txt")
    began = time.perf_counter()
    plan = solver.solve(problem, Search(time_limit_s=1.0))
    took = time.perf_counter() - began
    assert violations(problem, plan) == [] and plan.vehicles <= problem.vehicles
    assert took < 2.5  # the limit, and the model's construction; never a search run to its end


@pytest.mark.parametrize("engine", [Engine.OR_TOOLS, Engine.PYVRP])
def test_the_same_seed_and_work_give_the_same_plan(engine: Engine) -> None:
    """A search bounded by its work (iterations; OR-Tools: solutions), not the clock, is reproducible."""
    problem = read(LILIM / "lc205.txt")
    search = Search(time_limit_s=60.0, engine=engine, iterations=300 if engine is Engine.PYVRP else 10)
    first, second = solver.solve(problem, search), solver.solve(problem, search)
    assert (first.routes, first.times) == (second.routes, second.times)
    assert math.isclose(first.distance, second.distance) and violations(problem, first) == []
