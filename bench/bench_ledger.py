"""Ledger benchmark: append throughput against a plain INSERT baseline measured in the same run, and proof
latency at 1,000,000 leaves. Writes bench/results/ledger.json.

    make bench-ledger          (or: uv run python bench/bench_ledger.py [--leaves N])

Uses its own database `maeul_bench` in the private cluster; the 1M-leaf log is kept there between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from bench.arguments import at_least
from core import services
from core.db import database_url
from core.migrate import upgrade
from core.settings import Settings
from ledger import log as ledger

RESULTS = Path(__file__).parent / "results" / "ledger.json"
TRANSACTIONS = 400  # business transactions per measured run
ENTRIES_PER_TRANSACTION = 5  # e.g. booking created + payment hold + ... in one unit of work
ROUNDS = 3


def realistic_records(count: int, rng: random.Random) -> list[ledger.Record]:
    start = datetime(2026, 11, 23, tzinfo=UTC)
    records = []
    for _ in range(count):
        booking = uuid.UUID(int=rng.getrandbits(128))
        begin = start + timedelta(minutes=15 * rng.randrange(0, 4 * 24 * 30))
        records.append(
            ledger.Record(
                kind=rng.choice(["booking.reserved", "booking.active", "booking.completed", "booking.cancelled"]),
                subject=f"booking:{booking}",
                at=begin,
                body={
                    "booking_id": booking,
                    "slot_id": uuid.UUID(int=rng.getrandbits(128)),
                    "start": begin,
                    "end": begin + timedelta(hours=rng.randint(1, 9)),
                    "status": "reserved",
                    "amount_krw": rng.randrange(500, 30_000, 100),
                },
            )
        )
    return records


async def plain_inserts(engine: AsyncEngine, batches: list[list[ledger.Record]]) -> float:
    """Baseline: the same rows, canonical bytes precomputed, into a plain table: no hashing, no tree, no lock."""
    rows = [
        [{"kind": r.kind, "subject": r.subject, "entry": ledger.canonical_entry(r), "created_at": r.at} for r in batch]
        for batch in batches
    ]
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS bench_plain"))
        await connection.execute(
            text(
                "CREATE TABLE bench_plain (id bigserial PRIMARY KEY, kind varchar(64) NOT NULL, subject varchar(128) "
                "NOT NULL, entry bytea NOT NULL, created_at timestamptz NOT NULL)"
            )
        )
        await connection.execute(text("CREATE INDEX ON bench_plain (subject)"))
    insert = text(
        "INSERT INTO bench_plain (kind, subject, entry, created_at) VALUES (:kind, :subject, :entry, :created_at)"
    )
    started = time.perf_counter()
    for batch in rows:
        async with engine.begin() as connection:
            await connection.execute(insert, batch)
    return sum(len(b) for b in rows) / (time.perf_counter() - started)


async def ledger_appends(engine: AsyncEngine, batches: list[list[ledger.Record]]) -> float:
    started = time.perf_counter()
    for batch in batches:
        async with AsyncSession(engine) as session:
            await ledger.append(session, *batch)
            await session.commit()
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


async def grow_to(engine: AsyncEngine, leaves: int, rng: random.Random) -> None:
    async with AsyncSession(engine) as session:
        size = await ledger.size(session)
    if size >= leaves:
        print(f"log already holds {size:,} leaves")
        return
    started = time.perf_counter()
    chunk = 10_000
    while size < leaves:
        count = min(chunk, leaves - size)
        async with AsyncSession(engine) as session:
            await ledger.append(session, *realistic_records(count, rng))
            await session.commit()
        crossed = (size + count) // 100_000 > size // 100_000
        size += count
        if crossed or size == leaves:
            print(f"  {size:>9,} leaves  ({time.perf_counter() - started:6.1f} s)", flush=True)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE ledger_entries"))
        await connection.execute(text("ANALYZE ledger_nodes"))


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[94]


async def proof_latencies(engine: AsyncEngine, leaves: int, rng: random.Random, samples: int) -> tuple[float, float]:
    inclusion, consistency = [], []
    async with AsyncSession(engine) as session:
        for _ in range(20):  # warm up
            await ledger.inclusion_proof(session, leaf_index=rng.randrange(leaves), tree_size=leaves)
        for _ in range(samples):
            index = rng.randrange(leaves)
            started = time.perf_counter()
            await ledger.inclusion_proof(session, leaf_index=index, tree_size=leaves)
            inclusion.append((time.perf_counter() - started) * 1000)
            first = rng.randrange(1, leaves)
            started = time.perf_counter()
            await ledger.consistency_proof(session, first=first, second=leaves)
            consistency.append((time.perf_counter() - started) * 1000)
    return p95(inclusion), p95(consistency)


def prepare() -> str:
    """The benchmark's own database in the private cluster, migrated; its URL."""
    settings = Settings(database_name="maeul_bench")
    services.up(settings)
    url = database_url(settings)
    upgrade(url)
    return url


async def main(url: str, leaves: int, samples: int) -> None:
    engine = create_async_engine(url, pool_size=2)
    rng = random.Random(2019)
    try:
        print(f"append: {TRANSACTIONS} transactions x {ENTRIES_PER_TRANSACTION} entries, {ROUNDS} rounds each")
        ratios, ours, plain = [], [], []
        for round_ in range(ROUNDS):
            batches = [realistic_records(ENTRIES_PER_TRANSACTION, rng) for _ in range(TRANSACTIONS)]
            baseline = await plain_inserts(engine, batches)
            measured = await ledger_appends(engine, batches)
            ratios.append(measured / baseline)
            ours.append(measured)
            plain.append(baseline)
            print(
                f"  round {round_ + 1}: ledger {measured:8.0f} entries/s, plain INSERT {baseline:8.0f}/s, "
                f"ratio {measured / baseline:.2f}"
            )
        print(f"growing the log to {leaves:,} leaves")
        await grow_to(engine, leaves, rng)
        inclusion_p95, consistency_p95 = await proof_latencies(engine, leaves, rng, samples)
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS bench_plain"))
        await engine.dispose()
    result: dict[str, float | int | str] = {
        "append_ratio_vs_insert": round(statistics.median(ratios), 3),
        "append_entries_per_s": round(statistics.median(ours)),
        "plain_insert_entries_per_s": round(statistics.median(plain)),
        "entries_per_transaction": ENTRIES_PER_TRANSACTION,
        "leaves": leaves,
        "proof_samples": samples,
        "inclusion_proof_p95_ms": round(inclusion_p95, 3),
        "consistency_proof_p95_ms": round(consistency_p95, 3),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ratio = statistics.median(ratios)
    print(
        f"targets: append ratio >= 0.5 ({'met' if ratio >= 0.5 else 'NOT met'}); "
        f"proof p95 < 5 ms at {leaves:,} leaves "
        f"({'met' if max(inclusion_p95, consistency_p95) < 5 else 'NOT met'})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaves", type=at_least(2, int), default=1_000_000)
    parser.add_argument("--samples", type=at_least(2, int), default=2000)
    args = parser.parse_args()
    asyncio.run(main(prepare(), args.leaves, args.samples))
