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
from typer.testing import CliRunner

from core import services
from core.cli import app
from core.settings import Settings

MAEUL = str(Path(sys.executable).parent / "maeul")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_services_status_reports_the_running_services(database: str):
    result = CliRunner().invoke(app, ["services", "status"])
    assert result.exit_code == 0, result.output
    assert "postgresql" in result.output and "running" in result.output


def test_services_up_down_on_a_private_home(tmp_path: Path):
    """A whole new cluster and redis-server: created, reused when already up, stopped, started again."""
    settings = Settings(home=tmp_path / "maeul-home", pg_port=_free_port(), redis_port=_free_port())
    try:
        first = services.up(settings)
        assert [(s.name, s.running) for s in first] == [("postgresql", True), ("redis", True)]
        assert (tmp_path / "maeul-home" / "postgres" / "data" / "PG_VERSION").exists()
        assert services.up(settings) == first  # idempotent: reused
        services.ensure_database(settings, "scratch")
        stopped = services.down(settings)
        assert [s.running for s in stopped] == [False, False]
        assert [s.running for s in services.up(settings)] == [True, True]
    finally:
        services.down(settings)


def test_external_services_are_not_managed(tmp_path: Path):
    settings = Settings(
        home=tmp_path / "unused",
        database_url="postgresql+asyncpg://u:p@db.example:5432/x",
        redis_url="redis://cache.example:6379/0",
    )
    rows = services.up(settings)
    assert [row.managed for row in rows] == [False, False]
    assert not (tmp_path / "unused").exists()


def test_demo_serves_docs_and_finds_slots(settings: Settings, database: str):
    """`maeul demo` from the CLI: services, migrations, pilot data, then the API until Ctrl-C."""
    name = "maeul_demo_test"
    services.drop_database(settings, name)
    port = _free_port()
    env = {
        **os.environ,
        "MAEUL_DATABASE_NAME": name,
        "MAEUL_API_PORT": str(port),
        "MAEUL_LEDGER_TREE_HEAD_EVERY_SECONDS": "1",
    }
    env.pop("MAEUL_DATABASE_URL", None)
    if settings.redis_url:
        env["MAEUL_REDIS_URL"] = settings.redis_url.rsplit("/", 1)[0] + "/2"
    demo = subprocess.Popen([MAEUL, "demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert demo.poll() is None, demo.stdout.read() if demo.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "maeul demo did not come up"
            time.sleep(0.5)
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
        # the worker running beside the API publishes a tree head and anchors it on the in-process chain
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/ledger/anchoring").json()["anchored_size"] <= receipt["leaf_index"]:
            assert time.monotonic() < deadline, httpx.get(f"{base}/ledger/anchoring").text
            time.sleep(0.5)
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=30)
        services.drop_database(settings, name)
    assert demo.returncode == 0, output
    assert "/docs" in output and "resident@maeul.demo" in output and "stopped" in output
