"""The crews' tour planner on random generated fleets (hypothesis): every tour keeps every rule, checked here in real
numbers from the same travel times, independently of the routing checker; and the plan is never worse than the greedy
nearest-first crew it starts from, by the documented objective."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.instances.rebalancing import Scenario, scenario
from ops.rebalance import (
    Action,
    Score,
    Times,
    Tours,
    Values,
    evaluate,
    greedy_tours,
    place_table,
    plan_tours,
    shortfalls,
    space,
)
from routing.pdptw import Search
from routing.travel import Mode, StraightLine

TRAVEL = StraightLine()
TIMES = Times(pickup_s=90, dropoff_s=60, swap_s=120)
VALUES = Values(unit_s=1200, swap_s=900)
TOLERANCE_S = 1.0


def _objective(score: Score) -> float:
    return score.crew_hours * 3600 + VALUES.unit_s * score.unmet_units + VALUES.swap_s * score.flat_left


def _check(fleet: Scenario, tours: Tours) -> None:
    vehicles = {vehicle.vehicle_id: vehicle for vehicle in fleet.vehicles}
    short = {place for place, need in shortfalls(fleet.areas, fleet.vehicles).items() if need > 0}
    seen: dict[tuple[Action, object], int] = defaultdict(int)
    assert len(tours.routes) == len(fleet.vans)
    for van, route in zip(fleet.vans, tours.routes, strict=True):
        on_board: set[object] = set()
        load = batteries = 0
        here, ready = van.at, 0.0
        for step in route:
            vehicle = vehicles[step.vehicle_id]
            seen[(step.action, step.vehicle_id)] += 1
            there = fleet.areas[step.area].at if step.action == Action.DROPOFF and step.area is not None else vehicle.at
            way = TRAVEL.table([here, there], Mode.VAN)
            assert step.at_s >= ready + way.seconds[0][1] - TOLERANCE_S, "a stop reached faster than the van drives"
            if step.action == Action.PICKUP:
                assert vehicle.usable and step.vehicle_id not in on_board
                on_board.add(step.vehicle_id)
                load += space(vehicle.type_code)
                here = vehicle.at
            elif step.action == Action.DROPOFF:
                assert step.vehicle_id in on_board, "dropped before it was taken, or by another van"
                assert step.area is not None and (step.area, vehicle.type_code) in short
                on_board.remove(step.vehicle_id)
                load -= space(vehicle.type_code)
                here = fleet.areas[step.area].at
            else:
                assert vehicle.flat
                batteries += 1
                here = vehicle.at
            assert load <= van.capacity and batteries <= van.batteries
            ready = step.at_s + TIMES.of(step.action)
        assert not on_board, "a tour ends with vehicles still in the van"
        assert ready <= van.available_s + TOLERANCE_S, "a tour longer than the crew member's time"
    assert all(count == 1 for count in seen.values()), "a vehicle taken, dropped or swapped twice"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    seed=st.integers(0, 10**6),
    vehicles=st.integers(5, 60),
    vans=st.integers(1, 3),
    areas=st.one_of(st.none(), st.integers(2, 8)),
    capacity=st.integers(1, 8),
    batteries=st.integers(0, 6),
    tour_s=st.sampled_from([900.0, 2700.0, 5400.0]),
)
def test_every_tour_keeps_every_rule_and_is_no_worse_than_the_greedy_crew(
    seed: int, vehicles: int, vans: int, areas: int | None, capacity: int, batteries: int, tour_s: float
) -> None:
    fleet = scenario(
        seed,
        vehicles=vehicles,
        vans=vans,
        areas=areas,
        district_side_m=2000,
        van_capacity=capacity,
        van_batteries=batteries,
        tour_s=tour_s,
    )
    greedy = greedy_tours(
        fleet.areas, fleet.vehicles, fleet.vans, place_table(fleet.areas, fleet.vehicles, fleet.vans, TRAVEL), TIMES
    )
    _check(fleet, greedy)
    tours = plan_tours(fleet.areas, fleet.vehicles, fleet.vans, TRAVEL, TIMES, VALUES, Search(time_limit_s=0.3))
    _check(fleet, tours)
    ours, theirs = (evaluate(fleet.areas, fleet.vehicles, t, TIMES) for t in (tours, greedy))
    assert _objective(ours) <= _objective(theirs) + 1.0  # the integer model rounds times up by at most 1 ms a leg


def test_a_fleet_in_balance_with_nothing_flat_gets_no_tour() -> None:
    fleet = scenario(3, vehicles=40, vans=2)
    balanced = [v for v in fleet.vehicles if v.usable]
    targets = shortfalls(fleet.areas, balanced)
    level = Scenario(
        tuple(
            type(area)(area.area_id, area.at, {t: area.targets[t] - targets.get((a, t), 0) for t in area.targets})
            for a, area in enumerate(fleet.areas)
        ),
        tuple(v for v in balanced if v.area is not None),
        fleet.vans,
    )
    assert all(need <= 0 for need in shortfalls(level.areas, level.vehicles).values())
    tours = plan_tours(level.areas, level.vehicles, level.vans, TRAVEL, TIMES, VALUES, Search(time_limit_s=0.2))
    assert tours.routes == ((), ())
