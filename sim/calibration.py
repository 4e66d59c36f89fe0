"""Fitting the three `[calibration].free` parameters to the `before` column only, and nothing else.

The `before` scenario is played in memory (`sim.runner.counted`, the same play as through the services, which a test
holds to the same numbers) over every seed of the file, and the means are fitted:
- `visitors_weekday` and `visitors_weekend` to `illegal_parking_weekday.before` and `illegal_parking_weekend.before`:
  illegal parking grows with visitors (those the public lots cannot take; with common random numbers it never falls
  as demand rises), so each is bracketed (no visitors at all, then doubling) and bisected on its own day type, both
  in the same rounds, until both are within 0.5% (at most `ROUNDS`);
- then `through_traffic_share` to `entering_vehicles_per_day.before`: parkers enter whatever the share, so the share
  is the rest, 1 - parkers / target, checked by one more round.
The fit, with every round, is printed by `maeul calibrate` and `make bench-pilot`, and kept in `sim/calibrated.toml`.
"""

from __future__ import annotations

import statistics
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sim.runner import counted, week_of
from sim.sangsalmi import Assumptions, Demand
from sim.sangsalmi import weekend as is_weekend

CALIBRATED = Path(__file__).resolve().parent / "calibrated.toml"
TOLERANCE = 0.005
ROUNDS = 16


@dataclass(frozen=True, slots=True)
class Round:
    demand: Demand
    illegal_weekday: float
    illegal_weekend: float
    entering: float


@dataclass(slots=True)
class Fit:
    demand: Demand
    rounds: list[Round] = field(default_factory=list)

    def table(self, targets: dict[str, float]) -> str:
        """The rounds as a markdown table, the targets on top."""
        lines = [
            "| round | visitors weekday | visitors weekend | through share | illegal weekday | illegal weekend | "
            "entering per day |",
            "|---|---|---|---|---|---|---|",
            f"| target | | | | {targets['illegal_parking_weekday']:g} | {targets['illegal_parking_weekend']:g} | "
            f"{targets['entering_vehicles_per_day']:g} |",
        ]
        for n, r in enumerate(self.rounds, 1):
            d = r.demand
            lines.append(
                f"| {n} | {d.visitors_weekday:.1f} | {d.visitors_weekend:.1f} | {d.through_traffic_share:.4f} | "
                f"{r.illegal_weekday:.1f} | {r.illegal_weekend:.1f} | {r.entering:.1f} |"
            )
        return "\n".join(lines)


def targets(assumptions: Assumptions) -> dict[str, float]:
    """The `before` values the fit aims at (`[calibration].fit_to`)."""
    published = assumptions["pilot_kpis"]
    found = {}
    for name in assumptions["calibration"]["fit_to"]:
        kpi, column = name.split(".")
        found[kpi] = float(published[kpi][column])
    return found


async def evaluate(assumptions: Assumptions, demand: Demand, *, detour: float, days: int | None = None) -> Round:
    """`before` over every seed: the means of illegal parking by day type and of vehicles entering a day."""
    weekday: list[float] = []
    weekend_days: list[float] = []
    entering: list[float] = []
    for seed in assumptions.seeds:
        week = week_of(assumptions, demand, seed=seed, days=days or assumptions.days)
        _, _, rows = await counted(week, assumptions, detour=detour)
        for d, row in enumerate(rows):
            illegal, entered = row["illegal_parking"], row["entering_vehicles"]
            assert illegal is not None and entered is not None
            (weekend_days if is_weekend(week.first_day + timedelta(days=d)) else weekday).append(illegal)
            entering.append(entered)
    return Round(demand, statistics.fmean(weekday), statistics.fmean(weekend_days), statistics.fmean(entering))


async def fit(
    assumptions: Assumptions, *, detour: float, days: int | None = None, report: Callable[[Round], None] = print
) -> Fit:
    goal = targets(assumptions)
    aim = (goal["illegal_parking_weekday"], goal["illegal_parking_weekend"])
    low, high = [0.0, 0.0], [aim[0], aim[1]]  # a first guess: as many visitors as illegal parkings
    result = Fit(Demand(0.0, 0.0, 0.0))

    async def illegal(visitors: list[float]) -> tuple[float, float]:
        done = await evaluate(assumptions, Demand(visitors[0], visitors[1], 0.0), detour=detour, days=days)
        result.rounds.append(done)
        report(done)
        return done.illegal_weekday, done.illegal_weekend

    got = await illegal(high)
    while any(g < a for g, a in zip(got, aim, strict=True)) and len(result.rounds) < ROUNDS:
        low = [h if g < a else lo for lo, h, g, a in zip(low, high, got, aim, strict=True)]
        high = [2 * h if g < a else h for h, g, a in zip(high, got, aim, strict=True)]
        got = await illegal(high)
    while len(result.rounds) < ROUNDS and any(abs(g - a) > TOLERANCE * a for g, a in zip(got, aim, strict=True)):
        middle = [(lo + h) / 2 for lo, h in zip(low, high, strict=True)]
        got = await illegal(middle)
        low = [m if g < a else lo for lo, m, g, a in zip(low, middle, got, aim, strict=True)]
        high = [m if g >= a else h for h, m, g, a in zip(high, middle, got, aim, strict=True)]
    closest = min(
        result.rounds, key=lambda r: max(abs(r.illegal_weekday / aim[0] - 1), abs(r.illegal_weekend / aim[1] - 1))
    )
    best = [closest.demand.visitors_weekday, closest.demand.visitors_weekend]
    parkers = closest.entering  # with no through traffic, everyone entering parks
    share = max(0.0, 1 - parkers / goal["entering_vehicles_per_day"])
    demand = Demand(round(best[0], 2), round(best[1], 2), round(share, 4))
    checked = await evaluate(assumptions, demand, detour=detour, days=days)
    result.rounds.append(checked)
    report(checked)
    result.demand = demand
    return result


def save(demand: Demand, path: Path = CALIBRATED) -> None:
    path.write_text(
        "# The `[calibration].free` parameters fitted to the `before` column (`maeul calibrate`, `make bench-pilot`).\n"
        f"visitor_parking_demand_weekday = {demand.visitors_weekday:.2f}\n"
        f"visitor_parking_demand_weekend = {demand.visitors_weekend:.2f}\n"
        f"through_traffic_share = {demand.through_traffic_share:.4f}\n"
    )


def load(path: Path = CALIBRATED) -> Demand:
    values = tomllib.loads(path.read_text())
    return Demand(
        values["visitor_parking_demand_weekday"],
        values["visitor_parking_demand_weekend"],
        values["through_traffic_share"],
    )
