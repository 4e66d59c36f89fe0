"""The image carries every package the wheel does (the Dockerfile lists them one by one: kpi/ and feedback/ were
missing from it once, and the API imports both)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_copies_every_package_of_the_wheel():
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE))
    assert set(wheel["packages"]) <= copied, set(wheel["packages"]) - copied
    assert {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench", "loadtests"} <= set(
        wheel["packages"]
    )
