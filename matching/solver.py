"""Allocation of parking requests to shared slots (OR-Tools). Pure: dataclasses in, dataclasses out.

Objective (integer units, maximised), per served request r on slot s:
    value(r, s) = weight(r) * SERVE - cost(r, s),   cost(r, s) = walk_m(r, s) + price_krw(r, s) // PRICE_PER_METRE
where weight is the priority class (general 1, resident 2, accessibility 3) and SERVE, per batch, is one more
than the largest cost of any candidate in it: serving a request always outweighs the cost of any one assignment, so
the solver serves as much priority weight as it can, then minimises walking, with 100 KRW weighing as one metre.

The batch is split into independent components of the request-slot candidate graph. A component where every slot's
candidate requests either all overlap each other (the slot serves at most one) or are pairwise disjoint (it can serve
them all) is an assignment problem: solved exactly by min-cost flow. Other components go to CP-SAT (optional interval
per candidate, NoOverlap per slot), hinted with the greedy solution and bounded in time; without a solution in time a
component keeps its greedy solution, so a batch always returns an allocation.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from matching.candidates import SlotIndex, candidates, compatible
from matching.types import Allocation, Assignment, Candidate, Interval, Pricer, Request, Slot

PRICE_PER_METRE = 100  # KRW of price weighing as much as one metre of walking
DEFAULT_K = 8


@dataclass(frozen=True, slots=True)
class Component:
    requests: tuple[Request, ...]
    options: dict[Hashable, tuple[Candidate, ...]]  # request id -> candidates
    serve: int  # the batch's SERVE scale
    greedy: dict[Hashable, Candidate]  # request id -> the greedy baseline's choice: feasible here, hint and fallback


@dataclass(frozen=True, slots=True)
class ComponentResult:
    assignments: tuple[Assignment, ...]
    objective: int
    bound: int
    method: str  # flow | cpsat | greedy
    optimal: bool


def serve_scale(options: dict[Hashable, tuple[Candidate, ...]]) -> int:
    return 1 + max((_cost(c) for opts in options.values() for c in opts), default=0)


def _components(
    requests: Sequence[Request],
    options: dict[Hashable, tuple[Candidate, ...]],
    greedy: dict[Hashable, Candidate],
) -> list[Component]:
    """Independent sub-problems. Two requests interact only if they share a candidate slot at overlapping times;
    requests that are not connected through such conflicts can be solved apart (a morning and an evening request
    on the same slot never compete)."""
    parent: dict[Hashable, Hashable] = {r.id: r.id for r in requests}

    def find(node: Hashable) -> Hashable:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    wanting: dict[Hashable, list[Request]] = defaultdict(list)
    for request in requests:
        for option in options[request.id]:
            wanting[option.slot_id].append(request)
    for group in wanting.values():
        group.sort(key=lambda r: r.interval.start)
        reaching = group[0]  # the request reaching furthest among those seen
        for request in group[1:]:
            if request.interval.start < reaching.interval.end:  # overlaps `reaching`: same component
                parent[find(request.id)] = find(reaching.id)
            if request.interval.end > reaching.interval.end:
                reaching = request
    groups: dict[Hashable, list[Request]] = defaultdict(list)
    for request in requests:
        if options[request.id]:
            groups[find(request.id)].append(request)
    serve = serve_scale(options)
    return [
        Component(
            tuple(group),
            {r.id: options[r.id] for r in group},
            serve,
            {r.id: greedy[r.id] for r in group if r.id in greedy},
        )
        for group in groups.values()
    ]


def _cost(option: Candidate) -> int:
    return option.walk_m + option.price_krw // PRICE_PER_METRE


def value(request: Request, option: Candidate, serve: int) -> int:
    """The objective's worth of serving `request` with `option` (module docstring)."""
    return int(request.priority) * serve - _cost(option)


def _slot_demand(component: Component) -> dict[Hashable, list[Request]]:
    demand: dict[Hashable, list[Request]] = defaultdict(list)
    for request in component.requests:
        for option in component.options[request.id]:
            demand[option.slot_id].append(request)
    return demand


def _flow_capacities(component: Component) -> dict[Hashable, int] | None:
    """Slot capacities if the component is an assignment problem, else None (it needs CP-SAT)."""
    capacities = {}
    for slot_id, wanting in _slot_demand(component).items():
        intervals = sorted((r.interval for r in wanting), key=lambda i: i.start)
        if max(i.start for i in intervals) < min(i.end for i in intervals):
            capacities[slot_id] = 1  # all overlap: one at a time
        elif all(a.end <= b.start for a, b in zip(intervals, intervals[1:], strict=False)):
            capacities[slot_id] = len(intervals)  # pairwise disjoint: all fit
        else:
            return None
    return capacities


def _solve_flow(component: Component, capacities: dict[Hashable, int]) -> ComponentResult:
    serve = component.serve
    values = {(r.id, o.slot_id): value(r, o, serve) for r in component.requests for o in component.options[r.id]}
    shift = max(values.values()) + 1  # costs = shift - value >= 1; an unserved request costs `shift`
    requests = list(component.requests)
    slot_ids = list(capacities)
    source, sink = 0, 1 + len(requests) + len(slot_ids)
    request_node = {r.id: 1 + i for i, r in enumerate(requests)}
    slot_node = {s: 1 + len(requests) + i for i, s in enumerate(slot_ids)}
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = {}
    for request in requests:
        node = request_node[request.id]
        flow.add_arc_with_capacity_and_unit_cost(source, node, 1, 0)
        flow.add_arc_with_capacity_and_unit_cost(node, sink, 1, shift)  # unserved
        for option in component.options[request.id]:
            cost = shift - values[(request.id, option.slot_id)]
            arcs[flow.add_arc_with_capacity_and_unit_cost(node, slot_node[option.slot_id], 1, cost)] = (request, option)
    for slot_id, node in slot_node.items():
        flow.add_arc_with_capacity_and_unit_cost(node, sink, capacities[slot_id], 0)
    flow.set_node_supply(source, len(requests))
    flow.set_node_supply(sink, -len(requests))
    if flow.solve() != flow.OPTIMAL:
        raise RuntimeError("min-cost flow found no optimum")
    chosen = [(r, o) for arc, (r, o) in arcs.items() if flow.flow(arc) > 0]
    assignments = tuple(Assignment(r.id, o.slot_id, o.walk_m, o.price_krw) for r, o in chosen)
    objective = sum(values[(r.id, o.slot_id)] for r, o in chosen)
    return ComponentResult(assignments, objective, objective, "flow", True)


def maximal_cliques(intervals: Sequence[Interval]) -> list[list[int]]:
    """Indices of the maximal sets of pairwise-overlapping intervals (an interval graph's maximal cliques), by a
    sweep: a clique is complete when the next event after a run of starts is an end."""
    events = sorted(
        [(i.start, 1, n) for n, i in enumerate(intervals)] + [(i.end, 0, n) for n, i in enumerate(intervals)]
    )  # at equal times ends (0) come before starts (1): half-open intervals that touch do not overlap
    active: set[int] = set()
    cliques = []
    for position, (_, is_start, n) in enumerate(events):
        if is_start:
            active.add(n)
            following = events[position + 1] if position + 1 < len(events) else None
            if following is None or not following[1]:
                if len(active) > 1:
                    cliques.append(sorted(active))
        else:
            active.discard(n)
    return cliques


def _solve_cpsat(component: Component, time_limit_s: float, workers: int) -> ComponentResult:
    serve = component.serve
    model = cp_model.CpModel()
    picks: dict[tuple[Hashable, Hashable], cp_model.IntVar] = {}
    per_slot: dict[Hashable, list[tuple[Interval, cp_model.IntVar]]] = defaultdict(list)
    objective = []
    for request in component.requests:
        chosen_here = []
        for option in component.options[request.id]:
            pick = model.new_bool_var("")
            picks[(request.id, option.slot_id)] = pick
            chosen_here.append(pick)
            per_slot[option.slot_id].append((request.interval, pick))
            objective.append(value(request, option, serve) * pick)
        model.add_at_most_one(chosen_here)
    for uses in per_slot.values():
        if len(uses) < 2:
            continue
        # each candidate is an optional interval on its slot; a slot's intervals never overlap
        model.add_no_overlap(
            model.new_optional_fixed_size_interval_var(interval.start, interval.minutes, pick, "")
            for interval, pick in uses
        )
        # the same rule as cliques of the interval graph: redundant, but a much tighter LP relaxation
        for clique in maximal_cliques([interval for interval, _ in uses]):
            model.add_at_most_one(uses[n][1] for n in clique)
    model.maximize(sum(objective))
    greedy = [(r, component.greedy[r.id]) for r in component.requests if r.id in component.greedy]
    hinted = {(r.id, o.slot_id) for r, o in greedy}
    for key, pick in picks.items():
        model.add_hint(pick, key in hinted)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit_s, 0.01)
    solver.parameters.num_workers = workers
    # the model is already tight (cliques); measured: presolve costs more time than it saves at batch sizes here
    solver.parameters.cp_model_presolve = False
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _greedy_result(component, greedy)
    options = {(r.id, o.slot_id): (r, o) for r in component.requests for o in component.options[r.id]}
    chosen = [options[key] for key, pick in picks.items() if solver.value(pick)]
    assignments = tuple(Assignment(r.id, o.slot_id, o.walk_m, o.price_krw) for r, o in chosen)
    found = round(solver.objective_value)
    bound = max(round(solver.best_objective_bound), found)
    return ComponentResult(assignments, found, bound, "cpsat", status == cp_model.OPTIMAL)


def _greedy_result(component: Component, chosen: list[tuple[Request, Candidate]]) -> ComponentResult:
    serve = component.serve
    found = sum(value(r, o, serve) for r, o in chosen)
    upper = sum(int(r.priority) * serve for r in component.requests)  # every request served at no cost
    assignments = tuple(Assignment(r.id, o.slot_id, o.walk_m, o.price_krw) for r, o in chosen)
    return ComponentResult(assignments, found, upper, "greedy", False)


def allocate_in_batches(
    slots: Sequence[Slot],
    requests: Sequence[Request],
    *,
    batch_minutes: int | None,
    time_limit_s: float,
    **options: Any,
) -> list[tuple[list[Request], Allocation]]:
    """Match requests batch by batch, grouped by start time (`batch_minutes`; None: one batch), each batch seeing
    the slots' free time minus what earlier batches booked, as the batch worker does with real bookings."""
    groups: dict[int, list[Request]] = defaultdict(list)
    for request in requests:
        groups[request.interval.start // batch_minutes if batch_minutes else 0].append(request)
    current = {slot.id: slot for slot in slots}
    results = []
    for key in sorted(groups):
        batch = groups[key]
        allocation = allocate(list(current.values()), batch, time_limit_s=time_limit_s, **options)
        intervals = {request.id: request.interval for request in batch}
        for assignment in allocation.assignments:
            current[assignment.slot_id] = current[assignment.slot_id].without(intervals[assignment.request_id])
        results.append((batch, allocation))
    return results


def allocate(
    slots: Sequence[Slot],
    requests: Sequence[Request],
    *,
    time_limit_s: float,
    k: int = DEFAULT_K,
    detour_factor: float = 1.0,
    pool: Executor | None = None,
    workers: int = 1,
    price: Pricer | None = None,
) -> Allocation:
    """Allocate requests to slots. Each request gets at most one slot; bookings on one slot never overlap and lie in
    its free intervals; hard needs hold. With `pool`, CP-SAT components are solved in parallel processes; `workers` is
    CP-SAT's threads per component (measured here: one is fastest on two cores, the pool gives the parallelism)."""
    started = time.perf_counter()
    index = SlotIndex(slots)
    options = candidates(requests, index, k=k, detour_factor=detour_factor, price=price)
    # the slot greedy would give a request is always among its candidates: within a component (which holds every
    # request conflicting with those choices) the greedy solution is feasible, the CP-SAT hint and its fallback
    greedy_choice = {}
    for assignment in _greedy(index, requests, detour_factor, price):
        choice = Candidate(assignment.slot_id, assignment.walk_m, assignment.price_krw)
        greedy_choice[assignment.request_id] = choice
        if all(c.slot_id != choice.slot_id for c in options[assignment.request_id]):
            options[assignment.request_id] = (*options[assignment.request_id], choice)
    components = _components(requests, options, greedy_choice)
    kinds = [(c, _flow_capacities(c)) for c in components]
    results = [_solve_flow(c, capacities) for c, capacities in kinds if capacities is not None]
    hard = [c for c, capacities in kinds if capacities is None]
    total = sum(len(c.requests) for c in hard) or 1
    remaining = max(time_limit_s - (time.perf_counter() - started), 0.05)
    if pool is not None and len(hard) > 1:
        budgets = [min(remaining, remaining * 2 * len(c.requests) / total) for c in hard]
        futures = [pool.submit(_solve_cpsat, c, b, workers) for c, b in zip(hard, budgets, strict=True)]
        results += [future.result() for future in futures]
    else:
        for component in sorted(hard, key=lambda c: len(c.requests)):
            budget = max(remaining * len(component.requests) / total, 0.05)
            results.append(_solve_cpsat(component, budget, workers))
            total -= len(component.requests)
            remaining = max(time_limit_s - (time.perf_counter() - started), 0.05)
    methods = {r.method for r in results}
    status = "FALLBACK" if "greedy" in methods else "OPTIMAL" if all(r.optimal for r in results) else "FEASIBLE"
    return Allocation(
        assignments=tuple(a for r in results for a in r.assignments),
        candidates=options,
        status=status,
        objective=sum(r.objective for r in results),
        bound=sum(r.bound for r in results),
        solve_s=time.perf_counter() - started,
        components=len(components),
        flow_components=sum(r.method == "flow" for r in results),
        cpsat_components=sum(r.method == "cpsat" for r in results),
    )


def _greedy(
    index: SlotIndex, requests: Sequence[Request], detour_factor: float, price: Pricer | None = None
) -> list[Assignment]:
    taken: dict[Hashable, list[Interval]] = defaultdict(list)
    assignments = []
    for request in sorted(requests, key=lambda r: (r.interval.start, str(r.id))):
        nearby = index.nearest(request.x_m, request.y_m, request.max_walk_m / detour_factor)
        for slot, distance in nearby:
            if compatible(request, slot) and not any(request.interval.overlaps(t) for t in taken[slot.id]):
                taken[slot.id].append(request.interval)
                cost = price(request, slot) if price else slot.price_for(request.interval)
                assignments.append(Assignment(request.id, slot.id, round(distance * detour_factor), cost))
                break
    return assignments


def greedy(slots: Sequence[Slot], requests: Sequence[Request], *, detour_factor: float = 1.0) -> Allocation:
    """The baseline: requests by arrival, each takes the nearest feasible slot still free (a driver alone)."""
    started = time.perf_counter()
    assignments = _greedy(SlotIndex(slots), requests, detour_factor)
    return Allocation(
        assignments=tuple(assignments),
        candidates={},
        status="GREEDY",
        objective=0,
        bound=0,
        solve_s=time.perf_counter() - started,
        components=0,
        flow_components=0,
        cpsat_components=0,
    )
