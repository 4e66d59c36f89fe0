"""The `maeul` command: the services manager on a cluster of its own, and `maeul demo` as a newcomer runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from redis import Redis
from typer.testing import CliRunner

from cli.main import app
from core import services
from core.redis import CLAIM_KEY, redis_database
from core.serving import wait_until_answering
from core.settings import Settings, get_settings
from tests.factories import free_port, start_demo

MAEUL = str(Path(sys.executable).parent / "maeul")


def test_services_status_reports_the_running_services(database: str):
    started = CliRunner().invoke(app, ["services", "up"])  # idempotent: what runs is reused
    assert started.exit_code == 0, started.output
    result = CliRunner().invoke(app, ["services", "status"])
    assert result.exit_code == 0, result.output
    for service in ("postgresql", "redis", "chain", "payments"):
        assert any(line.split()[:2] == [service, "running"] for line in result.output.splitlines()), result.output


@pytest.mark.slow
def test_services_up_down_on_a_private_home(tmp_path: Path):
    """A whole new cluster and redis-server: created, reused when already up, stopped, started again."""
    settings = Settings(
        home=tmp_path / "maeul-home",
        pg_port=free_port(),
        redis_port=free_port(),
        chain_port=free_port(),
        payment_gateway_port=free_port(),
    )
    try:
        first = services.up(settings)
        running = [(s.name, s.running) for s in first]
        assert running == [("postgresql", True), ("redis", True), ("chain", True), ("payments", True)]
        assert (tmp_path / "maeul-home" / "postgres" / "data" / "PG_VERSION").exists()
        assert services.up(settings) == first  # idempotent: reused
        services.ensure_database(settings, "scratch")
        stopped = services.down(settings)
        assert [s.running for s in stopped] == [False, False, False, False]
        assert (tmp_path / "maeul-home" / "anvil" / "state.json").exists()  # the chain is kept across restarts
        assert [s.running for s in services.up(settings)] == [True, True, True, True]
    finally:
        services.down(settings)


def test_external_services_are_not_managed(tmp_path: Path):
    settings = Settings(
        home=tmp_path / "unused",
        database_url="postgresql+asyncpg://u:p@db.example:5432/x",
        redis_url="redis://cache.example:6379/0",
        chain_url="http://chain.example:8545",
        payment_gateway_url="https://payments.example",
    )
    rows = services.up(settings)
    assert [row.managed for row in rows] == [False, False, False, False]
    assert not (tmp_path / "unused").exists()


@pytest.mark.slow
def test_demo_serves_docs_and_finds_slots(settings: Settings, database: str, demo_template: str, tmp_path: Path):
    """`maeul demo` from the CLI: services, migrations, pilot data, then the API until Ctrl-C."""
    name = "maeul_demo_test"
    port = free_port()
    log = tmp_path / "demo.log"
    # without the simulated village: the session's demo (tests/conftest.py::demo_api) plays it
    environment = {"MAEUL_DEMO_SIMULATION_SPEEDUP": "0"}
    demo = start_demo(settings, name, port, log, redis_db=5, template=demo_template, env=environment)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(demo, f"{base}/health")
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        token = httpx.post(
            f"{base}/auth/token", data={"username": "resident@maeul.demo", "password": "maeul-demo-2019"}
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # the next Monday, 10:00 to 13:00 in Seoul
        seoul = datetime.now(UTC) + timedelta(hours=9)
        monday = (seoul + timedelta(days=7 - seoul.weekday())).replace(hour=1, minute=0, second=0, microsecond=0)
        params = {
            "lat": 37.5205,
            "lon": 126.7795,
            "start": monday.replace(tzinfo=UTC).isoformat(),
            "end": (monday.replace(tzinfo=UTC) + timedelta(hours=3)).isoformat(),
        }
        found = httpx.get(f"{base}/slots/search", params=params, headers=headers)
        assert found.status_code == 200 and len(found.json()["items"]) > 0, found.text
        slot = found.json()["items"][0]["slot"]["id"]
        body = {"slot_id": slot, "start": params["start"], "end": params["end"], "vehicle_plate": "12가3456"}
        receipt = httpx.post(f"{base}/bookings", json=body, headers=headers).json()["receipts"][0]
        # the worker running beside the API publishes a tree head and anchors it on the demo's anvil node
        deadline = time.monotonic() + 120  # a slow CI machine: the worker beside the API anchors every second
        while httpx.get(f"{base}/ledger/anchoring").json()["anchored_size"] <= receipt["leaf_index"]:
            assert time.monotonic() < deadline, httpx.get(f"{base}/ledger/anchoring").text
            time.sleep(0.5)
        # what the demo tells a newcomer to run verifies, against the real chain node: exit 0
        chain = f"http://127.0.0.1:{Settings().chain_port}"
        for leaf in (0, receipt["leaf_index"]):
            verify = [MAEUL, "verify", "--api", base, "--chain-url", chain, "--leaf-index", str(leaf)]
            verify += ["--state", str(tmp_path / "monitor.json")]
            checked = subprocess.run(verify, capture_output=True, text=True)
            assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
        services.drop_database(settings, name)
    output = log.read_text()
    assert demo.returncode == 0, output
    assert "/docs" in output and "resident@maeul.demo" in output and "stopped" in output
    assert f"maeul verify --api {base} --chain-url {chain} --leaf-index 0" in output


def test_a_taken_port_is_named_with_its_holder(tmp_path: Path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {
            "MAEUL_HOME": str(tmp_path / "home"),
            "MAEUL_PG_PORT": str(port),
            "MAEUL_REDIS_URL": "redis://unused.invalid/0",  # only PostgreSQL is managed here
            "MAEUL_LOCAL_CHAIN": "in-process",
        }
        get_settings.cache_clear()  # read the environment above, not a cached one
        try:
            result = CliRunner().invoke(app, ["services", "up"], env=env)
        finally:
            get_settings.cache_clear()
    assert result.exit_code != 0
    assert f"port {port} for PostgreSQL is taken by: " in result.output
    assert "pytest" in result.output or "python" in result.output  # the holder's command line
    assert "MAEUL_PG_PORT" in result.output


@pytest.mark.slow
def test_a_worker_refuses_a_redis_database_another_deployment_holds(settings: Settings, database: str):
    """One Redis database per deployment (`core.redis.claim`): `maeul worker` on a Redis database that another maeul
    database holds stops at once and says what to do, instead of running that deployment's jobs on its own."""
    url = redis_database(settings, 7)
    held = Redis.from_url(url, decode_responses=True)
    held.set(CLAIM_KEY, "db.example:5432/another")
    try:
        env = {**os.environ, "MAEUL_DATABASE_URL": database, "MAEUL_REDIS_URL": url}
        run = subprocess.run([MAEUL, "worker"], capture_output=True, text=True, env=env, timeout=60)
        assert run.returncode == 1, run.stdout + run.stderr
        assert "serves the maeul database db.example:5432/another" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
    finally:
        held.flushdb()
        held.close()
