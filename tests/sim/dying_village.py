"""A village process that dies as it starts, for tests/sim/test_live.py: spawned, so it lives in a module of its own
that imports nothing heavy (a child imports the module of its target; the test module would take seconds)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def dies_at_once(settings: Any) -> None:
    """Counts its starts in the file `MAEUL_TEST_VILLAGE_STARTS` names, then exits with code 3."""
    with Path(os.environ["MAEUL_TEST_VILLAGE_STARTS"]).open("a") as starts:
        starts.write("started\n")
    raise SystemExit(3)
