"""The documents a newcomer reads stay true: the configuration reference is the settings' own, the README stays short
and every guide it links to exists."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from core.settings import Settings, reference

ROOT = Path(__file__).resolve().parents[2]


def test_the_configuration_reference_is_made_from_the_settings():
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == reference(), "a setting changed: run `make docs` and commit docs/configuration.md"
    for name, field in Settings.model_fields.items():
        assert field.description, f"MAEUL_{name.upper()} has no description"
        assert f"`MAEUL_{name.upper()}`" in committed


def test_maeul_settings_prints_the_reference():
    printed = CliRunner().invoke(app, ["settings"])
    assert printed.exit_code == 0 and printed.output == reference()


def test_the_readme_is_short_and_its_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert max(len(line) for line in readme.splitlines()) <= 120
    links = re.findall(r"\]\(((?:docs|bench)/[^)#]+)\)", readme)
    assert links
    for link in links:
        assert (ROOT / link).is_file(), link
