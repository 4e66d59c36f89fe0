"""Fleet benchmark on the Sangsalmi demo data, through the HTTP app, with baselines measured in the same run.
Writes bench/results/mobility.json.

- Telemetry ingest: POINTS fixes posted to `POST /telemetry` in batches of 500 (each batch one device's fixes, a
  second apart), accepted points per second, against writing the same number of points straight to Redis (pipelined
  GEOADD) and PostgreSQL (COPY into the same partitioned table) in the same run: `ingest_ratio`. On both sides
  only the work of the writer is timed (the devices' JSON and the baseline's rows are made before), batch by batch
  in turn (the machines here are noisy: both sides then see the same load), after WARM_UP batches.
- Nearby search through HTTP with 5,000 vehicles in the live index: p95.
- GBFS `vehicle_status` with 10,000 vehicles, served from the worker's cache: p95.

    uv run python bench/bench_mobility.py [--points 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from api.app import create_app, freeze_start_up_objects
from api.state import build_state, close_state
from bench.arguments import at_least
from core import services
from core.db import database_url
from core.logging import configure_logging
from core.migrate import upgrade
from core.redis import claim, redis_database
from core.settings import Settings
from mobility import feeds, live
from mobility.ingest import prepare_telemetry
from mobility.vehicles import NewVehicle, deploy, register_vehicles
from sim.fleet import load_fleet
from sim.pilot import CENTRE, DEMO_PASSWORD, load
from sim.sangsalmi import offset

RESULTS = Path(__file__).parent / "results" / "mobility.json"
BATCH = 500
WARM_UP = 5  # batches posted before the clocks start: the first request of a route prepares its statements (~0.2 s)
NEARBY_VEHICLES = 5_000
GBFS_VEHICLES = 10_000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(fraction * (len(ordered) - 1))), len(ordered) - 1)]


def track(rng: random.Random, start: datetime, count: int) -> list[dict[str, Any]]:
    """`count` fixes a second apart, walking-to-riding pace around the village."""
    east, north = rng.uniform(-400, 400), rng.uniform(-400, 400)
    points = []
    for i in range(count):
        east += rng.uniform(-4, 4)
        north += rng.uniform(-4, 4)
        lon, lat = offset(*CENTRE, east_m=east, north_m=north)
        points.append({"at": (start + timedelta(seconds=i)).isoformat(), "lon": lon, "lat": lat, "battery_pct": 80})
    return points


async def main(settings: Settings, points: int) -> None:
    state = build_state(settings)
    await state.redis.flushdb()  # the benchmark's own database: what an earlier run left
    await claim(state.redis, settings)
    rng = random.Random(11)
    now = datetime.now(UTC)
    print("loading the demo data and a fleet of", GBFS_VEHICLES, "vehicles ...", flush=True)
    async with state.sessionmaker() as session:
        await load(session, clock=state.clock, policy=state.policy)
        await load_fleet(session, now=now)
        await prepare_telemetry(session, now=now, retention_days=90)
        partner = (await session.execute(text("SELECT id FROM mobility_providers ORDER BY code LIMIT 1"))).scalar_one()
        extra = GBFS_VEHICLES - 80
        made = await register_vehicles(
            session,
            [
                NewVehicle("scooter" if i % 4 else "ebike", partner, f"BX-{i:05d}", f"iot-bx-{i:05d}", 90)
                for i in range(extra)
            ],
        )
        for index, (vehicle, _) in enumerate(made):
            spread = 900 if index < NEARBY_VEHICLES else 3000  # the first 5,000 crowd the village
            lon, lat = offset(*CENTRE, east_m=rng.uniform(-spread, spread), north_m=rng.uniform(-spread, spread))
            await deploy(session, vehicle.id, lon=lon, lat=lat, now=now)
        await session.commit()
        keys = [(vehicle.device_id, key) for vehicle, key in made]
        await live.rebuild(state.redis, session)
    app = create_app(state=state)
    configure_logging(json=False, level=logging.WARNING)  # the access log would print every request
    freeze_start_up_objects()  # as `maeul serve` does at start-up (the app's lifespan)
    result: dict[str, object] = {"points": points, "batch": BATCH}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            batches = points // BATCH
            start = now - timedelta(hours=3)
            bodies = [(keys[b % len(keys)], {"points": track(rng, start, BATCH)}) for b in range(batches)]
            # the devices' JSON and the baseline's rows are made before any clock starts: encoding is the devices'
            # work, not the server's, and the baseline writes rows it has in hand
            payloads = [(device, key, json.dumps(body).encode()) for (device, key), body in bodies]
            ghosts = [uuid.uuid4() for _ in bodies]  # other vehicle ids: the same rows would be duplicates
            rows = [
                [(ghost, datetime.fromisoformat(p["at"]), p["lon"], p["lat"], p["battery_pct"]) for p in body["points"]]
                for ghost, (_, body) in zip(ghosts, bodies, strict=True)
            ]
            print(
                f"ingesting {batches * BATCH:,} points through POST /telemetry, each batch followed by the baseline:"
                " the same points straight to Redis (GEOADD) and PostgreSQL (COPY) ...",
                flush=True,
            )
            accepted, timed_accepted, ingest_s, baseline_s = 0, 0, 0.0, 0.0
            async with state.engine.connect() as connection:
                raw = await connection.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                # batch by batch in turn, so that both sides see the same (noisy) machine
                for index, ((device, key, payload), ghost, records) in enumerate(
                    zip(payloads, ghosts, rows, strict=True)
                ):
                    timed = index >= WARM_UP
                    began = time.perf_counter()
                    response = await client.post(
                        "/telemetry",
                        content=payload,
                        headers={"Content-Type": "application/json", "X-Device-Id": device, "X-Device-Key": key},
                    )
                    ingest_s += (time.perf_counter() - began) * timed
                    accepted += response.json()["accepted"]
                    timed_accepted += response.json()["accepted"] * timed
                    began = time.perf_counter()
                    pipe = state.redis.pipeline(transaction=False)
                    for _, _, lon, lat, _ in records:
                        pipe.geoadd("bench:geo", (lon, lat, str(ghost)))
                    await pipe.execute()
                    await driver.copy_records_to_table(
                        "telemetry", records=records, columns=["vehicle_id", "at", "lon", "lat", "battery_pct"]
                    )
                    baseline_s += (time.perf_counter() - began) * timed
            ingest_rate = timed_accepted / ingest_s
            baseline_rate = (batches - WARM_UP) * BATCH / baseline_s
            result["ingest_points_per_s"] = round(ingest_rate)
            result["accepted"] = accepted
            result["baseline_points_per_s"] = round(baseline_rate)
            result["ingest_ratio"] = round(ingest_rate / baseline_rate, 3)

            token = await client.post(
                "/auth/token", data={"username": "resident@maeul.demo", "password": DEMO_PASSWORD}
            )
            rider = {"Authorization": f"Bearer {token.json()['access_token']}"}
            print("nearby search with", NEARBY_VEHICLES, "vehicles in the village ...", flush=True)
            nearby_ms = []
            for _ in range(300):
                lon, lat = offset(*CENTRE, east_m=rng.uniform(-500, 500), north_m=rng.uniform(-500, 500))
                began = time.perf_counter()
                response = await client.get("/rides/nearby", params={"lon": lon, "lat": lat}, headers=rider)
                nearby_ms.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200 and response.json(), response.text
            result["nearby_p50_ms"] = round(statistics.median(nearby_ms), 2)
            result["nearby_p95_ms"] = round(percentile(nearby_ms, 0.95), 2)

            print("GBFS vehicle_status with", GBFS_VEHICLES, "vehicles from the cache ...", flush=True)
            async with state.sessionmaker() as session:
                await feeds.refresh(session, state.redis, now=state.clock.now(), ttl=30, timezone="Asia/Seoul")
            gbfs_ms = []
            for _ in range(100):
                began = time.perf_counter()
                response = await client.get("/gbfs/vehicle_status.json")
                gbfs_ms.append((time.perf_counter() - began) * 1000)
            result["gbfs_vehicles"] = len(response.json()["data"]["vehicles"])
            result["gbfs_vehicle_status_p95_ms"] = round(percentile(gbfs_ms, 0.95), 2)
    finally:
        await close_state(state)
    result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # the first WARM_UP batches are not timed: at least one more is
    parser.add_argument("--points", type=at_least((WARM_UP + 1) * BATCH, int), default=200_000)
    args = parser.parse_args()
    bench_settings = Settings(database_name="maeul_mobility_bench")
    services.up(bench_settings)
    # a Redis database of its own (core.redis.claim): not `make demo`'s, whose live fleet index it would overwrite
    bench_settings = bench_settings.model_copy(update={"redis_url": redis_database(bench_settings, 8)})
    services.drop_database(bench_settings, bench_settings.database_name)
    services.ensure_database(bench_settings, bench_settings.database_name)
    upgrade(database_url(bench_settings))
    asyncio.run(main(bench_settings, args.points))
