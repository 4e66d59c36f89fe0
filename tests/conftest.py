"""Test fixtures: real PostgreSQL + PostGIS and Redis (started by the repo's own services manager), one migrated
test database per run, and one transaction per test rolled back at the end."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from accounts.models import Account, Role
from api.app import create_app
from api.deps import get_session
from api.state import AppState, build_state, close_state
from billing.models import PaymentHold, Tariff
from core import services
from core.clock import FixedClock
from core.db import database_url
from core.idempotency import IdempotencyKey
from core.migrate import upgrade
from core.serving import wait_until_answering
from core.settings import Settings
from geo.models import Zone
from parking.models import Booking, Lot, MatchRequest, SharingRule, Slot
from sim.pilot import load
from tests.factories import POLICY, SolveWatch, free_port, load_demo_template, start_demo

KST = ZoneInfo("Asia/Seoul")
# Monday 23 November 2026, 07:00 in Seoul: the tests' "now".
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=KST)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI nothing may be skipped: every service is installed there, so a skip hides a missing test."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(f"FAILED: {skipped} test(s) skipped in CI", red=True)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(
        env="test",
        database_name="maeul_test",
        local_chain="in-process",
        redis_url=os.environ.get("MAEUL_REDIS_URL") or f"redis://127.0.0.1:{Settings().redis_port}/1",
        db_pool_size=20,
        db_max_overflow=60,
        # the tests' plans are of a handful of vehicles, vans and requests, solved in well under a second; the defaults
        # (5 s a crew plan, 2 s a van re-plan, 2 s a matching batch) are for a district
        rebalance_time_limit_s=1.0,
        shuttle_reoptimise_time_limit_s=0.5,
        matching_time_limit_s=0.5,
    )


@pytest.fixture(scope="session")
def database(settings: Settings) -> str:
    """A freshly migrated test database; its URL."""
    if settings.manages_database:
        services.up(settings.model_copy(update={"redis_url": None}))
        services.drop_database(settings, settings.database_name)
        services.ensure_database(settings, settings.database_name)
    url = database_url(settings)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def pilot_database(settings: Settings, database: str) -> str:
    """A second test database holding the Sangsalmi demo data (`sim.pilot.load` at the tests' clock), built once in
    the session for the tests marked `pilot_data`: each of them used to load it into its own transaction, seconds
    apiece. Their changes are rolled back like any test's, so it stays as loaded."""
    name = f"{settings.database_name}_pilot"
    services.drop_database(settings, name)
    services.ensure_database(settings, name)
    url = database_url(settings.model_copy(update={"database_name": name}))
    upgrade(url)

    async def load_pilot() -> None:
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine) as session:
                loaded = await load(session, clock=FixedClock(NOW), policy=POLICY)
                assert loaded.created and loaded.slots == 280  # a fresh database: the load made it all
                await session.commit()
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as thread:  # a loop of its own: the tests' loop is pytest-asyncio's
        thread.submit(asyncio.run, load_pilot()).result()
    return url


@pytest.fixture
def test_database(request: pytest.FixtureRequest, database: str) -> str:
    """The database a test runs on: the migrated test database, or the one with the demo data (`pilot_data`)."""
    if request.node.get_closest_marker("pilot_data") is None:
        return database
    pilot: str = request.getfixturevalue("pilot_database")
    return pilot


@pytest.fixture(scope="session")
async def engines() -> AsyncIterator[dict[str, AsyncEngine]]:
    """One engine per test database, for the whole session."""
    made: dict[str, AsyncEngine] = {}
    yield made
    for engine in made.values():
        await engine.dispose()


@pytest.fixture
def engine(engines: dict[str, AsyncEngine], test_database: str) -> AsyncEngine:
    if test_database not in engines:
        engines[test_database] = create_async_engine(
            test_database, pool_size=5, connect_args={"server_settings": {"timezone": "UTC"}}
        )
    return engines[test_database]


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """The test's session: what routes commit is a savepoint inside the test's transaction."""
    async with AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    ) as session:
        yield session


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def state(settings: Settings, test_database: str, clock: FixedClock) -> AsyncIterator[AppState]:
    state = build_state(settings, clock=clock, database_url=test_database)
    await state.redis.flushdb()
    yield state
    await close_state(state)


@pytest.fixture
def solve_watch() -> Iterator[SolveWatch]:
    """A solver pool that notes the ledger's appends at each solve (`SolveWatch`); a test installs it as the app's."""
    with SolveWatch() as watch:
        yield watch


@asynccontextmanager
async def asgi_client(state: AppState, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app built from `state`, whose requests use the test's session."""
    app = create_app(state.settings, state=state)

    async def test_session() -> AsyncIterator[AsyncSession]:
        """Like `get_session`: each request is its own unit of work. The commit before it keeps the test's own
        set-up; a failing request rolls back to there (all inside the test's transaction)."""
        await session.commit()
        try:
            yield session
        except Exception:
            await session.rollback()
            raise

    app.dependency_overrides[get_session] = test_session
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://maeul.test") as client:
        yield client


@pytest.fixture
async def client(state: AppState, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(state, session) as client:
        yield client


@pytest.fixture
async def redis(state: AppState) -> Redis:
    return state.redis


@pytest.fixture(scope="session")
def live_server(settings: Settings, database: str) -> Iterator[str]:
    """A real uvicorn server on loopback, committing to the test database: for concurrency over real HTTP."""
    app = create_app(settings.model_copy(update={"database_url": database}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[dict[str, object]]:
    """A committed slot (always shared) and driver accounts; removed again afterwards (ledger entries stay: the
    ledger and the payment journal are append-only)."""
    from tests.factories import make_account, make_slot, make_zone

    now = datetime.now(UTC)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        zone_ids = set((await session.execute(select(Zone.id))).scalars())
        await make_zone(session)
        owner = await make_account(session, role=Role.OWNER)
        slot_id = await make_slot(session, owner=owner, east_m=5, now=now)
        drivers = [await make_account(session) for _ in range(3)]
        await session.commit()
    yield {"slot_id": slot_id, "drivers": drivers}
    async with AsyncSession(engine) as session:
        account_ids = [owner.id] + [d.id for d in drivers]
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.account_id.in_(account_ids)))
        await session.execute(delete(MatchRequest).where(MatchRequest.driver_id.in_(account_ids)))
        await session.execute(delete(PaymentHold).where(PaymentHold.driver_id.in_(account_ids)))
        await session.execute(delete(Booking).where(Booking.slot_id == slot_id))
        await session.execute(delete(SharingRule).where(SharingRule.slot_id == slot_id))
        await session.execute(delete(Slot).where(Slot.id == slot_id))
        await session.execute(delete(Lot).where(Lot.owner_id == owner.id))
        await session.execute(delete(Account).where(Account.id.in_(account_ids)))
        await session.execute(delete(Tariff).where(Tariff.zone_id.not_in(zone_ids)))
        await session.execute(delete(Zone).where(Zone.id.not_in(zone_ids)))
        await session.commit()


DEMO_REDIS_DB = 2  # the session's demo (tests use 1)


@pytest.fixture(scope="session")
def demo_template(settings: Settings, database: str) -> str:
    """The Sangsalmi demo loaded once a session (`maeul demo --no-serve`) into the database the tests' demos copy."""
    return load_demo_template(settings)


@pytest.fixture(scope="session")
def demo_api(
    settings: Settings, database: str, demo_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`maeul demo` in a subprocess, as a newcomer runs it, for the whole session (the contract's schemathesis runs
    and the dashboards in a browser): its simulated village plays today at a high speed-up, so the KPIs have rows."""
    port = free_port()
    env = {
        # schemathesis makes more requests a minute than the rate limits let one account or address (a 429 is not
        # what its checks look for; tests/api/test_protection.py tests the limits)
        "MAEUL_RATE_LIMIT_PER_ACCOUNT": "1000000/minute",
        "MAEUL_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
        "MAEUL_DEMO_SIMULATION_SPEEDUP": "3600",
        # the tests' solver budgets (see `settings`): a 5 s crew plan under seven schemathesis roles at once and the
        # village catching up outlasted the client's 10 s timeout
        "MAEUL_REBALANCE_TIME_LIMIT_S": "1",
        "MAEUL_SHUTTLE_REOPTIMISE_TIME_LIMIT_S": "0.5",
        "MAEUL_MATCHING_TIME_LIMIT_S": "0.5",
    }
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    demo = start_demo(
        settings, "maeul_demo_session", port, log, redis_db=DEMO_REDIS_DB, template=demo_template, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(demo, f"{base}/health")
        # the worker's first round (partitions, the anchor contract's deployment) is done: the API is in its steady
        # state
        deadline = time.monotonic() + 120
        while httpx.get(f"{base}/ledger/anchoring").json()["anchored_size"] == 0:
            assert time.monotonic() < deadline, "the demo never anchored"
            time.sleep(0.5)
        yield base
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
        services.drop_database(settings, "maeul_demo_session")
