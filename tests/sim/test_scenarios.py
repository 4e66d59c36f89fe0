"""The Sangsalmi simulator: the population is seeded and reacts to demand only by adding visitors (common random
numbers), the calibration fits the `before` column, and the scenarios play through maeul's real services with the
KPIs read back from the rows (one day each here; `make bench-pilot` plays the full weeks)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import Settings
from sim import calibration
from sim.runner import counted, run, week_of
from sim.sangsalmi import Assumptions, Demand

ASSUMPTIONS = Assumptions.load()
DEMAND = Demand(visitors_weekday=240, visitors_weekend=320, through_traffic_share=0.78)


def test_the_population_is_seeded_and_more_demand_only_adds_visitors():
    week = week_of(ASSUMPTIONS, DEMAND, seed=1, days=7)
    assert week == week_of(ASSUMPTIONS, DEMAND, seed=1, days=7)
    assert week != week_of(ASSUMPTIONS, DEMAND, seed=2, days=7)
    residents = {n.plate for n in week.needs if n.resident}
    supply = ASSUMPTIONS["supply"]
    assert len(residents) == supply["registered_resident_vehicles"] - supply["pre_existing_legal_spaces"]
    # every resident car stands somewhere all week long: its stays cover the week without a gap while at home
    for plate in list(residents)[:20]:
        stays = sorted((n.start, n.end) for n in week.needs if n.plate == plate)
        assert stays[0][0] == week.day_start(0) and stays[-1][1] == week.end
        assert all(end < start for (_, end), (start, _) in zip(stays, stays[1:], strict=False))
    visitors = [n for n in week.needs if not n.resident]
    weekday = [n for n in visitors if n.start.weekday() < 5]
    assert 200 < len(weekday) / 5 < 280  # Poisson around 240
    assert all(n.walk_m <= 600 and n.end > n.start for n in visitors)
    # more visitors on a weekday: the same visitors as before, and more; residents and permits unchanged
    busier = week_of(ASSUMPTIONS, Demand(300, 320, 0.78), seed=1, days=7)
    assert {n.plate for n in busier.needs if n.resident} == residents
    assert busier.sharing_permits == week.sharing_permits
    monday = [(n.start, n.lon) for n in visitors if n.start < week.day_start(1)]
    busier_monday = [(n.start, n.lon) for n in busier.needs if not n.resident and n.start < week.day_start(1)]
    assert set(monday) < set(busier_monday)


@pytest.mark.slow
async def test_the_calibration_fits_the_before_column():
    fit = await calibration.fit(ASSUMPTIONS, detour=1.3, report=lambda _: None)
    goal = calibration.targets(ASSUMPTIONS)
    final = fit.rounds[-1]
    assert final.demand == fit.demand
    assert final.illegal_weekday == pytest.approx(goal["illegal_parking_weekday"], rel=0.005)
    assert final.illegal_weekend == pytest.approx(goal["illegal_parking_weekend"], rel=0.005)
    assert final.entering == pytest.approx(goal["entering_vehicles_per_day"], rel=0.01)
    assert 0 < fit.demand.through_traffic_share < 1
    assert "| target |" in fit.table(goal)


@pytest.mark.slow
async def test_before_through_the_services_counts_what_the_simulator_saw(settings: Settings, database: str):
    """The in-memory `before` the calibration runs, and the same day through the cameras' ingestion and the KPI
    code: the same numbers."""
    week = week_of(ASSUMPTIONS, DEMAND, seed=3, days=1)
    _, _, expected = await counted(week, ASSUMPTIONS, detour=settings.walk_detour_factor)
    result = await run(
        settings, ASSUMPTIONS, DEMAND, scenario="before", seed=3, days=1, database="maeul_sim_test_before"
    )
    [day] = result.days
    assert day.kpis["entering_vehicles"] == expected[0]["entering_vehicles"] > 1000
    assert day.kpis["illegal_parking"] == expected[0]["illegal_parking"] > 100
    assert day.kpis["supply_ratio"] == round(144 / 388, 4)
    assert day.kpis["shared_slots_supplied"] == 0


@pytest.mark.slow
async def test_pilot_and_maeul_book_through_the_services(settings: Settings, database: str):
    before = await counted(
        week_of(ASSUMPTIONS, DEMAND, seed=3, days=1), ASSUMPTIONS, detour=settings.walk_detour_factor
    )
    pilot = await run(settings, ASSUMPTIONS, DEMAND, scenario="pilot", seed=3, days=1, database="maeul_sim_test_pilot")
    [day] = pilot.days
    k = day.kpis
    # the shared slots: 248 open on a Monday (24 resident-priority holders keep theirs; 8 private slots are
    # weekend-only), and many of them booked, with revenue for every party
    assert k["shared_slots_open"] == 248 and k["supply_ratio"] == round((144 + 248) / 388, 4)
    assert k["shared_slots_supplied"] is not None and k["shared_slots_supplied"] > 100
    assert k["revenue_owners"] and k["revenue_enterprise"] and k["revenue_city"]
    # sharing serves more drivers, and fewer park illegally, than the same day before
    assert day.drivers_served > before[0].served[0]
    assert k["illegal_parking"] is not None and k["illegal_parking"] < before[2][0]["illegal_parking"]  # type: ignore[operator]
    assert day.mean_walk_m is not None and 50 < day.mean_walk_m < 500
    smart = await run(settings, ASSUMPTIONS, DEMAND, scenario="maeul", seed=3, days=1, database="maeul_sim_test_maeul")
    [day] = smart.days
    assert day.park_and_ride > 0  # visitors the app could not serve on foot took a farther slot and a scooter
    assert day.drivers_served >= pilot.days[0].drivers_served - 10


@pytest.mark.slow
def test_maeul_simulate_prints_the_days_kpis(settings: Settings, database: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MAEUL_DATABASE_NAME", "maeul_test")
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app, ["simulate", "--scenario", "before", "--days", "1", "--seed", "2", "--database", "maeul_sim_test_cli"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "| 2019-10-14 | weekday |" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("| 2019-10-14")]
    assert len(lines) == 1 and " of " in lines[0]
