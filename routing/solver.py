"""Which engine plans a routing problem, chosen per kind of problem by measurement (bench/bench_dispatch.py; the
figures in bench/README.md): PyVRP (`routing.ils`) or OR-Tools (`routing.pdptw`).

- Fleets ranked fewest vehicles first (Li & Lim's problems: a depot, a fleet to size, every pair required): PyVRP
  with a fleet minimisation phase, when it expresses the problem. On the 200-task training set and the 12 shared
  instances it uses fewer vehicles and less distance than OR-Tools' model.
- Staff on shift (`fewest_vehicles_first=False`: a valet or a van costs the same used or not): OR-Tools. The crews'
  tours (quotas over alternative places, batteries used up) and the pick-up vans (maximum ride times, riders on board,
  the value of an early pickup) are beyond PyVRP; the valets' day is not, but PyVRP was not better there (valet days
  of 40 requests at 0.3 s a plan, eight seeds: +0.0% metres on average, -1.1% to +0.9%), and the same valets' day
  would swing between engines as tasks get under way (a stop under way or a job assigned by hand is OR-Tools' alone).
- The first-solution baseline (`Search(improve=False)`): OR-Tools' cheapest insertion.

Both engines share the integer model (x `routing.pdptw.SCALE`) and the plan checker `violations`; both stop at their
time limit with the best plan so far and are seeded; bounded by `Search.iterations` rather than the clock, a plan is
the same on every run.
"""

from __future__ import annotations

from collections.abc import Sequence

from routing import ils, pdptw
from routing.pdptw import Engine, Search
from routing.types import Plan, Problem


def engine_for(problem: Problem, search: Search) -> Engine:
    """The engine `solve` uses: the search's when it names one, else PyVRP for a fleet ranked fewest vehicles first
    that it expresses (when the search improves on a first solution), else OR-Tools."""
    if search.engine is not Engine.AUTO:
        return search.engine
    if search.improve and problem.fewest_vehicles_first and ils.inexpressible(problem) is None:
        return Engine.PYVRP
    return Engine.OR_TOOLS


def solve(problem: Problem, search: Search, initial: Sequence[Sequence[int]] | None = None) -> Plan:
    """A plan for the problem within `search.time_limit_s` (`initial`: routes, one per vehicle, to start from).
    Raises `routing.pdptw.Infeasible` when no plan is found in time."""
    if engine_for(problem, search) is Engine.PYVRP:
        return ils.solve(problem, search, initial)
    return pdptw.solve(problem, search, initial)
