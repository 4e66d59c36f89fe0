"""`maeul backup` and `maeul restore` through the CLI: the demo's database into a fresh PostgreSQL cluster, where
`maeul ledger audit` passes and the data is all there; a restore never lands on data already there."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import services
from core.backup import libpq_url
from core.redis import redis_database
from core.settings import Settings
from tests.factories import free_port

pytestmark = pytest.mark.slow

MAEUL = str(Path(sys.executable).parent / "maeul")
SOURCE = "maeul_backup_test"


def _maeul(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MAEUL, *args], capture_output=True, text=True, env=env, timeout=300)


def _count(settings: Settings, database: str, table: str) -> str:
    url = libpq_url(services.local_database_url(settings, database=database))
    psql = str(services.pg_bin_dir() / "psql")
    return subprocess.run([psql, "-tAc", f"SELECT count(*) FROM {table}", url], capture_output=True, text=True).stdout


def test_backup_restores_into_a_fresh_cluster_and_audits(
    settings: Settings, database: str, demo_template: str, tmp_path: Path
):
    key = base64.b64encode(bytes(range(32))).decode()  # the deployment's signing key travels with its backups
    common = {**os.environ, "MAEUL_LEDGER_SIGNING_KEY": key, "MAEUL_LOCAL_CHAIN": "in-process"}
    common.pop("MAEUL_DATABASE_URL", None)
    if settings.redis_url:
        common["MAEUL_REDIS_URL"] = redis_database(settings, 4)  # its own: see core.redis.claim
    source_env = {**common, "MAEUL_DATABASE_NAME": SOURCE}
    services.copy_database(settings, demo_template, SOURCE)  # the demo data (`maeul demo` below finds it there)
    fresh = Settings(home=tmp_path / "fresh", pg_port=free_port(), redis_port=free_port(), local_chain="in-process")
    fresh_env = {
        **common,
        "MAEUL_HOME": str(fresh.home),
        "MAEUL_PG_PORT": str(fresh.pg_port),
        "MAEUL_REDIS_PORT": str(fresh.redis_port),
        "MAEUL_DATABASE_NAME": "restored",
    }
    fresh_env.pop("MAEUL_REDIS_URL", None)
    try:
        loaded = _maeul("demo", "--no-serve", env=source_env)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        dump = tmp_path / "maeul.dump"
        backed_up = _maeul("backup", "--output", str(dump), env=source_env)
        assert backed_up.returncode == 0 and dump.stat().st_size > 0, backed_up.stdout + backed_up.stderr

        restored = _maeul("restore", str(dump), env=fresh_env)  # starts the fresh cluster, creates the database
        assert restored.returncode == 0, restored.stdout + restored.stderr
        audit = _maeul("ledger", "audit", env=fresh_env)
        assert audit.returncode == 0 and "audit passed" in audit.stdout, audit.stdout + audit.stderr
        for table in ("slots", "bookings", "ledger_entries", "journal_postings", "vehicles", "alembic_version"):
            assert _count(fresh, "restored", table) == _count(settings, SOURCE, table), table

        # a second restore would mix two databases: refused, nothing written
        again = _maeul("restore", str(dump), env=fresh_env)
        assert again.returncode == 1 and "not empty" in again.stdout + again.stderr
        assert _count(fresh, "restored", "slots") == _count(settings, SOURCE, "slots")
        replaced = _maeul("restore", str(dump), "--replace", env=fresh_env)
        assert replaced.returncode == 0, replaced.stdout + replaced.stderr
        missing = _maeul("restore", str(tmp_path / "nothing.dump"), "--replace", env=fresh_env)
        assert missing.returncode == 1 and "no backup at" in missing.stdout + missing.stderr
        assert _count(fresh, "restored", "slots") == _count(settings, SOURCE, "slots")  # nothing was dropped
    finally:
        services.down(fresh)
        services.drop_database(settings, SOURCE)
