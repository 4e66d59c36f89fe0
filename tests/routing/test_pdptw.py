"""The PDPTW solvers: plans obey every constraint (checked in real numbers), tiny instances match brute force (with
each engine that expresses them: OR-Tools always, PyVRP where `routing.ils` can), a published Li & Lim instance is
solved feasibly, and the checker itself catches each kind of violation. Tests that name no engine run OR-Tools'
model directly (`routing.pdptw.solve`): what only it expresses."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.lilim import FormatError, read, renumbered
from routing import solver
from routing.pdptw import Engine, Infeasible, Search, objective, route_distance, solve, violations
from routing.types import Node, Pair, Plan, Problem, Quota, Vehicle

LILIM = Path(__file__).resolve().parents[2] / "bench" / "lilim"
ENGINES = [Engine.OR_TOOLS, Engine.PYVRP]


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
    """The best over every split of the pairs among the vehicles and every order: fewest vehicles then least distance,
    or least distance alone when the problem does not rank vehicles first."""
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
            plan = Plan(tuple(choice), route_distance(problem, choice), 0)
            if violations(problem, plan):
                continue
            value = (plan.vehicles if problem.fewest_vehicles_first else 0, plan.distance)
            if best is None or value < best:
                best = value
    return best


def _staff(seed: int, pairs: int, staff: int, *, optional: bool, limits: bool = True, width: float = 300) -> Problem:
    """Staff who start where they are (own start nodes) and end at a common base, shifts of different lengths; with
    `limits`, riders' maximum ride times (twice the direct time) and some maximum route durations; with `optional`,
    pairs that may be refused."""
    rng = random.Random(seed)
    points = [(50.0, 50.0)] + [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(staff)]
    nodes = [Node(0, 1000)] + [Node(0, rng.uniform(400, 1000)) for _ in range(staff)]
    fleet = [
        Vehicle(start=1 + s, end=0, max_duration=rng.choice([None, 500.0]) if limits else None) for s in range(staff)
    ]
    tasks = []
    for _ in range(pairs):
        pickup, delivery = (rng.uniform(0, 100), rng.uniform(0, 100)), (rng.uniform(0, 100), rng.uniform(0, 100))
        start = rng.uniform(0, 500)
        points += [pickup, delivery]
        nodes += [Node(start, start + width, 2, 1), Node(start, start + width + 100, 2, -1)]
        n = len(nodes)
        direct = math.dist(pickup, delivery)
        ride = 2 * direct + 5 if limits else None
        tasks.append(Pair(n - 2, n - 1, penalty=500.0 if optional else None, max_ride=ride))
    distance = [[math.dist(a, b) for b in points] for a in points]
    return Problem(
        nodes=nodes,
        pairs=tasks,
        distance=distance,
        vehicles=staff,
        capacity=2,
        fleet=fleet,
        fewest_vehicles_first=False,
    )


def _width(seed: int) -> float:
    """Wide and tight windows alike, so some tiny instances need the second vehicle or cannot be served."""
    return [40.0, 120.0, 400.0][seed % 3]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", range(12))
def test_tiny_instances_match_brute_force(seed: int, engine: Engine) -> None:
    _assert_matches_brute_force(_problem(seed, pairs=3, vehicles=2, width=_width(seed)), engine)


def _assert_matches_brute_force(problem: Problem, engine: Engine) -> None:
    best = _brute_force(problem)
    search = Search(time_limit_s=0.5, engine=engine)
    if best is None:
        with pytest.raises(Infeasible):
            solver.solve(problem, search)
        return
    plan = solver.solve(problem, search)
    assert violations(problem, plan) == []
    assert (plan.vehicles if problem.fewest_vehicles_first else 0) == best[0]
    assert plan.distance == pytest.approx(best[1], abs=0.01)  # arcs are rounded to 1/1000 in the model


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    pairs=st.integers(1, 12),
    vehicles=st.integers(1, 6),
    capacity=st.integers(10, 30),
    large_neighbourhoods=st.booleans(),
    engine=st.sampled_from(ENGINES),
)
def test_every_plan_keeps_every_constraint(
    seed: int, pairs: int, vehicles: int, capacity: int, large_neighbourhoods: bool, engine: Engine
) -> None:
    problem = _problem(seed, pairs=pairs, vehicles=vehicles, capacity=capacity)
    try:
        plan = solver.solve(problem, Search(0.3, large_neighbourhoods=large_neighbourhoods, engine=engine))
    except Infeasible:
        return
    assert violations(problem, plan) == []
    assert plan.distance == pytest.approx(route_distance(problem, plan.routes))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_published_li_lim_instance_is_solved_within_its_fleet(engine: Engine) -> None:
    problem = read(LILIM / "lc101.txt")
    assert (len(problem.nodes), len(problem.pairs), problem.vehicles, problem.capacity) == (107, 53, 25, 200)
    plan = solver.solve(problem, Search(time_limit_s=1.0, engine=engine))
    assert violations(problem, plan) == []
    assert plan.vehicles <= problem.vehicles


def test_a_renumbered_instance_is_the_same_instance() -> None:
    """The benchmark's renumberings: a plan of the original, renamed, keeps its distance and feasibility in the copy;
    the copy's tasks are the original's in another order (depot first), and it is solved within its fleet."""
    problem = read(LILIM / "lc101.txt")
    copy = renumbered(problem, 7)
    assert copy.nodes[0] == problem.nodes[0] and sorted(map(repr, copy.nodes)) == sorted(map(repr, problem.nodes))
    assert [pair.pickup for pair in copy.pairs] != sorted(pair.pickup for pair in copy.pairs)  # renumbered, shuffled
    old_of = {copy.nodes.index(node): old for old, node in enumerate(problem.nodes)}  # the nodes' windows differ
    assert sorted((old_of[p.pickup], old_of[p.delivery]) for p in copy.pairs) == sorted(
        (p.pickup, p.delivery) for p in problem.pairs
    )
    plan = solve(problem, Search(time_limit_s=0.5))
    new_of = {old: new for new, old in old_of.items()}
    routes = tuple(tuple(new_of[node] for node in route) for route in plan.routes)
    assert route_distance(copy, routes) == pytest.approx(plan.distance)
    assert violations(copy, Plan(routes, plan.distance, 0)) == []
    assert violations(copy, solve(copy, Search(time_limit_s=0.5))) == []
    assert renumbered(problem, 7) == copy != renumbered(problem, 8)  # seeded


def test_the_checker_names_each_broken_constraint() -> None:
    problem = _problem(1, pairs=2, vehicles=1, capacity=10)
    (a, b), (c, d) = [(pair.pickup, pair.delivery) for pair in problem.pairs]
    assert any("before delivery" in v for v in violations(problem, Plan(((b, a, c, d),), 0, 0)))
    assert any("not listed unserved" in v for v in violations(problem, Plan(((a, b),), 0, 0)))
    assert any("must be served" in v for v in violations(problem, Plan(((a, b),), 0, 0, unserved=(1,))))
    assert any("more than once" in v for v in violations(problem, Plan(((a, b, a, b, c, d),), 0, 0)))
    assert any("not tasks" in v for v in violations(problem, Plan(((a, b, c, d, 0),), 0, 0)))
    assert any("routes for 1 vehicles" in v for v in violations(problem, Plan(((a, b), (c, d)), 0, 0)))
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
    assert any("outside its window" in v for v in violations(late, Plan(((a, b, c, d),), 0, 0)))
    early = Plan(((a, b, c, d),), 0, 0, times=((0.0, 0.0, 0.0, 0.0),))
    assert any("before it can get there" in v for v in violations(problem, early))
    untimed = Plan(((a, b), (c, d)), 0, 0, times=((0.0, 0.0),))
    assert any("has 2 stops and 0 times" in v for v in violations(dataclasses.replace(problem, vehicles=2), untimed))


def test_every_shared_instance_reads_with_travel_time_equal_to_distance() -> None:
    for path in sorted(LILIM.glob("*.txt")):  # lc105 and lc205 say speed 0 in their header, unused by the benchmark
        problem = read(path)
        assert problem.travel_time(0, 1) == problem.distance[0][1], path.name


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("25\t200\t1\n0\t40\t50\t0\t0\t1236\t0\t0\n", "broken.txt:2"),  # 8 columns
        ("25\t200\t1\n0\t40\tfifty\t0\t0\t1236\t0\t0\t0\n", "broken.txt:2"),  # a word for a number
        ("25\t200\t1\n0\t40\tnan\t0\t0\t1236\t0\t0\t0\n", "broken.txt:2"),
        ("many\t200\t1\n0\t40\t50\t0\t0\t1236\t0\t0\t0\n", "broken.txt: the first line"),
        ("25\t200\t1\n0\t40\t50\t0\t0\t1236\t0\t0\t0\n1\t45\t68\t10\t0\t1127\t90\t0\t7\n", "delivery"),
    ],
)
def test_a_malformed_instance_file_is_refused_with_its_line(tmp_path: Path, text: str, where: str) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_text(text)
    with pytest.raises(FormatError, match=where):
        read(broken)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", range(6))
def test_staff_starting_where_they_are_match_brute_force(seed: int, engine: Engine) -> None:
    """Without ride and duration limits, so the brute force's earliest schedule decides feasibility exactly."""
    _assert_matches_brute_force(
        _staff(seed, pairs=3, staff=2, optional=False, limits=False, width=[60.0, 300.0][seed % 2]), engine
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(seed=st.integers(0, 10**6), pairs=st.integers(1, 10), staff=st.integers(1, 3), lock=st.booleans())
def test_every_staff_plan_keeps_every_constraint(seed: int, pairs: int, staff: int, lock: bool) -> None:
    """Own starts, shifts, maximum durations and ride times, refusable pairs, and a first stop under way."""
    problem = _staff(seed, pairs=pairs, staff=staff, optional=True)
    if lock:  # staff 0 is already on the way to the first pair's pickup
        first = problem.pairs[0]
        problem = dataclasses.replace(
            problem,
            pairs=[dataclasses.replace(first, penalty=None), *problem.pairs[1:]],
            fleet=[dataclasses.replace(problem.vehicle_list[0], first=(first.pickup,)), *problem.vehicle_list[1:]],
        )
    try:
        plan = solve(problem, Search(time_limit_s=0.3))
    except Infeasible:
        assert lock  # only a forced first stop can make a problem whose pairs may all be refused infeasible
        return
    assert violations(problem, plan) == []
    assert len(plan.routes) == staff and all(len(t) == len(r) for t, r in zip(plan.times, plan.routes, strict=True))
    if lock:
        assert plan.routes[0][0] == problem.pairs[0].pickup


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(seed=st.integers(0, 10**6), pairs=st.integers(1, 10), staff=st.integers(1, 3))
def test_every_staff_plan_of_pyvrp_keeps_every_constraint(seed: int, pairs: int, staff: int) -> None:
    """What PyVRP expresses of the staff's problems: own starts, shifts, maximum durations, refusable pairs."""
    problem = _without_ride_limits(_staff(seed, pairs=pairs, staff=staff, optional=True))
    plan = solver.solve(problem, Search(time_limit_s=0.3, engine=Engine.PYVRP))
    assert violations(problem, plan) == []
    assert len(plan.routes) == staff and all(len(t) == len(r) for t, r in zip(plan.times, plan.routes, strict=True))


def _without_ride_limits(problem: Problem) -> Problem:
    return dataclasses.replace(problem, pairs=[dataclasses.replace(pair, max_ride=None) for pair in problem.pairs])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pair_that_cannot_be_served_is_refused_and_listed(engine: Engine) -> None:
    problem = _without_ride_limits(_staff(3, pairs=2, staff=1, optional=True))
    far = Node(5000, 5001, 0, 1)  # opens after every shift has ended
    nodes = list(problem.nodes)
    nodes[problem.pairs[1].pickup] = far
    plan = solver.solve(dataclasses.replace(problem, nodes=nodes), Search(time_limit_s=0.3, engine=engine))
    assert plan.unserved == (1,)
    assert violations(dataclasses.replace(problem, nodes=nodes), plan) == []


def test_a_rider_is_not_carried_past_their_maximum_ride_time() -> None:
    """Two riders from the same place to places 50 apart in opposite directions: one van can take both in one trip
    only by making one of them ride 150 (out to one end, back and out to the other) instead of 50."""
    points = [(0.0, 0.0), (0.0, 0.0), (50.0, 0.0), (0.0, 0.0), (-50.0, 0.0)]
    distance = [[math.dist(a, b) for b in points] for a in points]
    nodes = [Node(0, 1000), Node(0, 1000, 0, 1), Node(0, 1000, 0, -1), Node(0, 1000, 0, 1), Node(0, 1000, 0, -1)]
    pairs = [Pair(1, 2, max_ride=60), Pair(3, 4, max_ride=60)]
    problem = Problem(nodes=nodes, pairs=pairs, distance=distance, vehicles=1, capacity=2, fewest_vehicles_first=False)
    plan = solve(problem, Search(time_limit_s=0.3))
    assert violations(problem, plan) == []
    assert plan.routes == ((1, 2, 3, 4),) or plan.routes == ((3, 4, 1, 2),)  # never both on board at once
    relaxed = dataclasses.replace(problem, pairs=[Pair(1, 2), Pair(3, 4)])
    assert any("rides 150" in v for v in violations(problem, Plan(((1, 3, 2, 4),), 0, 0)))
    assert violations(relaxed, Plan(((1, 3, 2, 4),), 0, 0)) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_unreachable_places_are_never_travelled_between(engine: Engine) -> None:
    """A routing engine says a pair of places has no route (infinite time): the plan goes around it."""
    problem = _problem(2, pairs=2, vehicles=2, width=800)
    (a, b), (c, d) = [(pair.pickup, pair.delivery) for pair in problem.pairs]
    time = [list(row) for row in problem.distance]
    for x, y in ((b, c), (d, a)):
        time[x][y] = time[y][x] = math.inf
    blocked = dataclasses.replace(problem, time=time)
    plan = solver.solve(blocked, Search(time_limit_s=0.3, engine=engine))
    assert violations(blocked, plan) == []
    steps = {(x, y) for route in plan.routes for x, y in zip(route, route[1:], strict=False)}
    assert not steps & {(b, c), (c, b), (d, a), (a, d)}


def test_what_a_vehicle_carries_is_delivered_by_it_and_fills_it() -> None:
    """Van 0 carries a rider to node 5; two riders wait at nodes 1 and 3 beside van 0. With two seats van 0 cannot
    take both waiting riders before dropping its own, and nobody else may deliver its rider."""
    points = [(0.0, 0.0), (0.0, 0.0), (10.0, 0.0), (0.0, 0.0), (10.0, 0.0), (5.0, 5.0), (100.0, 100.0)]
    distance = [[math.dist(a, b) for b in points] for a in points]
    nodes = [Node(0, 1000)] + [Node(0, 1000, 0, d) for d in (1, -1, 1, -1, -1)] + [Node(0, 1000)]
    fleet = [Vehicle(start=0, end=0, on_board=(5,)), Vehicle(start=6, end=6)]
    problem = Problem(
        nodes=nodes,
        pairs=[Pair(1, 2), Pair(3, 4)],
        distance=distance,
        vehicles=2,
        capacity=2,
        fleet=fleet,
        fewest_vehicles_first=False,
    )
    plan = solve(problem, Search(time_limit_s=0.3))
    assert violations(problem, plan) == []
    assert 5 in plan.routes[0]
    assert any("does not deliver what it carries" in v for v in violations(problem, Plan(((1, 2, 3, 4), (5,)), 0, 0)))
    assert any("does not deliver what it carries" in v for v in violations(problem, Plan((), 0, 0)))
    assert any("carries 3" in v for v in violations(problem, Plan(((1, 3, 5, 2, 4), ()), 0, 0)))


@pytest.mark.parametrize("optional", [False, True])
def test_a_pair_bound_to_a_vehicle_is_served_by_it_or_not_at_all(optional: bool) -> None:
    """Vehicle 1 starts far away; left free, the pair would go to vehicle 0 beside it. Bound to vehicle 1 (an
    operator's assignment by hand) it is served by vehicle 1, or refused when its window is out of vehicle 1's reach."""
    points = [(0.0, 0.0), (200.0, 0.0), (1.0, 0.0), (2.0, 0.0)]
    distance = [[math.dist(a, b) for b in points] for a in points]
    nodes = [Node(0, 1000), Node(0, 1000), Node(0, 1000, 0, 1), Node(0, 1000, 0, -1)]
    penalty = 10_000.0 if optional else None
    problem = Problem(
        nodes=nodes,
        pairs=[Pair(2, 3, penalty=penalty, vehicle=1)],
        distance=distance,
        vehicles=2,
        capacity=1,
        fleet=[Vehicle(start=0, end=0), Vehicle(start=1, end=1)],
        fewest_vehicles_first=False,
    )
    plan = solve(problem, Search(time_limit_s=0.3))
    assert plan.routes == ((), (2, 3)) and violations(problem, plan) == []
    assert any("served by vehicle 0, not 1" in v for v in violations(problem, Plan(((2, 3), ()), 0, 0)))
    if optional:  # vehicle 1 cannot reach the pickup before 100; vehicle 0 could, but may not
        tight = dataclasses.replace(problem, nodes=[*nodes[:2], Node(0, 100, 0, 1), nodes[3]])
        refused = solve(tight, Search(time_limit_s=0.3))
        assert refused.unserved == (0,) and violations(tight, refused) == []


def _line_problem(quota_count: int, penalty: float, supply: int) -> Problem:
    """One vehicle at 0 on a line, back to 0 at the end; loads at 10 and 20 may each be taken to 30 or 40 (a quota of
    one per load), `quota_count` deliveries at 30 are wanted (each one short costs `penalty`), none at 40; swaps at
    5 and 15 are worth 50 each and use the vehicle's supply."""
    xs = [0.0, 0.0, 10, 30, 10, 40, 20, 30, 20, 40, 5, 15]
    distance = [[abs(a - b) for b in xs] for a in xs]
    nodes = [Node(0, 1000), Node(0, 0)] + [Node(0, 1000, 0, d) for d in (1, -1, 1, -1, 1, -1, 1, -1)]
    nodes += [Node(0, 1000, 0, 0, uses=1)] * 2
    fleet = [Vehicle(start=1, end=0, supply=supply)]
    return Problem(
        nodes=nodes,
        pairs=[Pair(2, 3), Pair(4, 5), Pair(6, 7), Pair(8, 9)],
        distance=distance,
        vehicles=1,
        capacity=2,
        fleet=fleet,
        fewest_vehicles_first=False,
        quotas=[
            Quota((2, 4), 1),
            Quota((6, 8), 1),
            Quota((3, 7), quota_count, penalty),
            Quota((5, 9), 2),  # delivering at 40 is allowed and worth nothing
            Quota((10,), 1, 50),
            Quota((11,), 1, 50),
        ],
    )


@pytest.mark.parametrize(
    ("quota_count", "penalty", "supply"), [(2, 100.0, 2), (1, 100.0, 1), (2, 5.0, 0), (2, 100.0, 0)]
)
def test_quotas_cap_visits_and_price_what_is_short_and_supply_caps_uses(
    quota_count: int, penalty: float, supply: int
) -> None:
    problem = _line_problem(quota_count, penalty, supply)
    plan = solve(problem, Search(time_limit_s=0.5))
    assert violations(problem, plan) == []
    visited = {node for route in plan.routes for node in route}
    delivered_to_30 = len(visited & {3, 7})
    assert delivered_to_30 <= quota_count and len(visited & {10, 11}) <= supply
    if penalty > 40:  # a delivery to 30 costs at most 40 of way: worth it while the quota is short
        assert delivered_to_30 == quota_count
    else:
        assert delivered_to_30 == 0
    assert len(visited & {10, 11}) == supply  # each swap is worth 50, more than its way


def _unserved(problem: Problem, route: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(p for p, pair in enumerate(problem.pairs) if pair.pickup not in route)


def test_a_search_started_from_a_plan_never_ends_worse_and_a_bad_start_is_ignored() -> None:
    problem = _line_problem(2, 100.0, 2)
    start = [[10, 2, 3]]  # a swap, then 10 -> 30
    began = Plan((tuple(start[0]),), route_distance(problem, start), 0, unserved=(1, 2, 3))
    assert violations(problem, began) == []
    plan = solve(problem, Search(time_limit_s=0.3), initial=start)
    assert violations(problem, plan) == [] and objective(problem, plan) <= objective(problem, began)
    broken = solve(problem, Search(time_limit_s=0.3), initial=[[3, 2]])  # delivery before pickup
    assert violations(problem, broken) == []


def test_the_checker_names_a_quota_exceeded_a_supply_overused_and_a_load_left_on_board() -> None:
    problem = _line_problem(1, 100.0, 1)
    assert any("at most 1" in v for v in violations(problem, Plan(((2, 3, 6, 7),), 0, 0, unserved=(1, 3))))
    assert any("supply" in v for v in violations(problem, Plan(((10, 11),), 0, 0, unserved=(0, 1, 2, 3))))
    assert any("ends carrying 1" in v for v in violations(problem, Plan(((2,),), 0, 0, unserved=(1, 2, 3))))
