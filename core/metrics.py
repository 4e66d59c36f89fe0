"""Prometheus metrics (prometheus-client), served by the API at /metrics and, for a separate worker process, on
`MAEUL_WORKER_METRICS_PORT`. One registry per process: with several API processes, scrape each one."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterator
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

P = ParamSpec("P")
R = TypeVar("R")

HTTP_SECONDS = Histogram(
    "maeul_http_request_duration_seconds",
    "HTTP request latency by route template, method and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MATCHING_SECONDS = Histogram(
    "maeul_matching_solve_seconds",
    "OR-Tools matching solve time by outcome",
    ["status"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10),
)
LEDGER_APPEND_SECONDS = Histogram(
    "maeul_ledger_append_seconds", "Appending entries to the ledger (in the caller's transaction)"
)
LEDGER_ENTRIES = Counter("maeul_ledger_entries_appended_total", "Entries appended to the ledger (committed or not)")
JOB_SECONDS = Histogram("maeul_worker_job_duration_seconds", "Worker job duration", ["job"])
JOBS = Counter("maeul_worker_jobs_total", "Worker job runs by outcome (ok or failed)", ["job", "outcome"])


def observed_job(job: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """A worker job whose duration and outcome are counted (the name stays the job's, arq schedules by it)."""

    @wraps(job)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            result = await job(*args, **kwargs)
        except BaseException:
            JOBS.labels(job.__name__, "failed").inc()
            raise
        finally:
            JOB_SECONDS.labels(job.__name__).observe(time.perf_counter() - started)
        JOBS.labels(job.__name__, "ok").inc()
        return result

    return run


class ScrapeCollector(Collector):
    """What is read at scrape time: the API's database connection pool and how far anchoring lags."""

    def __init__(self, engine: AsyncEngine, *, entries_not_anchored: int, seconds_not_anchored: float) -> None:
        self.engine = engine
        self.entries_not_anchored = entries_not_anchored
        self.seconds_not_anchored = seconds_not_anchored

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "maeul_anchoring_lag_entries", "Ledger entries not yet anchored", value=self.entries_not_anchored
        )
        yield GaugeMetricFamily(
            "maeul_anchoring_lag_seconds",
            "Age of the oldest entry not yet anchored",
            value=self.seconds_not_anchored,
        )
        pool = self.engine.pool
        family = GaugeMetricFamily("maeul_db_pool_connections", "Database pool connections by state", labels=["state"])
        if isinstance(pool, QueuePool):
            family.add_metric(["checked_out"], pool.checkedout())
            family.add_metric(["idle"], pool.checkedin())
            family.add_metric(["overflow"], max(pool.overflow(), 0))
            family.add_metric(["size"], pool.size())
        yield family
