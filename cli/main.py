"""The `maeul` command. It is the composition root, so it imports the API and the simulator lazily."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from core import services
from core.errors import DomainError
from core.redis import RedisServesAnother, claim, make_redis
from core.settings import Settings, get_settings

app = typer.Typer(help="maeul: shared parking and micro-mobility for Sangsalmi village.", no_args_is_help=True)
services_app = typer.Typer(help="The private PostgreSQL + PostGIS and Redis under ./.maeul/", no_args_is_help=True)
app.add_typer(services_app, name="services")
ledger_app = typer.Typer(help="The tamper-evident ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


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
    from cars.rules import CarRules
    from core.clock import SystemClock
    from core.db import make_engine, make_sessionmaker
    from mobility.ingest import prepare_telemetry
    from mobility.live import rebuild
    from parking.policy import BookingPolicy
    from sim.fleet import load_fleet, load_happiness_cars
    from sim.pilot import load

    engine = make_engine(settings)
    now = SystemClock().now()
    try:
        async with make_sessionmaker(engine)() as session:
            result = await load(session, clock=SystemClock(), policy=BookingPolicy.from_settings(settings), seed=seed)
            fleet = await load_fleet(session, now=now, seed=seed)
            await load_happiness_cars(session, rules=CarRules.from_settings(settings), now=now)
            await prepare_telemetry(session, now=now, retention_days=settings.telemetry_retention_days)
            await session.commit()
            redis = make_redis(settings)
            try:
                await claim(redis, settings)
                await rebuild(redis, session)
                from sim.live import CAUGHT_UP, REACHED

                await redis.delete(CAUGHT_UP)  # a demo starting: its village has not caught up yet
                if result.created:  # a new village: its simulated last day starts again
                    await redis.delete(REACHED)
            finally:
                await redis.aclose()
    finally:
        await engine.dispose()
    verb = "loaded" if result.created else "already present:"
    typer.echo(f"Sangsalmi demo data {verb} {result.slots} slots in {result.lots} lots, {result.accounts} accounts")
    typer.echo(f"Shared fleet {'deployed' if fleet.created else 'already present'}: {fleet.vehicles} vehicles")


async def _serve_with_worker(settings: Settings, host: str, port: int) -> None:
    """The API and the background worker (tree heads, anchoring) in one process, for the demo."""
    import uvicorn
    from arq.worker import Worker

    from jobs import worker_settings

    server = uvicorn.Server(
        uvicorn.Config("api.app:create_app", factory=True, host=host, port=port, log_level="warning")
    )
    # the demo rides a few scooters around so the GBFS and MDS feeds move while a newcomer watches
    simulated = settings.demo_simulated_rides or 5
    worker = Worker(**worker_settings(settings.model_copy(update={"demo_simulated_rides": simulated})))
    running = asyncio.create_task(worker.async_run())

    def worker_stopped(task: asyncio.Task[None]) -> None:
        """The worker must not die silently beside a serving API (no tree heads, no anchors, nothing said)."""
        if not task.cancelled() and task.exception() is not None:
            typer.secho(f"error: the demo's worker stopped: {task.exception()!r}; stopping the demo", err=True)
            server.should_exit = True

    running.add_done_callback(worker_stopped)
    village = None
    if settings.demo_simulation_speedup:  # the last day's simulated village, so the KPIs and dashboards move
        from sim import live

        village = asyncio.create_task(live.supervise(settings))  # its own process, started again if it dies
    try:
        await server.serve()
    finally:
        running.cancel()
        await worker.close()
        if village is not None:
            village.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await village


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
    if settings.env == "production":
        _fail(ValueError("maeul demo loads accounts whose password is published: refused with MAEUL_ENV=production"))
    host = host or settings.api_host
    port = port or settings.api_port
    try:
        _print_status(services.up(settings))
        _migrate(settings)
    except services.ServiceError as error:
        _fail(error)
    try:
        asyncio.run(_load_demo(settings, seed))
    except RedisServesAnother as error:
        _fail(error)
    base = f"http://{host}:{port}"
    typer.echo(
        f"\nmaeul API      {base}\n"
        f"API docs       {base}/docs\n"
        f"dashboards     {base}/pages (city@maeul.demo, operator@maeul.demo)\n"
        f"health         {base}/health\n"
        f"try a search   {base}/slots/search?lat=37.5205&lon=126.7795&start=<ISO time>&end=<ISO time>"
        f" (sign in first)\n\nDemo accounts (password '{DEMO_PASSWORD}'):"
    )
    for account in HEADLINE_ACCOUNTS:
        typer.echo(f"  {account.role:<9} {account.email:<22} {account.display_name}")
    chain = settings.chain_endpoint()
    if chain is not None:
        typer.echo(
            "\nVerify a receipt yourself against the chain (once the first anchor is in, a few seconds):\n"
            f"  maeul verify --api {base} --chain-url {chain} --leaf-index 0"
        )
    if serve:
        typer.echo("\nServing, with the ledger worker; press Ctrl-C to stop.")
        try:
            asyncio.run(_serve_with_worker(settings, host, port))
        except KeyboardInterrupt:
            pass  # uvicorn shut down cleanly, then re-raised the Ctrl-C it captured
        typer.echo("stopped")


@app.command()
def calibrate(
    save: Annotated[bool, typer.Option(help="write the fit to sim/calibrated.toml")] = True,
) -> None:
    """Fit the simulator's three free parameters to the pilot's `before` column (in memory, every seed), print each
    round and the fit."""
    from sim import calibration
    from sim.sangsalmi import Assumptions

    assumptions = Assumptions.load()
    typer.echo("Fitting visitors (weekday, weekend) and the through-traffic share to the `before` column...")
    fit = asyncio.run(
        calibration.fit(
            assumptions, detour=get_settings().walk_detour_factor, report=lambda r: typer.echo(".", nl=False)
        )
    )
    typer.echo("\n" + fit.table(calibration.targets(assumptions)))
    demand = fit.demand
    typer.echo(
        f"\nfit: {demand.visitors_weekday:.2f} visitors a weekday, {demand.visitors_weekend:.2f} a weekend day, "
        f"{demand.through_traffic_share:.2%} of entering vehicles pass through"
    )
    if save:
        calibration.save(demand)
        typer.echo(f"written to {calibration.CALIBRATED}")


@app.command()
def simulate(
    scenario: Annotated[str, typer.Option(help="before, pilot or maeul (sim/assumptions.toml [scenarios])")] = "maeul",
    days: Annotated[int, typer.Option(min=1, max=28, help="days from a Monday")] = 7,
    seed: Annotated[int, typer.Option(help="the population's seed")] = 1,
    database: Annotated[str, typer.Option(help="the run's own database (dropped and made again)")] = "maeul_sim",
    keep: Annotated[bool, typer.Option(help="keep the database afterwards, to look at its rows")] = False,
) -> None:
    """Play the Sangsalmi village through maeul's real services for `days` days (the calibrated demand of
    sim/calibrated.toml), then print the KPIs the city reads from the rows, day by day."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from sim import calibration
    from sim.runner import run
    from sim.sangsalmi import Assumptions
    from sim.scenarios import SCENARIOS

    if scenario not in SCENARIOS:
        raise typer.BadParameter(f"one of {', '.join(SCENARIOS)}", param_hint="--scenario")
    settings = get_settings()
    try:
        services.database_up(settings)
    except services.ServiceError as error:
        _fail(error)
    demand = calibration.load()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[at]}"), TimeElapsedColumn())
    with Progress(*columns, TimeRemainingColumn()) as bar:
        task = bar.add_task(f"{scenario}, seed {seed}", total=days * 24, at="")
        result = asyncio.run(
            run(
                settings,
                Assumptions.load(),
                demand,
                scenario=scenario,
                seed=seed,
                days=days,
                database=database,
                keep=keep,
                progress=lambda at: bar.update(task, advance=1, at=at.strftime("%a %H:%M")),
            )
        )
    typer.echo(
        "| day | type | entering | illegal | supply ratio | shared slots booked | drivers served | mean walk m |"
    )
    typer.echo("|---|---|---|---|---|---|---|---|")
    for day in result.days:
        k = day.kpis
        typer.echo(
            f"| {day.day} | {day.day_type} | {k['entering_vehicles']} | {k['illegal_parking']} | {k['supply_ratio']} "
            f"| {k['shared_slots_supplied']} | {day.drivers_served} of {day.needs} | {day.mean_walk_m} |"
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (about one per core)")] = 1,
) -> None:
    """Serve the API only (services and migrations are expected to be in place)."""
    from core.serving import serve as run

    settings = get_settings()
    run(
        "api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers,
    )


@app.command()
def backup(
    output: Annotated[Path | None, typer.Option(help="file to write [maeul-<database>-<UTC time>.dump]")] = None,
    url: Annotated[str | None, typer.Option(help="database URL [MAEUL_DATABASE_URL or the private cluster]")] = None,
) -> None:
    """Back up the whole database (pg_dump, custom format)."""
    from datetime import UTC, datetime

    from core.backup import BackupError
    from core.backup import backup as dump
    from core.db import database_url

    settings = get_settings()
    try:
        if url is None and settings.manages_database:
            services.up(settings)
        source = url or database_url(settings)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = output or Path(f"maeul-{make_url(source).database}-{stamp}.dump")
        dump(source, target)
    except (BackupError, services.ServiceError) as error:
        _fail(error)
    typer.echo(f"backed up {make_url(source).database} to {target} ({target.stat().st_size:,} bytes)")


@app.command()
def restore(
    dump: Annotated[Path, typer.Argument(help="a file written by `maeul backup`")],
    url: Annotated[str | None, typer.Option(help="database URL [MAEUL_DATABASE_URL or the private cluster]")] = None,
    replace: Annotated[bool, typer.Option(help="private cluster: drop the database first if it has data")] = False,
) -> None:
    """Restore a backup into an empty database (created in the private cluster if missing), in one transaction."""
    from core.backup import BackupError, is_empty
    from core.backup import restore as load
    from core.db import database_url

    settings = get_settings()
    try:
        if not dump.is_file():  # before anything is dropped
            raise BackupError(f"no backup at {dump}")
        if url is None and settings.manages_database:
            services.up(settings)
            if replace:
                services.drop_database(settings, settings.database_name)
            services.ensure_database(settings, settings.database_name)
        target = url or database_url(settings)
        if not is_empty(target):
            hint = "pass --replace to drop it first" if url is None and settings.manages_database else "empty it first"
            raise BackupError(f"database {make_url(target).database} is not empty: {hint}")
        load(target, dump)
    except (BackupError, services.ServiceError) as error:
        _fail(error)
    typer.echo(f"restored {dump} into {make_url(target).database}; check it with `maeul ledger audit`")


admin_app = typer.Typer(help="Accounts of the people who run maeul.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="the admin's email (the sign-in name)")],
    name: Annotated[str, typer.Option(help="display name")] = "maeul admin",
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
) -> None:
    """The first admin of a deployment (production too): the API creates every later account. The password is
    asked for twice (or read from standard input), never given on the command line."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not 10 <= len(password) <= 200:
        _fail(ValueError("the password is 10 to 200 characters"))
    settings = get_settings()
    try:
        account_id = asyncio.run(_create_admin(settings, email, name, password))
    except (ValueError, DomainError) as error:
        _fail(error)
    typer.echo(f"admin {email} created ({account_id})")


async def _create_admin(settings: Settings, email: str, name: str, password: str) -> str:
    from accounts.models import Role
    from accounts.service import create_account
    from core.db import make_engine, make_sessionmaker

    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            account = await create_account(session, email=email, password=password, display_name=name, role=Role.ADMIN)
            await session.commit()
            return str(account.id)
    finally:
        await engine.dispose()


@app.command("settings")
def settings_reference(
    output: Annotated[Path | None, typer.Option(help="write the reference here instead of printing it")] = None,
) -> None:
    """Every MAEUL_* setting with its default and meaning (`make docs` keeps docs/configuration.md)."""
    from core.settings import reference

    if output is None:
        typer.echo(reference(), nl=False)
    else:
        output.write_text(reference())
        typer.echo(f"wrote {output}")


@app.command()
def openapi(
    output: Annotated[Path | None, typer.Option(help="write the document here instead of printing it")] = None,
) -> None:
    """The API contract: the OpenAPI document the API serves at /openapi.json (`make openapi` keeps openapi.json)."""
    import json

    from api.app import create_app

    document = json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(document, nl=False)
    else:
        output.write_text(document)
        typer.echo(f"wrote {output}")


@app.command()
def worker() -> None:
    """Run the background worker (arq on Redis): publish signed tree heads, anchor them on the chain."""
    from arq.worker import Worker
    from prometheus_client import start_http_server

    from jobs import worker_settings

    settings = get_settings()
    if settings.worker_metrics_port is not None:
        start_http_server(settings.worker_metrics_port, addr=settings.api_host)
    try:
        Worker(**{**worker_settings(settings), "handle_signals": True}).run()
    except RedisServesAnother as error:
        _fail(error)


@app.command()
def verify(
    api: Annotated[str, typer.Option(help="base URL of a maeul API")] = "http://127.0.0.1:8000",
    leaf_index: Annotated[int | None, typer.Option(help="the receipt's leaf index")] = None,
    leaf_hash: Annotated[str | None, typer.Option(help="the receipt's leaf hash (hex)")] = None,
    chain_url: Annotated[str | None, typer.Option(help="EVM JSON-RPC URL holding the anchors")] = None,
    contract: Annotated[str | None, typer.Option(help="anchor contract address (default: as the API says)")] = None,
    public_key: Annotated[str | None, typer.Option(help="pin the log's Ed25519 key (base64)")] = None,
    state: Annotated[
        Path | None,
        typer.Option(help="file keeping, per log, the last tree head seen and the pinned key [~/.maeul-verify.json]"),
    ] = None,
    forget: Annotated[
        str | None, typer.Option(help="forget what is remembered of the log with this origin (it was recreated)")
    ] = None,
) -> None:
    """Verify a receipt yourself: entry hash, inclusion, tree head signature, consistency with the last tree head
    seen of that log, and the root anchored on the chain. Exit 0: verified; 1: a check failed; 2: not yet
    anchored/checked."""
    import base64

    import httpx

    from ledger import verify as monitor
    from ledger.chain import Chain
    from ledger.verify import load_state, save_state, verify_receipt

    state_file = state or Path.home() / ".maeul-verify.json"
    if forget is not None:
        memory = load_state(state_file)
        if not monitor.forget(memory, forget):
            known = ", ".join(name or "(unnamed, from an older verifier)" for name in memory["logs"]) or "none"
            typer.secho(f"no log {forget!r} is remembered in {state_file}; known: {known}", fg=typer.colors.RED)
            raise typer.Exit(1)
        save_state(state_file, memory)
        typer.echo(f"forgot log {forget}; its next receipt is checked as a first use")
        raise typer.Exit(0)
    if leaf_index is None and leaf_hash is None:
        typer.secho("give --leaf-index or --leaf-hash (from a receipt)", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)

    async def run() -> int:
        chain = Chain.connect(chain_url) if chain_url else None
        async with httpx.AsyncClient(base_url=api, timeout=30) as client:
            result, new_state = await verify_receipt(
                client,
                leaf_index=leaf_index,
                leaf_hash=leaf_hash,
                chain=chain,
                contract=contract,
                public_key=base64.b64decode(public_key) if public_key else None,
                state=load_state(state_file),
            )
        save_state(state_file, new_state)
        for check in result.checks:
            colour = {"ok": typer.colors.GREEN, "FAILED": typer.colors.RED}.get(check.outcome, typer.colors.YELLOW)
            typer.secho(f"{check.outcome:<8} {check.name:<28} {check.detail}", fg=colour)
        verdict = {0: "verified", 1: "VERIFICATION FAILED", 2: "verified so far; not everything could be checked"}
        typer.echo(verdict[result.exit_code])
        return result.exit_code

    raise typer.Exit(asyncio.run(run()))


@ledger_app.command("audit")
def ledger_audit(
    chain_url: Annotated[str | None, typer.Option(help="check anchors on this chain (default MAEUL_CHAIN_URL)")] = None,
) -> None:
    """Recompute the whole tree from the stored entries; compare with every node, tree head and anchor."""
    from core.db import make_engine, make_sessionmaker
    from ledger.audit import audit
    from ledger.chain import Chain
    from ledger.signing import signer_for

    settings = get_settings()
    url = chain_url or settings.chain_endpoint()

    async def run() -> int:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine)() as session:
                report = await audit(
                    session, public_key=signer_for(settings).public_key, chain=Chain.connect(url) if url else None
                )
        finally:
            await engine.dispose()
        typer.echo(
            f"{report.entries} entries, {report.tree_heads} tree heads, {report.anchors_checked} anchors checked"
            + ("" if url else " (no chain URL: anchors not checked)")
        )
        for problem in report.problems:
            typer.secho(f"PROBLEM  {problem}", fg=typer.colors.RED)
        if report.first_bad_index is not None:
            typer.secho(f"first bad index: {report.first_bad_index}", fg=typer.colors.RED)
        typer.echo("audit passed" if report.ok else "AUDIT FAILED")
        return 0 if report.ok else 1

    raise typer.Exit(asyncio.run(run()))
