"""Migrations and models agree, and migrations go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core import services
from core.db import database_url
from core.migrate import alembic_config, current_heads, upgrade
from core.settings import Settings
from migrations.models import Base


def _ignore_postgis(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """PostGIS's own table, and the partitions of telemetry (daily ones made by the worker, the DEFAULT one by a
    migration in SQL: partitions are not mapped), with their indexes."""
    if type_ == "index" and getattr(obj, "table", None) is not None:
        name = obj.table.name
        type_ = "table"
    return not (
        type_ == "table"
        and (name == "spatial_ref_sys" or name.startswith("telemetry_p") or name == "telemetry_default")
    )


async def test_models_match_migrations(engine: AsyncEngine):
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"include_object": _ignore_postgis}), Base.metadata
            )
        )
    assert diff == []


def test_downgrade_and_upgrade_on_a_scratch_database(settings: Settings, database: str):
    scratch = settings.model_copy(update={"database_name": "maeul_migration_test"})
    services.drop_database(scratch, scratch.database_name)
    services.ensure_database(scratch, scratch.database_name)
    url = database_url(scratch)
    upgrade(url)
    from alembic import command

    command.downgrade(alembic_config(url), "base")
    upgrade(url)
    import asyncio

    async def version() -> str:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            value = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        await engine.dispose()
        return str(value)

    assert asyncio.run(version()) in current_heads()
    services.drop_database(scratch, scratch.database_name)
