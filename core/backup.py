"""`maeul backup` / `maeul restore`: pg_dump and pg_restore (custom format) of maeul's database, the private cluster's
or any PostgreSQL URL. A restore runs in one transaction: it lands whole or not at all."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from core import services


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says why and what to do."""


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it (no driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    try:
        return str(services.pg_bin_dir() / name)
    except services.ServiceError:
        found = shutil.which(name)
        if found is None:
            raise BackupError(
                f"{name} not found: install the PostgreSQL client (apt-get install postgresql-15)"
            ) from None
        return found


def _run(args: list[str], what: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{what} failed:\n{done.stderr.strip() or done.stdout.strip()}")


def backup(url: str, output: Path) -> None:
    """The whole database (schema, data, the migration version) into `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(output), "--dbname", libpq_url(url)],
        "pg_dump",
    )


def restore(url: str, dump: Path) -> None:
    """Into an empty database; one transaction, stopping at the first error."""
    args = [_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction"]
    _run([*args, "--dbname", libpq_url(url), str(dump)], "pg_restore")


def is_empty(url: str) -> bool:
    query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    done = subprocess.run([_tool("psql"), "--no-psqlrc", "-tAc", query, libpq_url(url)], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"cannot read the target database:\n{done.stderr.strip()}")
    return done.stdout.strip() == "0"
