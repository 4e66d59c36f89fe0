"""Apply Alembic migrations programmatically (`maeul migrate`, the test session, `maeul demo`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


@cache
def current_heads() -> tuple[str, ...]:
    """The head revisions of the migration scripts shipped with this code (read once: they cannot change while the
    process runs, and parsing them took `/health` 20 ms)."""
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config("")).get_heads())
