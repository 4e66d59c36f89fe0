"""`make loadtest` works end to end: every scenario gets successful requests, the summary holds every number, and the
copy without ledger appends really skipped them while the real run logged every booking (so the ratio compares
what it says it compares). A short run: timings are the benchmark's business, not this test's."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core import services
from core.settings import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
UNLOGGED = (
    "SELECT count(*) FROM bookings b WHERE NOT EXISTS "
    "(SELECT 1 FROM ledger_entries e WHERE e.subject = 'booking:' || b.id)"
)


async def _count(url: str, sql: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


def test_load_run_measures_every_scenario_against_a_copy_without_ledger_appends(
    tmp_path: Path, database: str, demo_template: str
) -> None:
    results = tmp_path / "load.json"
    command = [sys.executable, "loadtests/run.py", "--users", "2", "--seconds", "3", "--workers", "1"]
    command += ["--demo-database", demo_template]
    run = subprocess.run(
        [*command, "--results", str(results)], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    summary = json.loads(results.read_text())
    for key in ("bare_rps", "health_rps", "search_rps", "bookings_rps", "bookings_noledger_rps", "search_p95_ms"):
        assert summary[key] > 0, (key, summary)
    assert summary["search_ratio_vs_bare"] == round(summary["search_rps"] / summary["bare_rps"], 3)
    assert "bookings_ledger_ratio" in summary and summary["users"] == 2
    assert "target >= 0.25" in run.stdout  # the targets are printed beside the measured ratios

    settings = Settings()
    logged = services.local_database_url(settings, database="maeul_load")
    unlogged = services.local_database_url(settings, database="maeul_load_noledger")
    assert asyncio.run(_count(logged, "SELECT count(*) FROM bookings")) > 0
    assert asyncio.run(_count(logged, UNLOGGED)) == 0
    assert asyncio.run(_count(unlogged, UNLOGGED)) > 0  # the bookings made there left no entries
