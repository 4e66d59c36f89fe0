"""The PDPTW solver: plans obey every constraint (checked in real numbers), tiny instances match brute force, a
published Li & Lim instance is solved feasibly, and the checker itself catches each kind of violation."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.lilim import FormatError, read
from routing.pdptw import Infeasible, Search, route_distance, solve, violations
from routing.types import Node, Pair, Plan, Problem

LILIM = Path(__file__).resolve().parents[2] / "bench" / "lilim"


def _problem(seed: int, pairs: int, vehicles: int, *, capacity: int = 10, width: float = 400) -> Problem:
    """Random pickups and deliveries on a 100 x 100 square, depot in the middle, windows `width` wide."""
    rng = random.Random(seed)
    points = [(50.0, 50.0)]
    nodes = [Node(0, 1000)]
    tasks = []
    for n in range(pairs):
        load = rng.randint(1, capacity)
        start = rng.uniform(0, 600 - width / 2)
        points += [(rng.uniform(0, 100), rng.uniform(0, 100)), (rng.uniform(0, 100), rng.uniform(0, 100))]
        nodes += [Node(start, start + width, 5, load), Node(start, start + width + 200, 5, -load)]
        tasks.append(Pair(1 + 2 * n, 2 + 2 * n))
    distance = [[math.dist(a, b) for b in points] for a in points]
    return Problem(nodes=nodes, pairs=tasks, distance=distance, vehicles=vehicles, capacity=capacity)


def _brute_force(problem: Problem) -> tuple[int, float] | None:
    """Fewest vehicles, then least distance, over every split of the pairs among vehicles and every order."""
    best: tuple[int, float] | None = None
    count = len(problem.pairs)
    for owners in itertools.product(range(problem.vehicles), repeat=count):
        routes = []
        for vehicle in range(problem.vehicles):
            mine = [pair for pair, owner in zip(problem.pairs, owners, strict=True) if owner == vehicle]
            nodes = [node for pair in mine for node in (pair.pickup, pair.delivery)]
            orders = [
                order
                for order in itertools.permutations(nodes)
                if all(order.index(pair.pickup) < order.index(pair.delivery) for pair in mine)
            ]
            routes.append(orders or [()])
        for choice in itertools.product(*routes):
            used = tuple(route for route in choice if route)
            plan = Plan(used, route_distance(problem, used), 0)
            if violations(problem, plan):
                continue
            value = (plan.vehicles, plan.distance)
            if best is None or value < best:
                best = value
    return best


def _width(seed: int) -> float:
    """Wide and tight windows alike, so some tiny instances need the second vehicle or cannot be served."""
    return [40.0, 120.0, 400.0][seed % 3]


@pytest.mark.parametrize("seed", range(12))
def test_tiny_instances_match_brute_force(seed: int) -> None:
    problem = _problem(seed, pairs=3, vehicles=2, width=_width(seed))
    best = _brute_force(problem)
    if best is None:
        with pytest.raises(Infeasible):
            solve(problem, Search(time_limit_s=0.5))
        return
    plan = solve(problem, Search(time_limit_s=0.5))
    assert violations(problem, plan) == []
    assert plan.vehicles == best[0]
    assert plan.distance == pytest.approx(best[1], abs=0.01)  # arcs are rounded to 1/1000 in the model


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    pairs=st.integers(1, 12),
    vehicles=st.integers(1, 6),
    capacity=st.integers(10, 30),
    large_neighbourhoods=st.booleans(),
)
def test_every_plan_keeps_every_constraint(
    seed: int, pairs: int, vehicles: int, capacity: int, large_neighbourhoods: bool
) -> None:
    problem = _problem(seed, pairs=pairs, vehicles=vehicles, capacity=capacity)
    try:
        plan = solve(problem, Search(time_limit_s=0.3, large_neighbourhoods=large_neighbourhoods))
    except Infeasible:
        return
    assert violations(problem, plan) == []
    assert plan.distance == pytest.approx(route_distance(problem, plan.routes))


def test_a_published_li_lim_instance_is_solved_within_its_fleet() -> None:
    problem = read(LILIM / "lc101.txt")
    assert (len(problem.nodes), len(problem.pairs), problem.vehicles, problem.capacity) == (107, 53, 25, 200)
    plan = solve(problem, Search(time_limit_s=1.0))
    assert violations(problem, plan) == []
    assert plan.vehicles <= problem.vehicles


def test_the_checker_names_each_broken_constraint() -> None:
    problem = _problem(1, pairs=2, vehicles=1, capacity=10)
    (a, b), (c, d) = [(pair.pickup, pair.delivery) for pair in problem.pairs]
    assert any("before delivery" in v for v in violations(problem, Plan(((b, a, c, d),), 0, 0)))
    assert any("exactly once" in v for v in violations(problem, Plan(((a, b),), 0, 0)))
    assert any("vehicles used" in v for v in violations(problem, Plan(((a, b), (c, d)), 0, 0)))
    heavy = Problem(
        nodes=[problem.nodes[0], Node(0, 1000, 0, 8), Node(0, 1000, 0, -8), Node(0, 1000, 0, 8), Node(0, 1000, 0, -8)],
        pairs=problem.pairs,
        distance=problem.distance,
        vehicles=1,
        capacity=10,
    )
    assert any("capacity" in v for v in violations(heavy, Plan(((a, c, b, d),), 0, 0)))
    late = Problem(
        nodes=[problem.nodes[0], Node(0, 0.5, 0, 1), *problem.nodes[2:]],
        pairs=problem.pairs,
        distance=problem.distance,
        vehicles=1,
        capacity=10,
    )
    assert any("after its window closes" in v for v in violations(late, Plan(((a, b, c, d),), 0, 0)))


def test_every_shared_instance_reads_with_travel_time_equal_to_distance() -> None:
    for path in sorted(LILIM.glob("*.txt")):  # lc105 and lc205 say speed 0 in their header, unused by the benchmark
        problem = read(path)
        assert problem.travel_time(0, 1) == problem.distance[0][1], path.name


def test_a_malformed_instance_file_is_refused_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_text("25\t200\t1\n0\t40\t50\t0\t0\t1236\t0\t0\n")
    with pytest.raises(FormatError, match="broken.txt:2"):
        read(broken)
