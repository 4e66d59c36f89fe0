"""Process pools: CPU-heavy work (the matching and dispatch solvers) never runs on an event loop."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor

WORKERS = 2
# imported once by the fork server, so every worker starts with the solvers loaded (about 2.5 s of imports on the
# reference machine that a first request would otherwise wait for)
SOLVER_MODULES = ["matching.solver", "ops.dispatch", "ops.rebalance"]


def solver_pool(workers: int = WORKERS) -> ProcessPoolExecutor:
    """Worker processes fork from a server that has imported the solvers (forkserver: clean children, quick to start
    after the first). Nothing starts until the first task, or `warm`."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(SOLVER_MODULES)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def warm(pool: Executor, workers: int = WORKERS) -> list[Future[None]]:
    """Start the pool's workers now, in the background (at a server's start-up), not on its first request."""
    return [pool.submit(_nothing) for _ in range(workers)]


def _nothing() -> None:
    return None
