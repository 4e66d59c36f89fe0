"""Dispatch benchmark against the literature: maeul's PDPTW solver (routing/pdptw.py, OR-Tools) on Li & Lim's
published 100-task instances, against their best-known solutions and against PyVRP (a state-of-the-art open-source
solver, dev-only dependency) given the same time per instance in the same run. Writes bench/results/dispatch.json and
prints a markdown table. Also: a live valet day (plan time per request, metres against insertion alone), crew
rebalancing tours on generated village and district fleets (against a greedy nearest-first crew), and pick-up ride
evenings (dial-a-ride, against insertion alone).

    make bench-dispatch        (or: uv run python bench/bench_dispatch.py [--lilim DIR] [--limits 2,10] [--only lc101]
                                [--renumberings 3])

`--lilim DIR` takes any directory of instances in Li & Lim's format with a `BKS.json` beside them
(`{"lc101": {"vehicles": 10, "distance": 828.94}, ...}`), so the other published instances run the same way.

Ranking as in the literature: fewer vehicles first, then distance. Both solvers get the same integer model: distances
and times x 1,000, travel times rounded up (so integer-feasible is feasible in real numbers), the same fixed cost per
vehicle; both plans are checked in real numbers by `routing.pdptw.violations`. Each solve is single-threaded; the two
solvers of one instance run side by side, one core each.

One run of OR-Tools at a time limit is one trajectory of its search, decided by where the limit falls and by the order
of the nodes; so maeul's solver also solves each instance `--renumberings` more times with its tasks numbered in other
(seeded) orders, the same instance otherwise: the summary gives the mean gap of each numbering, their spread.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import statistics
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

from bench.arguments import at_least, listed, one_of
from bench.instances.rebalancing import scenario
from bench.instances.shuttle import Evening, evening, play
from bench.lilim import instances, renumbered
from ops.dispatch import Carrier, CarrierPlan, Dispatch, Job, plan_carriers
from ops.rebalance import Times, Values, evaluate, greedy_tours, place_table, plan_tours
from ops.shuttle import ShuttleRules
from ops.valet import LEGS
from routing import ils, pdptw
from routing.pdptw import Engine, Search, violations
from routing.solver import solve as solver_solve
from routing.travel import Mode, Point, StraightLine
from routing.types import Plan, Problem
from sim.pilot import CENTRE
from sim.sangsalmi import offset

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "dispatch.json"
TARGETS = {
    2.0: "mean gap <= 1.5%",
    10.0: "vehicles = BKS on >= 10 of 12, never > 1 over; mean gap <= 0.5%; as before (OR-Tools) or better",
}
TRAINING_TARGETS = {
    30.0: "vehicles <= PyVRP's on >= 90%, never > PyVRP's + 1; distance within 1% of PyVRP's where vehicles are equal"
}


SOLVERS = ("maeul", "pyvrp", "or-tools")
VALET_SEEDS = [2019, 1, 2, 3, 4, 5, 6, 7]


def _solve(solver: str, problem: Problem, limit: float) -> Plan:
    """maeul: the product's choice (`routing.solver`); pyvrp: PyVRP with its default settings, one solve (no fleet
    phase), through the same adapter and integer model; or-tools: OR-Tools' model, maeul's engine before (the
    'before')."""
    if solver == "maeul":
        return solver_solve(problem, Search(time_limit_s=limit))
    if solver == "pyvrp":
        return ils.solve(problem, Search(time_limit_s=limit), tuning=ils.AS_SHIPPED)
    return pdptw.solve(problem, Search(time_limit_s=limit))


def _run(job: tuple[str, str, int, Problem, float]) -> tuple[str, str, int, float, Plan]:
    solver, name, numbering, problem, limit = job
    plan = _solve(solver, problem, limit)
    broken = violations(problem, plan)
    if broken:
        raise RuntimeError(f"{solver} on {name} (numbering {numbering}) at {limit:g} s: {broken[:3]}")
    return solver, name, numbering, limit, plan


def compare(
    problems: dict[str, Problem],
    best_known: dict[str, dict[str, float]],
    limits: list[float],
    solvers: tuple[str, ...],
    renumberings: int,
) -> list[dict[str, object]]:
    """Each instance at each limit by each solver (two at a time, one core each), and by maeul's renumbered
    `renumberings` more times; a row per instance and limit."""
    jobs = [
        (solver, name, 0, problem, limit)
        for limit in limits
        for name, problem in problems.items()
        for solver in solvers
    ]
    copies = {
        (name, numbering): renumbered(problem, numbering)
        for name, problem in problems.items()
        for numbering in range(1, renumberings + 1)
    }
    jobs += [("maeul", name, numbering, copy, limit) for limit in limits for (name, numbering), copy in copies.items()]
    seconds = sum(limits) * len(problems) * (len(solvers) + renumberings) / 2
    print(
        f"{len(problems)} instances x {len(limits)} time limits x {len(solvers)} solvers, and maeul's on "
        f"{renumberings} renumberings of each, about {seconds:.0f} s on 2 cores",
        flush=True,
    )
    plans: dict[tuple[str, str, int, float], Plan] = {}
    with ProcessPoolExecutor(max_workers=2) as pool:
        for done, (solver, name, numbering, limit, plan) in enumerate(pool.map(_run, jobs), start=1):
            plans[solver, name, numbering, limit] = plan
            print(
                f"[{done}/{len(jobs)}] {name}{f' renumbered {numbering}' if numbering else ''} {limit:g} s {solver}: "
                f"{plan.vehicles} vehicles, {plan.distance:.2f}",
                flush=True,
            )
    rows: list[dict[str, object]] = []
    for limit in limits:
        for name in problems:
            bks = best_known[name]
            row: dict[str, object] = {
                "name": name,
                "time_limit_s": limit,
                "bks_vehicles": bks["vehicles"],
                "bks_distance": bks["distance"],
            }
            for solver in solvers:
                plan = plans[solver, name, 0, limit]
                prefix = "" if solver == "maeul" else f"{solver.replace('-', '_')}_"
                row[f"{prefix}vehicles"] = plan.vehicles
                row[f"{prefix}distance"] = round(plan.distance, 2)
                row[f"{prefix}gap_pct"] = round(100 * (plan.distance / bks["distance"] - 1), 3)
            others = [plans["maeul", name, numbering, limit] for numbering in range(1, renumberings + 1)]
            row["renumbered_vehicles"] = [plan.vehicles for plan in others]
            row["renumbered_gap_pct"] = [round(100 * (plan.distance / bks["distance"] - 1), 3) for plan in others]
            rows.append(row)
    return rows


def _number(row: dict[str, object], key: str) -> float:
    value = row[key]
    if not isinstance(value, int | float):
        raise TypeError(f"{key} is {value!r}, not a number")
    return float(value)


def summary(rows: list[dict[str, object]], limit: float, targets: dict[float, str]) -> dict[str, object]:
    mine = [r for r in rows if r["time_limit_s"] == limit]
    over = [_number(r, "vehicles") - _number(r, "bks_vehicles") for r in mine]
    gaps = [_number(r, "gap_pct") for r in mine]
    peer_over = [_number(r, "vehicles") - _number(r, "pyvrp_vehicles") for r in mine]
    same = [
        _number(r, "distance") / _number(r, "pyvrp_distance") - 1 for r in mine if r["vehicles"] == r["pyvrp_vehicles"]
    ]
    renumbered = zip(*(r["renumbered_gap_pct"] for r in mine), strict=True)
    by_numbering = [gaps] + [[float(gap) for gap in column] for column in renumbered]
    figures: dict[str, object] = {
        "time_limit_s": limit,
        "instances": len(mine),
        "vehicles_at_bks": sum(1 for o in over if o <= 0),
        "max_vehicles_over_bks": int(max(over)),
        "mean_gap_pct": round(statistics.mean(gaps), 3),
        "max_gap_pct": round(max(gaps), 3),
        "vehicles_at_most_pyvrp": sum(1 for o in peer_over if o <= 0),
        "max_vehicles_over_pyvrp": int(max(peer_over)),
        "mean_distance_vs_pyvrp_same_vehicles_pct": round(100 * statistics.mean(same), 3) if same else None,
        "mean_gap_pct_by_numbering": [round(statistics.mean(column), 3) for column in by_numbering],
        "target": targets.get(limit, ""),
    }
    for peer in ("pyvrp", "or_tools"):
        if f"{peer}_vehicles" in mine[0]:
            at_bks = [_number(r, f"{peer}_vehicles") <= _number(r, "bks_vehicles") for r in mine]
            figures[f"{peer}_vehicles_at_bks"] = sum(at_bks)
            figures[f"{peer}_mean_gap_pct"] = round(statistics.mean(_number(r, f"{peer}_gap_pct") for r in mine), 3)
    return figures


def _valet_day(job: tuple[int, int, Engine]) -> dict[str, object]:
    seed, requests, engine = job
    return {"seed": seed} | valet_day(seed, requests=requests, engine=engine)


def valet_days(seeds: list[int], requests: int) -> dict[str, object]:
    """The valet day on each seed, planned by maeul's choice (OR-Tools) and by PyVRP (which expresses it too), two
    days at a time, one core each: the measurement behind `routing.solver`'s choice for staff on shift."""
    print(
        f"valet days: {requests} requests planned one by one, seeds {seeds}, by maeul's choice and by PyVRP", flush=True
    )
    jobs = [(seed, requests, engine) for engine in (Engine.AUTO, Engine.PYVRP) for seed in seeds]
    with ProcessPoolExecutor(max_workers=2) as pool:
        days = list(pool.map(_valet_day, jobs))
    ours, theirs = days[: len(seeds)], days[len(seeds) :]
    versus = [_number(t, "metres") / _number(o, "metres") - 1 for o, t in zip(ours, theirs, strict=True)]
    return {"maeul": ours, "pyvrp": theirs, "pyvrp_metres_vs_maeul_pct": round(100 * statistics.mean(versus), 2)}


def valet_day(
    seed: int, *, valets: int = 6, requests: int = 40, time_limit_s: float = 0.3, engine: Engine = Engine.AUTO
) -> dict[str, object]:
    """A live valet day in Sangsalmi (seeded): `valets` on shift across the village, requests arriving one by one
    (pickup windows of 30 to 60 minutes within the next 3 hours, homes and slots within 1.2 km), each planned into
    the day with everything accepted before it, as the API does. Reports the time to plan each request (p50, p95:
    the target is p95 < 1 s), how many were accepted, and the metres of the final plan against planning each request
    by cheapest insertion alone (OR-Tools' first solution, no re-optimisation), the baseline of the same run."""
    rng = random.Random(seed)

    def place() -> Point:
        return Point(*offset(*CENTRE, east_m=rng.uniform(-1200, 1200), north_m=rng.uniform(-1200, 1200)))

    staff = [Carrier(uuid.UUID(int=v), place(), available_s=4 * 3600.0) for v in range(valets)]
    travel = StraightLine()
    accepted: list[Job] = []
    seconds, metres = [], {}
    for r in range(requests):
        opens = rng.uniform(0, 3 * 3600)
        job = Job(
            uuid.UUID(int=1000 + r),
            place(),
            place(),
            (opens, opens + rng.choice([1800.0, 3600.0])),
            (0.0, opens + 5400.0),
            penalty=1e5,
        )
        began = time.perf_counter()
        plan = plan_carriers(
            Dispatch(staff, [*accepted, job], travel, LEGS, 180.0, 1), Search(time_limit_s=time_limit_s, engine=engine)
        )
        seconds.append(time.perf_counter() - began)
        if job.job_id not in plan.unserved:
            accepted.append(dataclasses.replace(job, penalty=1e6))
    reoptimised, insertion = Search(time_limit_s, engine=engine), Search(time_limit_s, improve=False)
    for name, search in (("reoptimised", reoptimised), ("insertion", insertion)):
        final = plan_carriers(Dispatch(staff, accepted, travel, LEGS, 180.0, 1), search)
        metres[name] = round(_valet_metres(staff, accepted, final, travel))
    ordered = sorted(seconds)
    return {
        "valets": valets,
        "requests": requests,
        "accepted": len(accepted),
        "time_limit_s": time_limit_s,
        "plan_p50_ms": round(1000 * statistics.median(ordered)),
        "plan_p95_ms": round(1000 * ordered[math.ceil(0.95 * len(ordered)) - 1]),
        "metres": metres["reoptimised"],
        "insertion_metres": metres["insertion"],
        "metres_vs_insertion": round(metres["reoptimised"] / metres["insertion"], 3),
    }


def _valet_metres(staff: list[Carrier], jobs: list[Job], plan: CarrierPlan, travel: StraightLine) -> float:
    by_id = {job.job_id: job for job in jobs}
    total = 0.0
    for valet, route in zip(staff, plan.routes, strict=True):
        here = valet.at
        for stop in route:
            there = by_id[stop.job_id].destination if stop.at_destination else by_id[stop.job_id].origin
            total += travel.table([here, there], Mode.CAR).metres[0][1]
            here = there
    return total


SHUTTLE_RULES = ShuttleRules(  # the settings' defaults
    seats=6,
    max_ride_factor=2.0,
    boarding_s=60,
    wait=timedelta(minutes=20),
    base_fare_krw=1000,
    per_km_krw=200,
    cancel_fee_krw=500,
    answer_time_limit_s=0.3,
    reoptimise_time_limit_s=2.0,
    time_value=5.0,
    travel=StraightLine(),
)


def _evening_figures(evening: Evening) -> dict[str, object]:
    ordered = sorted(evening.answer_s)
    return {
        "served": evening.served,
        "refused": evening.refused,
        "mean_wait_min": round(evening.mean_wait_s / 60, 2),
        "mean_ride_over_direct": round(evening.mean_ride_over_direct, 3),
        "van_km": round(evening.van_metres / 1000, 1),
        "answer_p95_ms": round(1000 * ordered[math.ceil(0.95 * len(ordered)) - 1]) if ordered else 0,
    }


def dial_a_ride(seeds: int, *, vans: int = 2, hours: float = 4.0, reoptimise_limit_s: float = 2.0) -> dict[str, object]:
    """Generated Sangsalmi evenings (`instances/shuttle.py`: a request every 4 minutes on average from 19:00, most
    from the subway exit, some booked ahead, parties of one or two), played through the vans' planner twice: insertion
    alone (each request inserted into the routes in force, never re-optimised) and maeul's way (insertion, one OR-Tools
    re-plan before refusing, every route re-optimised every 5 minutes). Riders served, mean wait, mean ride over
    direct time, van km, answer time p95 (the target: < 1 s)."""
    rules = dataclasses.replace(SHUTTLE_RULES, reoptimise_time_limit_s=reoptimise_limit_s)
    runs = []
    for seed in range(seeds):
        requests = evening(seed, hours=hours)
        shift_s = hours * 3600 + 1800
        alone = play(requests, vans=vans, rules=rules, shift_s=shift_s, reoptimise_every_s=None)
        print(f"dial-a-ride seed {seed}: {len(requests)} requests; re-optimising every 5 minutes", flush=True)
        ours = play(requests, vans=vans, rules=rules, shift_s=shift_s, reoptimise_every_s=300)
        runs.append(
            {
                "seed": seed,
                "requests": len(requests),
                "maeul": _evening_figures(ours),
                "insertion": _evening_figures(alone),
            }
        )
    return {
        "vans": vans,
        "seats": rules.seats,
        "hours": hours,
        "max_ride_factor": rules.max_ride_factor,
        "reoptimise_every_s": 300,
        "reoptimise_limit_s": reoptimise_limit_s,
        "runs": runs,
    }


# scale: (vehicles, vans, areas: None = the village's five, solver seconds per plan)
REBALANCE_SCALES = {"village": (80, 1, None, 2.0), "district": (2000, 10, 60, 10.0)}
CREW_TIMES = Times(pickup_s=90, dropoff_s=60, swap_s=120)  # the settings' defaults
CREW_VALUES = Values(unit_s=1200, swap_s=900)


def rebalancing(scales: list[str], seeds: int) -> list[dict[str, object]]:
    """Crew tours on a generated Sangsalmi fleet (`instances/rebalancing.py`, seeded): OR-Tools (started from the greedy
    crew's tours) against the greedy nearest-first crew alone, by units of target unmet, flat vehicles left and crew
    hours; plan time is the whole `plan_tours` call (travel table, model, search)."""
    travel = StraightLine()
    runs = []
    for name in scales:
        vehicles, vans, areas, limit = REBALANCE_SCALES[name]
        for seed in range(seeds):
            fleet = scenario(seed, vehicles=vehicles, vans=vans, areas=areas)
            table = place_table(fleet.areas, fleet.vehicles, fleet.vans, travel)
            greedy = greedy_tours(fleet.areas, fleet.vehicles, fleet.vans, table, CREW_TIMES)
            began = time.perf_counter()
            tours = plan_tours(
                fleet.areas, fleet.vehicles, fleet.vans, travel, CREW_TIMES, CREW_VALUES, Search(time_limit_s=limit)
            )
            took = time.perf_counter() - began
            ours, theirs = (evaluate(fleet.areas, fleet.vehicles, t, CREW_TIMES) for t in (tours, greedy))
            runs.append(
                {
                    "scale": name,
                    "seed": seed,
                    "vehicles": vehicles,
                    "vans": vans,
                    "areas": len(fleet.areas),
                    "time_limit_s": limit,
                    "unmet_before": ours.unmet_before,
                    "unmet": ours.unmet_units,
                    "greedy_unmet": theirs.unmet_units,
                    "flat_before": ours.flat_before,
                    "flat_left": ours.flat_left,
                    "greedy_flat_left": theirs.flat_left,
                    "crew_hours": round(ours.crew_hours, 3),
                    "greedy_crew_hours": round(theirs.crew_hours, 3),
                    "plan_s": round(took, 2),
                    "greedy_s": round(greedy.solve_s, 2),
                }
            )
            print(f"rebalancing {name} seed {seed}: plan {took:.1f} s", flush=True)
    return runs


def _print_lilim(rows: list[dict[str, object]], summaries: list[dict[str, object]]) -> None:
    print()
    print("| instance | limit s | vehicles (BKS) | distance | BKS distance | gap | PyVRP vehicles | PyVRP distance |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['time_limit_s']:g} | {r['vehicles']} ({r['bks_vehicles']}) | {r['distance']} "
            f"| {r['bks_distance']} | {r['gap_pct']}% | {r['pyvrp_vehicles']} | {r['pyvrp_distance']} |"
        )
    print()
    print(
        "| limit s | vehicles = BKS | max over | mean gap | max gap | vehicles <= PyVRP's | most over PyVRP "
        "| distance vs PyVRP, same vehicles | PyVRP = BKS | PyVRP gap | OR-Tools = BKS | OR-Tools gap | target "
        "| mean gap, as numbered and renumbered |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        print(
            f"| {s['time_limit_s']:g} | {s['vehicles_at_bks']}/{s['instances']} | {s['max_vehicles_over_bks']} "
            f"| {s['mean_gap_pct']}% | {s['max_gap_pct']}% | {s['vehicles_at_most_pyvrp']}/{s['instances']} "
            f"| {s['max_vehicles_over_pyvrp']} | {s['mean_distance_vs_pyvrp_same_vehicles_pct']}% "
            f"| {s['pyvrp_vehicles_at_bks']}/{s['instances']} | {s['pyvrp_mean_gap_pct']}% "
            f"| {s.get('or_tools_vehicles_at_bks', '-')}/{s['instances']} | {s.get('or_tools_mean_gap_pct', '-')}% "
            f"| {s['target']} | {', '.join(f'{gap}%' for gap in s['mean_gap_pct_by_numbering'])} |"  # type: ignore[attr-defined]
        )


def main(
    directory: Path,
    limits: list[float],
    only: set[str] | None,
    output: Path = RESULTS,
    valet_requests: int = 40,
    valet_seeds: list[int] | None = None,
    rebalance_scales: list[str] | None = None,
    rebalance_seeds: int = 3,
    ride_seeds: int = 2,
    ride_hours: float = 4.0,
    renumberings: int = 3,
    training: Path | None = None,
    training_limit: float = 30.0,
) -> None:
    problems, best_known = instances(directory, only)
    trained = instances(training, None) if training is not None else None
    rows = compare(problems, best_known, limits, SOLVERS, renumberings)
    summaries = [summary(rows, limit, TARGETS) for limit in limits]
    training_rows = (
        compare(trained[0], trained[1], [training_limit], ("maeul", "pyvrp"), 0) if trained is not None else None
    )
    days = valet_days(VALET_SEEDS if valet_seeds is None else valet_seeds, valet_requests)
    output.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(output.read_text()) if output.exists() else {}
    crews = rebalancing(list(REBALANCE_SCALES) if rebalance_scales is None else rebalance_scales, rebalance_seeds)
    rides = dial_a_ride(ride_seeds, hours=ride_hours)
    objective = "crew seconds + 1,200 s x unit of target unmet + 900 s x flat vehicle left"
    results: dict[str, object] = {
        "lilim": rows,
        "lilim_summary": summaries,
        "valet": days,
        "rebalancing": {"objective": objective, "runs": crews},
        "dial_a_ride": rides,
    }
    if training_rows is not None:
        results["lilim200"] = training_rows
        results["lilim200_summary"] = [summary(training_rows, training_limit, TRAINING_TARGETS)]
    output.write_text(json.dumps(previous | results, indent=2) + "\n")
    _print_lilim(rows, summaries)
    if training_rows is not None:
        _print_lilim(training_rows, results["lilim200_summary"])  # type: ignore[arg-type]
    print()
    print("| valet day | by | accepted | plan p50 | plan p95 (< 1 s) | metres | insertion alone | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("maeul", "pyvrp"):
        for day in days[name]:  # type: ignore[attr-defined]
            print(
                f"| {day['seed']} | {name} | {day['accepted']} of {day['requests']} | {day['plan_p50_ms']} ms "
                f"| {day['plan_p95_ms']} ms | {day['metres']} | {day['insertion_metres']} "
                f"| {day['metres_vs_insertion']} |"
            )
    print(
        f"PyVRP's metres over maeul's (OR-Tools) on the valet days: {days['pyvrp_metres_vs_maeul_pct']:+}% on average"
    )

    print()
    print(
        "| scale | seed | unmet before | unmet (greedy) | flat before | flat left (greedy) | crew h (greedy) | plan s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run in crews:
        print(
            f"| {run['scale']} | {run['seed']} | {run['unmet_before']} | {run['unmet']} ({run['greedy_unmet']}) "
            f"| {run['flat_before']} | {run['flat_left']} ({run['greedy_flat_left']}) "
            f"| {run['crew_hours']} ({run['greedy_crew_hours']}) | {run['plan_s']} |"
        )

    print()
    print("| evening seed | requests | served (insertion) | mean wait min | ride / direct | van km | answer p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for run in rides["runs"]:  # type: ignore[attr-defined]
        ours, alone = run["maeul"], run["insertion"]
        print(
            f"| {run['seed']} | {run['requests']} | {ours['served']} ({alone['served']}) "
            f"| {ours['mean_wait_min']} ({alone['mean_wait_min']}) "
            f"| {ours['mean_ride_over_direct']} ({alone['mean_ride_over_direct']}) "
            f"| {ours['van_km']} ({alone['van_km']}) | {ours['answer_p95_ms']} ({alone['answer_p95_ms']}) |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lilim", type=Path, default=HERE / "lilim", help="instances in Li & Lim's format + BKS.json")
    parser.add_argument(
        "--limits", type=listed(at_least(0.01, float)), default=[2.0, 10.0], help="comma-separated seconds per instance"
    )
    parser.add_argument("--only", type=listed(str), help="comma-separated instance names (of the --lilim directory)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--valet-requests", type=at_least(1, int), default=40, help="requests of the live valet day")
    parser.add_argument(
        "--valet-seeds", type=listed(at_least(0, int)), default=VALET_SEEDS, help="comma-separated valet days"
    )
    parser.add_argument(
        "--rebalance-scales",
        type=listed(one_of(REBALANCE_SCALES)),
        default=list(REBALANCE_SCALES),
        help="village and/or district",
    )
    parser.add_argument("--rebalance-seeds", type=at_least(1, int), default=3, help="generated fleets per scale")
    parser.add_argument("--ride-seeds", type=at_least(1, int), default=2, help="generated evenings of pick-up rides")
    parser.add_argument("--ride-hours", type=at_least(0.25, float), default=4.0, help="length of each evening")
    parser.add_argument(
        "--renumberings", type=at_least(0, int), default=3, help="more runs of maeul's solver per instance, renumbered"
    )
    parser.add_argument(
        "--training",
        type=Path,
        help="also the training set: a directory of instances (e.g. bench/lilim200), maeul and PyVRP",
    )
    parser.add_argument(
        "--training-limit", type=at_least(0.01, float), default=30.0, help="seconds per training instance"
    )
    arguments = parser.parse_args()
    main(
        arguments.lilim,
        arguments.limits,
        set(arguments.only) if arguments.only else None,
        arguments.output,
        arguments.valet_requests,
        arguments.valet_seeds,
        arguments.rebalance_scales,
        arguments.rebalance_seeds,
        arguments.ride_seeds,
        arguments.ride_hours,
        arguments.renumberings,
        arguments.training,
        arguments.training_limit,
    )
