"""`bench/bench_dispatch.py` end to end on one published instance with a short limit (and one training instance): every
solver's plans are feasible in real numbers (the bench checks them), and the JSON carries the fields the issue names
with figures that agree with each other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_bench_dispatch_writes_the_comparison(tmp_path: Path) -> None:
    output = tmp_path / "dispatch.json"
    training = tmp_path / "training"
    training.mkdir()
    (training / "lr205.txt").write_text((ROOT / "bench" / "lilim" / "lr205.txt").read_text())
    (training / "BKS.json").write_text(json.dumps({"lr205": {"vehicles": 3, "distance": 1054.02}}))
    run = subprocess.run(
        [sys.executable, "bench/bench_dispatch.py", "--only", "lc101", "--limits", "1", "--output", str(output)]
        + ["--valet-requests", "6", "--valet-seeds", "1", "--rebalance-scales", "village", "--rebalance-seeds", "1"]
        + ["--ride-seeds", "1", "--ride-hours", "0.5", "--renumberings", "2"]
        + ["--training", str(training), "--training-limit", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert "| lc101 | 1 |" in run.stdout
    result = json.loads(output.read_text())
    (row,) = result["lilim"]
    fields = {"name", "vehicles", "distance", "bks_vehicles", "bks_distance", "gap_pct", "pyvrp_vehicles"}
    assert fields | {"pyvrp_distance", "time_limit_s", "or_tools_vehicles", "or_tools_distance"} <= row.keys()
    assert row["name"] == "lc101" and row["time_limit_s"] == 1
    assert row["bks_vehicles"] == 10 and row["bks_distance"] == 828.94
    assert max(row["vehicles"], row["pyvrp_vehicles"], row["or_tools_vehicles"]) <= 25  # the file's fleet
    assert abs(row["gap_pct"] - 100 * (row["distance"] / 828.94 - 1)) < 0.01
    (summary,) = result["lilim_summary"]
    assert summary["instances"] == 1 and summary["mean_gap_pct"] == round(row["gap_pct"], 3)
    assert summary["vehicles_at_most_pyvrp"] == int(row["vehicles"] <= row["pyvrp_vehicles"])
    assert summary["or_tools_mean_gap_pct"] == round(row["or_tools_gap_pct"], 3)
    (trained,) = result["lilim200"]
    assert trained["name"] == "lr205" and trained["time_limit_s"] == 1 and "or_tools_vehicles" not in trained
    assert result["lilim200_summary"][0]["max_vehicles_over_pyvrp"] == trained["vehicles"] - trained["pyvrp_vehicles"]
    assert len(row["renumbered_vehicles"]) == len(row["renumbered_gap_pct"]) == 2  # the same instance, renumbered
    assert all(vehicles <= 10 for vehicles in row["renumbered_vehicles"])
    assert summary["mean_gap_pct_by_numbering"] == [row["gap_pct"], *row["renumbered_gap_pct"]]
    valets = result["valet"]
    for (valet,) in (valets["maeul"], valets["pyvrp"]):  # the product's choice (OR-Tools), and PyVRP
        assert (
            valet["seed"] == 1
            and valet["requests"] == 6
            and 0 < valet["accepted"] <= 6
            and valet["plan_p50_ms"] <= valet["plan_p95_ms"]
        )
        assert valet["metres_vs_insertion"] == round(valet["metres"] / valet["insertion_metres"], 3)
    assert valets["pyvrp_metres_vs_maeul_pct"] == round(
        100 * (valets["pyvrp"][0]["metres"] / valets["maeul"][0]["metres"] - 1), 2
    )
    (crews,) = result["rebalancing"]["runs"]
    assert crews["scale"] == "village" and crews["vehicles"] == 80 and crews["vans"] == 1 and crews["areas"] == 5
    assert crews["unmet"] <= crews["unmet_before"] and crews["flat_left"] <= crews["flat_before"]
    assert "| village | 0 |" in run.stdout
    rides = result["dial_a_ride"]
    assert rides["vans"] == 2 and rides["max_ride_factor"] == 2.0
    (evening,) = rides["runs"]
    for way in ("maeul", "insertion"):
        figures = evening[way]
        assert figures["served"] + figures["refused"] == evening["requests"] > 0
        assert (
            1.0 <= figures["mean_ride_over_direct"] <= 2.0 and figures["mean_wait_min"] <= 20.01
        )  # within the 20-minute pickup windows


def test_bench_dispatch_refuses_instances_without_best_known(tmp_path: Path) -> None:
    (tmp_path / "BKS.json").write_text("{}")
    (tmp_path / "mine.txt").write_text((ROOT / "bench" / "lilim" / "lc101.txt").read_text())
    run = subprocess.run(
        [sys.executable, "bench/bench_dispatch.py", "--lilim", str(tmp_path), "--output", str(tmp_path / "o.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 1 and "no best-known solution for mine" in run.stderr
