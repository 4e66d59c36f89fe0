"""The `maeul` command. It is the composition root, so it imports the API and the simulator lazily."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from core import services
from core.settings import Settings, get_settings

app = typer.Typer(help="maeul: shared parking and micro-mobility for Sangsalmi village.", no_args_is_help=True)
services_app = typer.Typer(help="The private PostgreSQL + PostGIS and Redis under ./.maeul/", no_args_is_help=True)
app.add_typer(services_app, name="services")


def _print_status(rows: list[services.ServiceStatus]) -> None:
    for row in rows:
        state = {True: "running", False: "stopped", None: "-"}[row.running]
        managed = "managed here" if row.managed else "external"
        typer.echo(f"{row.name:<11} {state:<8} {managed:<13} {row.where}")


def _fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@services_app.command("up")
def services_up() -> None:
    """Create (first time) and start the local services; reuses them when already running."""
    try:
        _print_status(services.up(get_settings()))
    except services.ServiceError as error:
        _fail(error)


@services_app.command("down")
def services_down() -> None:
    """Stop the local services (data is kept)."""
    try:
        _print_status(services.down(get_settings()))
    except services.ServiceError as error:
        _fail(error)


@services_app.command("status")
def services_status() -> None:
    rows = services.status(get_settings())
    _print_status(rows)
    if any(row.running is False for row in rows):
        raise typer.Exit(3)


def _migrate(settings: Settings) -> None:
    from core.db import database_url
    from core.migrate import upgrade

    upgrade(database_url(settings))
    typer.echo("database migrated to the latest revision")


@app.command()
def migrate() -> None:
    """Apply database migrations (starting the local services if they are managed here)."""
    settings = get_settings()
    try:
        services.up(settings)
        _migrate(settings)
    except services.ServiceError as error:
        _fail(error)


async def _load_demo(settings: Settings, seed: int) -> None:
    from api.state import booking_policy
    from core.clock import SystemClock
    from core.db import make_engine, make_sessionmaker
    from sim.pilot import load

    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            result = await load(session, clock=SystemClock(), policy=booking_policy(settings), seed=seed)
            await session.commit()
    finally:
        await engine.dispose()
    verb = "loaded" if result.created else "already present:"
    typer.echo(f"Sangsalmi demo data {verb} {result.slots} slots in {result.lots} lots, {result.accounts} accounts")


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level="warning")


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="default MAEUL_API_HOST (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="default MAEUL_API_PORT (8000)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the generated pilot data")] = 2019,
    serve: Annotated[bool, typer.Option(help="serve the API after loading")] = True,
) -> None:
    """Services up, migrate, load the Sangsalmi demo data, then serve the API until Ctrl-C."""
    from sim.pilot import DEMO_PASSWORD, HEADLINE_ACCOUNTS

    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    try:
        _print_status(services.up(settings))
        _migrate(settings)
    except services.ServiceError as error:
        _fail(error)
    asyncio.run(_load_demo(settings, seed))
    base = f"http://{host}:{port}"
    typer.echo(
        f"\nmaeul API      {base}\n"
        f"API docs       {base}/docs\n"
        f"health         {base}/health\n"
        f"try a search   {base}/slots/search?lat=37.5205&lon=126.7795&start=<ISO time>&end=<ISO time>"
        f" (sign in first)\n\nDemo accounts (password '{DEMO_PASSWORD}'):"
    )
    for account in HEADLINE_ACCOUNTS:
        typer.echo(f"  {account.role:<9} {account.email:<22} {account.display_name}")
    if serve:
        typer.echo("\nServing; press Ctrl-C to stop.")
        _serve(settings, host, port)
        typer.echo("stopped")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Serve the API only (services and migrations are expected to be in place)."""
    settings = get_settings()
    _serve(settings, host or settings.api_host, port or settings.api_port)
