"""The tuning protocol of the routing solver's one setting, `routing.ils.FLEET_SHARE` (the share of the time limit
spent minimising the fleet before the distance): each candidate share on a training set only (by default a fixed
subset of the 200-task Li & Lim instances, two per class; never the 12 instances `make bench-dispatch` reports), one
seed, the same time per instance; PyVRP without the phase (share 0) is the first candidate. Prints, per share, the
instances where it uses more vehicles than share 0 and fewer, and its mean distance over share 0 where both use as
many vehicles. The choice is one share for every problem (never one per instance or class); bench/README.md records
the run that chose it.

    uv run python bench/tune_dispatch.py [--lilim bench/lilim200] [--only lc1_2_1,...] [--limit 30]
                                         [--shares 0,0.25,0.5]
"""

from __future__ import annotations

import argparse
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.arguments import at_least, listed
from bench.lilim import instances
from routing import ils
from routing.pdptw import Search, violations
from routing.types import Problem

HERE = Path(__file__).parent
TRAINING = HERE / "lilim200"
SUBSET = [f"{kind}_2_{n}" for kind in ("lc1", "lc2", "lr1", "lr2", "lrc1", "lrc2") for n in (1, 6)]


def candidates(shares: list[float]) -> dict[str, ils.Tuning]:
    """PyVRP's defaults, the penalty cap alone, then the cap with each share of fleet minimisation."""
    found = {"as-shipped": ils.AS_SHIPPED, "cap": ils.Tuning(0.0, penalty_up_to_a_vehicle=True)}
    return found | {f"cap, share {share:g}": ils.Tuning(share, penalty_up_to_a_vehicle=True) for share in shares}


def _run(job: tuple[str, Problem, str, ils.Tuning, float]) -> tuple[str, str, int, float]:
    instance, problem, name, tuning, limit = job
    plan = ils.solve(problem, Search(time_limit_s=limit), tuning=tuning)
    broken = violations(problem, plan)
    if broken:
        raise RuntimeError(f"{instance} with {name}: {broken[:3]}")
    return instance, name, plan.vehicles, plan.distance


def main(directory: Path, names: list[str], limit: float, shares: list[float]) -> None:
    problems, best_known = instances(directory, set(names))
    tunings = candidates(shares)
    jobs = [
        (instance, problem, name, tuning, limit)
        for instance, problem in problems.items()
        for name, tuning in tunings.items()
    ]
    print(f"{len(problems)} instances x {len(tunings)} candidates x {limit:g} s, about {len(jobs) * limit / 2:.0f} s")
    found: dict[tuple[str, str], tuple[int, float]] = {}
    with ProcessPoolExecutor(max_workers=2) as pool:
        for instance, name, vehicles, distance in pool.map(_run, jobs):
            found[instance, name] = (vehicles, distance)
            bks = best_known[instance]
            print(f"{instance} {name}: {vehicles} vehicles ({bks['vehicles']}), {distance:.2f} ({bks['distance']})")
    print("| candidate | at BKS | more vehicles than as-shipped | fewer | distance vs as-shipped, same vehicles |")
    print("|---|---|---|---|---|")
    for candidate in tunings:
        ours = [found[name, candidate] for name in names]
        base = [found[name, "as-shipped"] for name in names]
        same = [o[1] / b[1] - 1 for o, b in zip(ours, base, strict=True) if o[0] == b[0]]
        at_bks = sum(1 for name, o in zip(names, ours, strict=True) if o[0] <= best_known[name]["vehicles"])
        more = sum(1 for o, b in zip(ours, base, strict=True) if o[0] > b[0])
        fewer = sum(1 for o, b in zip(ours, base, strict=True) if o[0] < b[0])
        print(f"| {candidate} | {at_bks}/{len(names)} | {more} | {fewer} | {100 * statistics.mean(same):+.2f}% |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--lilim", type=Path, default=TRAINING, help="training instances in Li & Lim's format + BKS.json"
    )
    parser.add_argument("--only", type=listed(str), default=SUBSET, help="comma-separated instance names")
    parser.add_argument("--limit", type=at_least(0.1, float), default=30.0, help="seconds per instance")
    parser.add_argument("--shares", type=listed(at_least(0.0, float)), default=[0.25, 0.5], help="fleet shares to try")
    arguments = parser.parse_args()
    main(arguments.lilim, arguments.only, arguments.limit, arguments.shares)
