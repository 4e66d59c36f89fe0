"""Deterministic matching instances for tests and benchmarks: slots with owners' windows, and a day of requests
with morning and evening peaks where demand exceeds supply around popular destinations."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from matching.types import Interval, Priority, Request, Slot

DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    slots: tuple[Slot, ...]
    requests: tuple[Request, ...]
    batch_minutes: int | None  # None: one batch for the whole day


def _windows(rng: random.Random) -> tuple[Interval, ...]:
    pattern = rng.random()
    if pattern < 0.3:  # public lot: always
        return (Interval(0, DAY),)
    if pattern < 0.65:  # resident slot: while the holder is at work
        return (Interval(9 * 60 + rng.choice([-60, 0, 0, 60]), 18 * 60 + rng.choice([-60, 0, 60])),)
    if pattern < 0.85:  # private slot: evening and night
        return (Interval(0, 8 * 60), Interval(19 * 60, DAY))
    return (Interval(7 * 60, 23 * 60),)  # private lot hours


def generate(name: str, *, slots: int, requests: int, side_m: float, seed: int, batch_minutes: int | None) -> Instance:
    rng = random.Random(seed)
    slot_list = tuple(
        Slot(
            id=f"s{i}",
            x_m=rng.uniform(0, side_m),
            y_m=rng.uniform(0, side_m),
            free=_windows(rng),
            ev_charger=rng.random() < 0.1,
            accessible=rng.random() < 0.05,
            size=rng.choices([0, 1, 2], weights=[2, 7, 1])[0],
            price_per_hour_krw=rng.choice([600, 1000, 1200, 1500, 2000]),
        )
        for i in range(slots)
    )
    # popular destinations draw the peaks: demand there exceeds the slots within walking distance
    hotspots = [(rng.uniform(0, side_m), rng.uniform(0, side_m)) for _ in range(max(3, slots // 150))]
    request_list = []
    for i in range(requests):
        if rng.random() < 0.6:
            hx, hy = rng.choice(hotspots)
            angle, radius = rng.uniform(0, 2 * math.pi), abs(rng.gauss(0, 120))
            x, y = hx + radius * math.cos(angle), hy + radius * math.sin(angle)
        else:
            x, y = rng.uniform(0, side_m), rng.uniform(0, side_m)
        peak = rng.random()
        if peak < 0.45:
            start = int(rng.gauss(9 * 60, 40))  # morning peak
        elif peak < 0.75:
            start = int(rng.gauss(19 * 60, 50))  # evening peak
        else:
            start = rng.randrange(0, DAY - 60)
        start = min(max(start // 15 * 15, 0), DAY - 60)
        duration = rng.choice([60, 90, 120, 180, 240, 480, 540])
        priority = rng.choices(list(Priority), weights=[70, 25, 5])[0]
        request_list.append(
            Request(
                id=f"r{i}",
                x_m=x,
                y_m=y,
                interval=Interval(start, min(start + duration, DAY)),
                max_walk_m=rng.choice([300, 400, 500, 500, 700]),
                needs_ev=rng.random() < 0.05,
                needs_accessible=priority == Priority.ACCESSIBILITY and rng.random() < 0.6,
                vehicle_size=rng.choices([0, 1, 2], weights=[2, 7, 1])[0],
                priority=priority,
            )
        )
    return Instance(name, slot_list, tuple(request_list), batch_minutes)


def village() -> Instance:
    return generate("village", slots=300, requests=400, side_m=1000, seed=1, batch_minutes=None)


def district() -> Instance:
    return generate("district", slots=5000, requests=5000, side_m=4500, seed=2, batch_minutes=None)


def city() -> Instance:
    return generate("city", slots=50_000, requests=50_000, side_m=14_000, seed=3, batch_minutes=15)
