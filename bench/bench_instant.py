"""Instant matching latency through the HTTP app on the Sangsalmi pilot data, against a plain search for the same
destination and time in the same run. Writes bench/results/instant.json.

    uv run python bench/bench_instant.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from api.app import create_app
from api.state import build_state, close_state
from bench.arguments import at_least
from core import services
from core.db import database_url
from core.migrate import upgrade
from core.redis import claim, redis_database
from core.settings import Settings
from sim.payment_gateway import top_up_as_the_app
from sim.pilot import CENTRE, DEMO_PASSWORD, load
from sim.sangsalmi import offset

RESULTS = Path(__file__).parent / "results" / "instant.json"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(fraction * (len(ordered) - 1))), len(ordered) - 1)]


async def main(settings: Settings, requests: int) -> None:
    state = build_state(settings)
    await state.redis.flushdb()  # the benchmark's own database: what an earlier run left
    await claim(state.redis, settings)
    async with state.sessionmaker() as session:
        await load(session, clock=state.clock, policy=state.policy)
        await session.commit()
    app = create_app(state=state)
    rng = random.Random(7)
    search_ms, instant_ms, booked = [], [], 0
    local_now = datetime.now(ZoneInfo(settings.local_timezone))
    monday = (local_now + timedelta(days=7 - local_now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            drivers = []
            for name in ["resident"] + [f"resident{i:02d}" for i in range(1, 11)]:
                token = await client.post(
                    "/auth/token", data={"username": f"{name}@maeul.demo", "password": DEMO_PASSWORD}
                )
                drivers.append({"Authorization": f"Bearer {token.json()['access_token']}"})
                paid = await top_up_as_the_app(client, settings.payment_gateway()[0], drivers[-1], 1_000_000)
                paid.raise_for_status()
            for n in range(requests):
                lon, lat = offset(*CENTRE, east_m=rng.uniform(-400, 400), north_m=rng.uniform(-400, 400))
                start = (monday + timedelta(days=rng.randrange(0, 5), hours=rng.randrange(9, 15))).astimezone(UTC)
                end = start + timedelta(hours=rng.choice([1, 2, 3]))
                headers = drivers[n % len(drivers)]
                params: dict[str, str | float] = {
                    "lat": lat,
                    "lon": lon,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                }
                started = time.perf_counter()
                await client.get("/slots/search", params=params, headers=headers)
                search_ms.append((time.perf_counter() - started) * 1000)
                body = {
                    "destination": {"lon": lon, "lat": lat},
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "vehicle_plate": f"{10 + n % 80}가{1000 + n}",
                }
                started = time.perf_counter()
                response = await client.post("/matching/instant", json=body, headers=headers)
                instant_ms.append((time.perf_counter() - started) * 1000)
                booked += response.status_code == 201
    finally:
        await close_state(state)
    result = {
        "requests": requests,
        "booked": booked,
        "instant_p50_ms": round(statistics.median(instant_ms), 1),
        "instant_p95_ms": round(percentile(instant_ms, 0.95), 1),
        "search_p50_ms": round(statistics.median(search_ms), 1),
        "search_p95_ms": round(percentile(search_ms, 0.95), 1),
        "instant_p95_ratio_vs_search": round(percentile(instant_ms, 0.95) / percentile(search_ms, 0.95), 2),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=at_least(1, int), default=200)
    args = parser.parse_args()
    bench_settings = Settings(database_name="maeul_instant_bench")
    services.up(bench_settings)
    # a Redis database of its own (core.redis.claim): not `make demo`'s, whose live fleet index it would overwrite
    bench_settings = bench_settings.model_copy(update={"redis_url": redis_database(bench_settings, 9)})
    services.drop_database(bench_settings, bench_settings.database_name)
    services.ensure_database(bench_settings, bench_settings.database_name)
    upgrade(database_url(bench_settings))
    asyncio.run(main(bench_settings, args.requests))
