"""Matching benchmark: the OR-Tools allocation against the greedy baseline (what drivers searching alone get), on
deterministic generated instances with peaks where demand exceeds supply. Writes bench/results/matching.json and
prints a markdown table.

    make bench-matching        (or: uv run python bench/bench_matching.py [--only village,district])

Batches group requests by start time, each seeing the slots' free time minus earlier batches' bookings: the village
is one day-ahead batch, the district hourly batches, the city 15-minute batches.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.arguments import listed, one_of
from bench.instances.matching import Instance, city, district, village
from matching.solver import allocate_in_batches, greedy

RESULTS = Path(__file__).parent / "results" / "matching.json"
SCALES = {
    "village": (village, None, 1.0),
    "district": (district, 60, 2.0),
    "city": (city, 15, 5.0),
}
TARGETS = {
    "village": "every batch optimal in < 1 s",
    "district": "gap <= 1% in <= 2 s per batch",
    "city": "every 15-minute batch <= 5 s",
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(fraction * (len(ordered) - 1))), len(ordered) - 1)]


def run(instance: Instance, batch_minutes: int | None, limit: float, pool: ProcessPoolExecutor) -> dict[str, object]:
    started = time.perf_counter()
    batches = allocate_in_batches(
        instance.slots, instance.requests, batch_minutes=batch_minutes, time_limit_s=limit, pool=pool
    )
    wall = time.perf_counter() - started
    baseline = greedy(instance.slots, instance.requests)
    allocations = [allocation for _, allocation in batches]
    times = [a.solve_s for a in allocations]
    served = sum(len(a.assignments) for a in allocations)
    walk = sum(a.total_walk_m for a in allocations)
    objective = sum(a.objective for a in allocations)
    bound = sum(a.bound for a in allocations)
    return {
        "name": instance.name,
        "slots": len(instance.slots),
        "requests": len(instance.requests),
        "batches": len(allocations),
        "served": served,
        "greedy_served": len(baseline.assignments),
        "served_ratio_vs_greedy": round(served / max(len(baseline.assignments), 1), 4),
        "walk_m": walk,
        "greedy_walk_m": baseline.total_walk_m,
        "walk_per_served_ratio_vs_greedy": round(
            (walk / max(served, 1)) / max(baseline.total_walk_m / max(len(baseline.assignments), 1), 1e-9), 4
        ),
        "gap": round((bound - objective) / bound, 6) if bound else 0.0,
        "max_batch_gap": round(max(a.gap for a in allocations), 6),
        "statuses": sorted({a.status for a in allocations}),
        "solve_p50_s": round(statistics.median(times), 3),
        "solve_p95_s": round(percentile(times, 0.95), 3),
        "solve_max_s": round(max(times), 3),
        "time_limit_s": limit,
        "wall_s": round(wall, 1),
        "greedy_s": round(baseline.solve_s, 2),
        "target": TARGETS[instance.name],
    }


def main(names: list[str]) -> None:
    rows = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        for name in names:
            build, batch_minutes, limit = SCALES[name]
            instance = build()
            print(f"{name}: {len(instance.slots):,} slots, {len(instance.requests):,} requests ...", flush=True)
            rows.append(run(instance, batch_minutes, limit, pool))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    merged = {row["name"]: row for row in previous} | {row["name"]: row for row in rows}
    RESULTS.write_text(json.dumps([merged[n] for n in SCALES if n in merged], indent=2) + "\n")
    print()
    print(
        "| instance | slots | requests | batches | served (greedy) | walk m per served vs greedy | gap "
        "| solve p50 / p95 / max s | statuses | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['slots']:,} | {r['requests']:,} | {r['batches']} "
            f"| {r['served']:,} ({r['greedy_served']:,}) "
            f"| {r['walk_per_served_ratio_vs_greedy']} | {r['gap']:.4%} | {r['solve_p50_s']} / {r['solve_p95_s']} / "
            f"{r['solve_max_s']} | {', '.join(r['statuses'])} | {r['target']} |"  # type: ignore[arg-type]
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=listed(one_of(SCALES)), default=list(SCALES), help="comma-separated instances")
    main(parser.parse_args().only)
