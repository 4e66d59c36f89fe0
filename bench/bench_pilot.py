"""The Sangsalmi simulator's three scenarios against the pilot's published KPI table (`make bench-pilot`).

1. Fit the three `[calibration].free` parameters to the `before` column (in memory, every seed; printed), and keep
   them in `sim/calibrated.toml`.
2. Play `before`, `pilot` and `maeul` through maeul's real services, each seed of the file a week on a database of its
   own, two runs at a time (one per core); the KPIs are read back from the rows by the KPI code.
3. Write `bench/results/pilot.json` (scenario -> KPI -> {mean, min, max} over seeds, `published`, the fit and the
   validation) and print the markdown table the README shows.

Targets (the issue's): `before` within 5% of the published values it was fitted to; `pilot` within the file's
`validation_tolerance` of the published `after` values it is validated on; `maeul` with fewer illegal parkings and
more drivers served than `pilot`.

    uv run python bench/bench_pilot.py [--seeds 1 2] [--days 7] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.arguments import at_least  # noqa: E402
from core import services  # noqa: E402
from core.settings import Settings  # noqa: E402
from sim import calibration  # noqa: E402
from sim.runner import RunResult, run  # noqa: E402
from sim.sangsalmi import Assumptions, Demand  # noqa: E402
from sim.scenarios import SCENARIOS  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pilot.json"
# each published KPI: the KPI table's column, and the day type its mean is over (None: every day)
KPIS: dict[str, tuple[str, str | None]] = {
    "entering_vehicles_per_day": ("entering_vehicles", None),
    "supply_ratio_weekday": ("supply_ratio", "weekday"),
    "supply_ratio_weekend": ("supply_ratio", "weekend"),
    "illegal_parking_weekday": ("illegal_parking", "weekday"),
    "illegal_parking_weekend": ("illegal_parking", "weekend"),
    "shared_slots_supplied_per_day": ("shared_slots_supplied", None),
    "drivers_served": ("drivers_served", None),
    "mean_walk_m": ("mean_walk_m", None),
}


def _one(scenario: str, seed: int, days: int, demand: Demand) -> RunResult:
    """One run in a process of its own (its own event loop and database)."""
    return asyncio.run(
        run(
            Settings(),
            Assumptions.load(),
            demand,
            scenario=scenario,
            seed=seed,
            days=days,
            database=f"maeul_bench_pilot_{scenario}_{seed}",
        )
    )


def summarise(results: list[RunResult]) -> dict[str, dict[str, float | None]]:
    """KPI -> {mean, min, max} over the seeds' weekly means."""
    out: dict[str, dict[str, float | None]] = {}
    for name, (column, day_type) in KPIS.items():
        values = [v for r in results if (v := r.mean(column, day_type)) is not None]
        out[name] = (
            {"mean": round(statistics.fmean(values), 4), "min": round(min(values), 4), "max": round(max(values), 4)}
            if values
            else {"mean": None, "min": None, "max": None}
        )
    return out


def errors(
    simulated: dict[str, dict[str, float | None]], published: dict[str, dict[str, float]], names: list[str]
) -> dict[str, float]:
    """Relative error of the simulated mean against the published value, per `kpi.column` name."""
    found = {}
    for name in names:
        kpi, column = name.split(".")
        mean = simulated[kpi]["mean"]
        assert mean is not None
        found[name] = round(mean / published[kpi][column] - 1, 4)
    return found


def table(report: dict[str, object]) -> str:
    published: dict[str, dict[str, float]] = report["published"]  # type: ignore[assignment]
    lines = [
        "| KPI | published before | published after | simulated before | simulated pilot | simulated maeul |",
        "|---|---|---|---|---|---|",
    ]

    def cell(value: dict[str, float | None]) -> str:
        if value["mean"] is None:
            return "-"
        return f"**{value['mean']:.4g}** ({value['min']:.4g}-{value['max']:.4g})"

    for name in KPIS:
        row = published.get(name, {})
        sims = [cell(report[s][name]) for s in SCENARIOS]  # type: ignore[index]
        lines.append(f"| {name} | {row.get('before', '')} | {row.get('after', '')} | " + " | ".join(sims) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    assumptions = Assumptions.load()
    parser.add_argument("--seeds", type=int, nargs="+", default=assumptions.seeds)
    parser.add_argument("--days", type=at_least(1, int), default=assumptions.days)
    parser.add_argument("--workers", type=at_least(1, int), default=2)
    args = parser.parse_args()
    settings = Settings()
    services.database_up(settings)
    began = time.perf_counter()

    print("1. calibration: the free parameters fitted to the `before` column, in memory over every seed")
    fit = asyncio.run(calibration.fit(assumptions, detour=settings.walk_detour_factor, report=lambda _: None))
    goal = calibration.targets(assumptions)
    print(fit.table(goal))
    calibration.save(fit.demand)
    demand = fit.demand
    print(f"fit: {demand} (in {time.perf_counter() - began:.0f} s), kept in {calibration.CALIBRATED.name}\n")

    print(
        f"2. {len(SCENARIOS) * len(args.seeds)} runs of {args.days} days through maeul's services, "
        f"{args.workers} at a time"
    )
    results: dict[str, list[RunResult]] = {scenario: [] for scenario in SCENARIOS}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        started = {
            pool.submit(_one, scenario, seed, args.days, demand): (scenario, seed)
            for scenario in SCENARIOS
            for seed in args.seeds
        }
        for done in as_completed(started):
            scenario, seed = started[done]
            result = done.result()
            results[scenario].append(result)
            print(
                f"  {scenario:<6} seed {seed}: illegal weekday {result.mean('illegal_parking', 'weekday'):.1f}, "
                f"drivers served {result.mean('drivers_served'):.1f} a day  ({time.perf_counter() - began:.0f} s)"
            )

    published = {name: dict(values) for name, values in assumptions["pilot_kpis"].items()}
    report: dict[str, object] = {scenario: summarise(results[scenario]) for scenario in SCENARIOS}
    report["published"] = published
    report["calibration"] = {
        "free": {
            "visitor_parking_demand_weekday": demand.visitors_weekday,
            "visitor_parking_demand_weekend": demand.visitors_weekend,
            "through_traffic_share": demand.through_traffic_share,
        },
        "rounds": len(fit.rounds),
        "before_error": errors(report["before"], published, assumptions["calibration"]["fit_to"]),  # type: ignore[arg-type]
    }
    tolerance = assumptions["calibration"]["validation_tolerance"]
    validation = errors(report["pilot"], published, assumptions["calibration"]["validate_on"])  # type: ignore[arg-type]
    report["validation"] = {
        "pilot_error": validation,
        "tolerance": tolerance,
        "within": all(abs(e) <= tolerance for e in validation.values()),
    }
    report["seeds"], report["days"] = args.seeds, args.days
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print("\n3. the scenarios beside the published table (mean over seeds, min-max)\n")
    print(table(report))
    before_error = report["calibration"]["before_error"]  # type: ignore[index]
    print(f"\nbefore vs published (fitted): {before_error}")
    print(f"pilot vs published after (validation, tolerance {tolerance:.0%}): {validation}")
    pilot, smart = report["pilot"], report["maeul"]
    print(
        "maeul vs pilot: illegal weekday "
        f"{smart['illegal_parking_weekday']['mean']} vs {pilot['illegal_parking_weekday']['mean']}, "  # type: ignore[index]
        f"drivers served {smart['drivers_served']['mean']} vs {pilot['drivers_served']['mean']}"  # type: ignore[index]
    )
    print(f"\nwritten {RESULTS.relative_to(ROOT)} in {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
