"""The scripts' arguments (bench.arguments): a bad number or name is a usage error naming the argument, exit 2, before
anything starts."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.arguments import at_least, listed, one_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "arguments", "message"),
    [
        # fewer points than the untimed warm-up divided by zero after a minute of set-up
        ("bench/bench_mobility.py", ["--points", "2500"], "argument --points: 2500 is out of range: at least 3000"),
        ("bench/bench_matching.py", ["--only", "village,town"], "argument --only: 'town' is not one of village"),
        ("bench/bench_dispatch.py", ["--limits", "2,nan"], "argument --limits: nan is out of range"),
        ("loadtests/run.py", ["--users", "many"], "argument --users: 'many' is not a number"),
    ],
)
def test_a_script_refuses_a_bad_argument_before_it_starts(script: str, arguments: list[str], message: str) -> None:
    run = subprocess.run([sys.executable, script, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_dispatch_benchmark_names_an_instance_it_does_not_have() -> None:
    run = subprocess.run(
        [sys.executable, "bench/bench_dispatch.py", "--only", "lc101,lc999"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "has no instance named lc999" in run.stderr
    assert "Traceback" not in run.stderr


def test_dispatch_benchmark_names_what_is_wrong_with_its_instances(tmp_path: Path) -> None:
    """The script's other refusals (each a `SystemExit` with a message, as the run above exits)."""
    from bench.bench_dispatch import main

    with pytest.raises(SystemExit, match="has no BKS.json"):
        main(tmp_path, [1.0], None)
    (tmp_path / "BKS.json").write_text('{"x1": {"vehicles": 1, "distance": 1.0}}')
    (tmp_path / "x1.txt").write_text("1\t10\t1\n0\t0\t0\t0\t0\t100\t0\t0\n")
    with pytest.raises(SystemExit, match="x1.txt:2: expected node 0 with 9 columns"):
        main(tmp_path, [1.0], None)


def test_types_parse_what_they_accept_and_name_what_they_refuse() -> None:
    assert listed(at_least(0.01, float))("2, 10") == [2.0, 10.0]
    assert at_least(3000, int)("3000") == 3000
    assert one_of(["village", "district"])("district") == "district"
    for parse, text, message in [
        (listed(at_least(0.01, float)), "2,,10", "'' is not a number"),
        (at_least(1, int), "1.5", "'1.5' is not a number"),
        (at_least(0.01, float), "inf", "inf is out of range: at least 0.01 is needed"),
        (listed(one_of(["village", "district"])), "village,city", "'city' is not one of village, district"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
            parse(text)
