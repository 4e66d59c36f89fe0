"""Process pools: CPU-heavy work (the matching solver) never runs on an event loop."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def solver_pool(workers: int = 2) -> ProcessPoolExecutor:
    """Worker processes start on first use (forkserver: clean children, quick to start after the first)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"))
