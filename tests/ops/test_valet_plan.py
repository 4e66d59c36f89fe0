"""The valet planner's problem, on random live days (hypothesis): every plan keeps every rule of a valet's day,
checked here in real numbers from the same travel times, independently of the routing checker."""

from __future__ import annotations

import random
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ops.dispatch import Carrier, Dispatch, Job, plan_carriers
from ops.valet import LEGS
from routing.pdptw import Search
from routing.travel import Mode, Point, StraightLine
from sim.pilot import CENTRE
from sim.sangsalmi import offset

TRAVEL = StraightLine()
HANDOVER_S = 180.0
TOLERANCE_S = 1.0


def _point(rng: random.Random, half_side_m: float = 1200) -> Point:
    return Point(
        *offset(*CENTRE, east_m=rng.uniform(-half_side_m, half_side_m), north_m=rng.uniform(-half_side_m, half_side_m))
    )


def _day(seed: int, valets: int, jobs: int) -> tuple[list[Carrier], list[Job]]:
    rng = random.Random(seed)
    tasks = []
    for _ in range(jobs):
        opens = rng.uniform(0, 3600)
        tasks.append(
            Job(
                job_id=uuid.uuid4(),
                origin=_point(rng),
                destination=_point(rng),
                origin_window=(opens, opens + rng.choice([600.0, 1800.0, 3600.0])),
                destination_window=(0.0, opens + rng.choice([2400.0, 7200.0])),
                penalty=rng.choice([1e5, 1e6]),
            )
        )
    staff = [Carrier(uuid.uuid4(), _point(rng), available_s=rng.uniform(1800, 4 * 3600)) for _ in range(valets)]
    if jobs and rng.random() < 0.5:  # valet 0 is under way on job 0: on the way, or with the car
        under_way = tasks[0]
        tasks[0] = Job(under_way.job_id, under_way.origin, under_way.destination, (0, 1e6), (0, 1e6), None)
        carrying = rng.random() < 0.5
        staff[0] = Carrier(
            staff[0].staff_id,
            staff[0].at,
            None,
            first=() if carrying else ((under_way.job_id, False),),
            on_board=(under_way.job_id,) if carrying else (),
        )
    if len(tasks) > 1 and valets > 1 and rng.random() < 0.5:  # job 1 assigned by hand to the last valet
        pinned = tasks[1]
        tasks[1] = Job(
            pinned.job_id,
            pinned.origin,
            pinned.destination,
            pinned.origin_window,
            pinned.destination_window,
            pinned.penalty,
            valets - 1,
        )
    return staff, tasks


def _seconds(a: Point, b: Point, mode: Mode) -> float:
    return TRAVEL.table([a, b], mode).seconds[0][1]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(seed=st.integers(0, 10**6), valets=st.integers(1, 3), jobs=st.integers(0, 8))
def test_every_valet_plan_keeps_the_rules_of_the_day(seed: int, valets: int, jobs: int) -> None:
    staff, tasks = _day(seed, valets, jobs)
    plan = plan_carriers(Dispatch(staff, tasks, TRAVEL, LEGS, HANDOVER_S, capacity=1), Search(time_limit_s=0.2))
    by_id = {job.job_id: job for job in tasks}
    served = [stop.job_id for route in plan.routes for stop in route]
    assert set(served) | plan.unserved == set(by_id) and not set(served) & plan.unserved
    assert all(by_id[task_id].penalty is not None for task_id in plan.unserved)  # under way: always served
    for v, (valet, route) in enumerate(zip(staff, plan.routes, strict=True)):
        stops = list(route)
        if valet.on_board:  # the car in hand is delivered first, by this valet
            assert (stops[0].job_id, stops[0].at_destination) == (valet.on_board[0], True)
        if valet.first:
            assert (stops[0].job_id, stops[0].at_destination) == valet.first[0]
        here, ready = valet.at, 0.0
        carrying = valet.on_board[0] if valet.on_board else None
        for stop in stops:
            job = by_id[stop.job_id]
            if job.carrier is not None:
                assert job.carrier == v, "a task assigned by hand stays with its valet"
            if stop.at_destination:  # capacity 1: a car is delivered right after it is taken
                assert carrying == stop.job_id
                carrying, place, (opens, closes) = None, job.destination, job.destination_window
            else:
                assert carrying is None
                carrying, place, (opens, closes) = stop.job_id, job.origin, job.origin_window
            travel = _seconds(here, place, Mode.CAR if stop.at_destination else Mode.SCOOTER)  # the car is driven
            assert stop.at_s >= ready + travel - TOLERANCE_S, "served before the valet can get there"
            assert opens - TOLERANCE_S <= stop.at_s <= closes + TOLERANCE_S, "served outside its window"
            here, ready = place, stop.at_s + HANDOVER_S
        assert carrying is None, "every car taken is delivered"
        if valet.available_s is not None and stops:
            assert ready <= valet.available_s + TOLERANCE_S, "the route ends after the shift"
