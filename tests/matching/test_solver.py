"""The allocation solver: invariants with hypothesis, optimality against brute force on small instances, the
min-cost-flow fast path, the interval cliques, and the time limit that still returns a valid allocation."""

from __future__ import annotations

import itertools
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.instances.matching import generate
from matching.candidates import compatible
from matching.solver import allocate, allocate_in_batches, greedy, maximal_cliques, serve_scale, value
from matching.types import Allocation, Candidate, Interval, Priority, Request, Slot

intervals = st.builds(
    lambda start, length: Interval(start, start + length),
    st.integers(0, 20).map(lambda h: h * 30),
    st.integers(1, 8).map(lambda h: h * 30),
)


@st.composite
def instances(draw: st.DrawFn, max_slots: int = 5, max_requests: int = 7) -> tuple[list[Slot], list[Request]]:
    slots = [
        Slot(
            id=f"s{i}",
            x_m=draw(st.integers(0, 400)),
            y_m=draw(st.integers(0, 400)),
            free=tuple(draw(st.lists(intervals, min_size=1, max_size=2))),
            ev_charger=draw(st.booleans()),
            accessible=draw(st.booleans()),
            size=draw(st.integers(0, 2)),
            price_per_hour_krw=draw(st.sampled_from([0, 600, 1000, 2000])),
        )
        for i in range(draw(st.integers(1, max_slots)))
    ]
    requests = [
        Request(
            id=f"r{i}",
            x_m=draw(st.integers(0, 400)),
            y_m=draw(st.integers(0, 400)),
            interval=draw(intervals),
            max_walk_m=draw(st.sampled_from([150, 300, 600])),
            needs_ev=draw(st.booleans()),
            needs_accessible=draw(st.booleans()),
            vehicle_size=draw(st.integers(0, 2)),
            priority=draw(st.sampled_from(list(Priority))),
        )
        for i in range(draw(st.integers(1, max_requests)))
    ]
    return slots, requests


def assert_valid(slots: list[Slot], requests: list[Request], allocation: Allocation) -> None:
    by_slot = {s.id: s for s in slots}
    by_request = {r.id: r for r in requests}
    seen_requests = [a.request_id for a in allocation.assignments]
    assert len(seen_requests) == len(set(seen_requests)), "a request got two slots"
    used: dict[object, list[Interval]] = defaultdict(list)
    for assignment in allocation.assignments:
        request, slot = by_request[assignment.request_id], by_slot[assignment.slot_id]
        assert compatible(request, slot), "needs or free time violated"
        assert any(w.contains(request.interval) for w in slot.free)
        assert assignment.walk_m <= request.max_walk_m + 1
        for other in used[slot.id]:
            assert not other.overlaps(request.interval), "two bookings overlap on one slot"
        used[slot.id].append(request.interval)


@settings(max_examples=150, deadline=None)
@given(instances(max_slots=8, max_requests=12))
def test_allocations_are_valid(instance: tuple[list[Slot], list[Request]]):
    slots, requests = instance
    assert_valid(slots, requests, allocate(slots, requests, time_limit_s=2))
    assert_valid(slots, requests, greedy(slots, requests))


def brute_force(slots: list[Slot], requests: list[Request]) -> int:
    """The best objective by trying every assignment (each request: nothing, or any feasible slot)."""
    options: dict[object, list[Candidate]] = {}
    for request in requests:
        options[request.id] = [
            Candidate(
                s.id,
                round(((s.x_m - request.x_m) ** 2 + (s.y_m - request.y_m) ** 2) ** 0.5),
                s.price_for(request.interval),
            )
            for s in slots
            if compatible(request, s)
            and ((s.x_m - request.x_m) ** 2 + (s.y_m - request.y_m) ** 2) ** 0.5 <= request.max_walk_m
        ]
    serve = serve_scale({k: tuple(v) for k, v in options.items()})
    best = 0
    for choice in itertools.product(*[[None, *options[r.id]] for r in requests]):
        used: dict[object, list[Interval]] = defaultdict(list)
        total, ok = 0, True
        for request, option in zip(requests, choice, strict=True):
            if option is None:
                continue
            if any(i.overlaps(request.interval) for i in used[option.slot_id]):
                ok = False
                break
            used[option.slot_id].append(request.interval)
            total += value(request, option, serve)
        if ok:
            best = max(best, total)
    return best


@settings(max_examples=120, deadline=None)
@given(instances(max_slots=3, max_requests=5))
def test_optimal_on_small_instances(instance: tuple[list[Slot], list[Request]]):
    slots, requests = instance
    allocation = allocate(slots, requests, time_limit_s=5, k=100)
    assert allocation.status == "OPTIMAL"
    assert allocation.objective == brute_force(slots, requests)
    assert allocation.gap == 0


def test_same_interval_requests_take_the_flow_path():
    """Everybody wants 09:00-18:00: an assignment problem, solved exactly by min-cost flow."""
    slots = [Slot(f"s{i}", x_m=i * 50, y_m=0, free=(Interval(0, 1440),)) for i in range(4)]
    requests = [
        Request(
            f"r{i}",
            x_m=i * 40,
            y_m=10,
            interval=Interval(540, 1080),
            max_walk_m=500,
            priority=Priority.ACCESSIBILITY if i == 4 else Priority.GENERAL,
        )
        for i in range(6)
    ]
    allocation = allocate(slots, requests, time_limit_s=5, k=100)
    assert allocation.flow_components == 1 and allocation.cpsat_components == 0
    assert allocation.status == "OPTIMAL" and len(allocation.assignments) == 4
    assert "r4" in allocation.by_request()  # the accessibility request is among those served
    assert allocation.objective == brute_force(slots, requests)


def test_scarce_supply_serves_more_than_greedy():
    """Greedy gives the early driver the only slot that fits the later, longer request as well; the solver
    rearranges so both are served."""
    slots = [Slot("near", 0, 0, (Interval(0, 600),)), Slot("far", 300, 0, (Interval(0, 240),))]
    requests = [
        Request("early", 0, 0, Interval(60, 180), max_walk_m=400),
        Request("long", 0, 0, Interval(120, 480), max_walk_m=400),
    ]
    assert len(greedy(slots, requests).assignments) == 1
    allocation = allocate(slots, requests, time_limit_s=5)
    assert {(a.request_id, a.slot_id) for a in allocation.assignments} == {("early", "far"), ("long", "near")}


@given(st.lists(intervals, min_size=1, max_size=12))
def test_maximal_cliques(items: list[Interval]):
    cliques = [set(c) for c in maximal_cliques(items)]
    for clique in cliques:
        assert all(items[a].overlaps(items[b]) for a, b in itertools.combinations(clique, 2))
    for a, b in itertools.combinations(range(len(items)), 2):
        if items[a].overlaps(items[b]):
            assert any({a, b} <= c for c in cliques), "an overlapping pair is in no clique"


def test_time_limit_still_returns_a_valid_allocation():
    instance = generate("tight", slots=400, requests=900, side_m=900, seed=5, batch_minutes=None)
    slots, requests = list(instance.slots), list(instance.requests)
    allocation = allocate(slots, requests, time_limit_s=0.01)
    assert_valid(slots, requests, allocation)
    assert allocation.status in {"FEASIBLE", "FALLBACK", "OPTIMAL"}
    assert len(allocation.assignments) >= 0.9 * len(greedy(slots, requests).assignments)


def test_batches_never_double_book_across_batches():
    instance = generate("batched", slots=60, requests=200, side_m=600, seed=9, batch_minutes=60)
    slots, requests = list(instance.slots), list(instance.requests)
    results = allocate_in_batches(slots, requests, batch_minutes=60, time_limit_s=1)
    combined = Allocation(
        assignments=tuple(a for _, alloc in results for a in alloc.assignments),
        candidates={},
        status="OPTIMAL",
        objective=0,
        bound=0,
        solve_s=0,
        components=0,
        flow_components=0,
        cpsat_components=0,
    )
    assert_valid(slots, requests, combined)
