"""A generated Sangsalmi evening of pick-up ride requests (seeded), and its playing through the vans' planner, for
the dispatch benchmark.

From 19:00 to 23:00 few buses run: residents coming home from the subway ask the village's vans for a ride from the
station (the hub, south-west of the centre) to their door; others ride between two places of the village. Requests
arrive as a Poisson stream (`mean_gap_s` apart on average); most want a ride now, some book a pickup window 15 to 45
minutes ahead; most ride alone, some as two.
"""

from __future__ import annotations

import math
import random
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ops.dispatch import Carrier, CarrierPlan, Dispatch, Job, Visit, insert_job, plan_carriers
from ops.shuttle import ACCEPTED_PENALTY_M, NEW_PENALTY_M, ShuttleRules, windows
from routing.pdptw import Infeasible, Search
from routing.travel import Mode, Point
from sim.pilot import CENTRE
from sim.sangsalmi import offset

HUB = (-900.0, -700.0)  # the subway exit, metres east and north of the centre
VILLAGE_HALF_SIDE_M = 1300.0
FROM_HUB_SHARE = 0.6
BOOKED_SHARE = 0.25  # requests that give a pickup window ahead instead of asking for now
PAIR_SHARE = 0.2  # parties of two


@dataclass(frozen=True, slots=True)
class Request:
    rider_id: uuid.UUID
    at_s: float  # when it is asked, seconds from the start of the evening
    origin: Point
    destination: Point
    passengers: int
    pickup_window: tuple[float, float] | None  # seconds from the start; None: as soon as possible


def _place(rng: random.Random) -> Point:
    side = VILLAGE_HALF_SIDE_M
    return Point(*offset(*CENTRE, east_m=rng.uniform(-side, side), north_m=rng.uniform(-side, side)))


def evening(seed: int, *, hours: float = 4.0, mean_gap_s: float = 240.0) -> list[Request]:
    rng = random.Random(seed)
    hub = Point(*offset(*CENTRE, east_m=HUB[0], north_m=HUB[1]))
    requests = []
    at = rng.expovariate(1 / mean_gap_s)
    while at < hours * 3600:
        origin = hub if rng.random() < FROM_HUB_SHARE else _place(rng)
        window = None
        if rng.random() < BOOKED_SHARE:
            opens = at + rng.uniform(15, 45) * 60
            window = (opens, opens + 20 * 60)
        requests.append(
            Request(
                rider_id=uuid.UUID(int=rng.getrandbits(128)),
                at_s=at,
                origin=origin,
                destination=_place(rng),
                passengers=2 if rng.random() < PAIR_SHARE else 1,
                pickup_window=window,
            )
        )
        at += rng.expovariate(1 / mean_gap_s)
    return requests


# ---------------------------------------------------------------- playing the evening through the planner


@dataclass(frozen=True, slots=True)
class Evening:
    """What the riders got: served and refused, waits, rides against direct times, van metres, answer times."""

    requests: int
    served: int
    refused: int
    mean_wait_s: float  # pickup time - start of the rider's pickup window (the request time, for a ride now)
    mean_ride_over_direct: float  # time on board / the van's direct time
    van_metres: float
    answer_s: list[float]  # wall time to answer each request


@dataclass(slots=True)
class _Van:
    at: Point
    ready: float  # when it can leave `at` (seconds from the start of the evening)
    route: list[tuple[Visit, float]]  # planned stops and their times
    on_board: set[uuid.UUID]


def play(
    requests: list[Request],
    *,
    vans: int,
    rules: ShuttleRules,
    shift_s: float,
    reoptimise_every_s: float | None,
) -> Evening:
    """Answer each request as the API does (`ops.dispatch.insert_job`; with re-optimisation on, one OR-Tools
    re-plan as a last chance before refusing) and, when `reoptimise_every_s` is set, re-optimise every route that
    often as the worker does (`plan_carriers` from the routes in force). The vans start at the centre and follow the
    plan: each stop happens at its planned time; the stop a van is on the way to is never moved (once a van leaves
    for a stop, that stop is as good as made). Windows follow `ops.shuttle.windows`."""
    start = datetime(2026, 11, 23, 19, tzinfo=UTC)
    fleet_vans = [_Van(Point(*CENTRE), 0.0, [], set()) for _ in range(vans)]
    asked: dict[uuid.UUID, Request] = {}
    pickup_window: dict[uuid.UUID, tuple[float, float]] = {}
    dropoff_window: dict[uuid.UUID, tuple[float, float]] = {}
    direct: dict[uuid.UUID, float] = {}
    picked: dict[uuid.UUID, float] = {}
    dropped: dict[uuid.UUID, float] = {}
    metres = 0.0
    answers: list[float] = []

    def place(visit: Visit) -> Point:
        request = asked[visit[0]]
        return request.destination if visit[1] else request.origin

    def advance(now: float) -> None:
        """Make every stop planned up to `now`, and the one each van has left for."""
        nonlocal metres
        for van in fleet_vans:
            while van.route and (van.route[0][1] <= now or van.ready < now):
                visit, at = van.route.pop(0)
                there = place(visit)
                metres += rules.travel.table([van.at, there], Mode.VAN).metres[0][1]
                if visit[1]:
                    van.on_board.discard(visit[0])
                    dropped[visit[0]] = at
                else:
                    van.on_board.add(visit[0])
                    picked[visit[0]] = at
                van.at, van.ready = there, at + rules.boarding_s
            van.ready = max(van.ready, now)

    def seconds(window: tuple[float, float], now: float) -> tuple[float, float]:
        return max(0.0, window[0] - now), window[1] - now

    def dispatch(now: float, new: uuid.UUID | None) -> Dispatch:
        carriers = [
            Carrier(
                uuid.UUID(int=v),
                van.at,
                shift_s - van.ready,
                on_board=tuple(sorted(van.on_board)),
                ready_s=van.ready - now,
            )
            for v, van in enumerate(fleet_vans)
        ]
        jobs = []
        for v, van in enumerate(fleet_vans):
            for job_id in sorted(van.on_board):
                request = asked[job_id]
                jobs.append(
                    Job(
                        job_id,
                        request.origin,
                        request.destination,
                        (0.0, 0.0),
                        seconds(dropoff_window[job_id], now),
                        None,
                        v,
                        request.passengers,
                    )
                )
        waiting = {visit[0] for van in fleet_vans for visit, _ in van.route if not visit[1]}
        if new is not None:
            waiting.add(new)
        for job_id in sorted(waiting):
            request = asked[job_id]
            jobs.append(
                Job(
                    job_id,
                    request.origin,
                    request.destination,
                    seconds(pickup_window[job_id], now),
                    seconds(dropoff_window[job_id], now),
                    NEW_PENALTY_M if job_id == new else ACCEPTED_PENALTY_M,
                    load=request.passengers,
                    max_ride_factor=rules.max_ride_factor,
                )
            )
        return rules.dispatch(carriers, jobs)

    def adopt(plan: CarrierPlan, now: float) -> None:
        for van, route in zip(fleet_vans, plan.routes, strict=True):
            van.route = [((stop.job_id, stop.at_destination), now + stop.at_s) for stop in route]

    def current() -> list[list[Visit]]:
        return [[visit for visit, _ in van.route] for van in fleet_vans]

    ticks = []
    if reoptimise_every_s is not None:
        ticks = [k * reoptimise_every_s for k in range(1, int(shift_s // reoptimise_every_s) + 1)]
    events = sorted(
        [(request.at_s, 1, request) for request in requests] + [(tick, 0, None) for tick in ticks],
        key=lambda e: (e[0], e[1]),
    )
    refused = 0
    for now, _, request in events:
        advance(now)
        if request is None:
            try:
                better = plan_carriers(dispatch(now, None), Search(rules.reoptimise_time_limit_s), current())
            except Infeasible:
                continue
            if not better.unserved:
                adopt(better, now)
            continue
        job_id = request.rider_id
        asked[job_id] = request
        moment = start + timedelta(seconds=now)
        direct[job_id] = rules.travel.table([request.origin, request.destination], Mode.VAN).seconds[0][1]
        window = request.pickup_window
        when = windows(
            now=moment,
            direct=timedelta(seconds=direct[job_id]),
            rules=rules,
            pickup=(start + timedelta(seconds=window[0]), start + timedelta(seconds=window[1])) if window else None,
            dropoff=None,
        )
        pickup_window[job_id] = tuple((at - start).total_seconds() for at in when.pickup)  # type: ignore[assignment]
        dropoff_window[job_id] = tuple((at - start).total_seconds() for at in when.dropoff)  # type: ignore[assignment]
        began = time.perf_counter()
        situation = dispatch(now, job_id)
        times = [[at - now for _, at in van.route] for van in fleet_vans]
        plan = insert_job(situation, current(), times, job_id)
        if plan is None and reoptimise_every_s is not None:
            try:
                plan = plan_carriers(situation, Search(rules.answer_time_limit_s), current())
            except Infeasible:
                plan = None
        answers.append(time.perf_counter() - began)
        if plan is None or plan.unserved:
            refused += 1
            continue
        adopt(plan, now)
    advance(math.inf)
    served = sorted(dropped)
    return Evening(
        requests=len(requests),
        served=len(served),
        refused=refused,
        mean_wait_s=statistics.mean(picked[j] - pickup_window[j][0] for j in served) if served else 0.0,
        mean_ride_over_direct=statistics.mean((dropped[j] - picked[j] - rules.boarding_s) / direct[j] for j in served)
        if served
        else 0.0,
        van_metres=metres,
        answer_s=answers,
    )
