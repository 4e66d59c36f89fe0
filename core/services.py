"""The private PostgreSQL + PostGIS cluster, redis-server, anvil chain node and demo payment gateway that `maeul
services up` runs under `./.maeul/`.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to the `postgres` OS user and every
server command runs through `runuser -u postgres --`; as a normal user it runs as that user. Each service is
skipped when its `MAEUL_*_URL` points elsewhere. Everything here is idempotent: a running service is reused.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings

SUPERUSER = "maeul"
POSTGRES_HINT = (
    "PostgreSQL 15 with PostGIS and Redis are needed. Install them with\n"
    "  apt-get install postgresql-15 postgresql-15-postgis-3 redis-server   (Debian/Ubuntu, as root)\n"
    "  brew install postgresql@15 postgis redis                            (macOS)\n"
    "or point MAEUL_DATABASE_URL and MAEUL_REDIS_URL at running servers."
)


class ServiceError(RuntimeError):
    """A local service could not be set up; the message says what to do."""


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    managed: bool
    running: bool | None  # None: external, not checked here
    where: str


def pg_bin_dir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists():
            return candidate
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if (Path(bindir) / "initdb").exists():
            return Path(bindir)
    if initdb := shutil.which("initdb"):
        return Path(initdb).resolve().parent
    raise ServiceError(f"PostgreSQL server binaries (initdb, pg_ctl) not found.\n{POSTGRES_HINT}")


def _as_root() -> bool:
    return os.geteuid() == 0


def _server_user_command(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if _as_root() else args


def _give_to_server_user(path: Path) -> None:
    if _as_root():
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _let_server_user_reach(path: Path) -> None:
    """As root, the `postgres` user must be able to walk down to the data directory: add search permission
    (x only: no listing, no reading) for others on each ancestor that lacks it, e.g. a checkout under /root."""
    if not _as_root():
        return
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & 0o001:
            directory.chmod(mode | 0o001)


def _run(args: list[str], *, what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceError(f"{what} failed ({' '.join(args)}):\n{result.stdout}{result.stderr}")
    return result


def _pg_dir(settings: Settings) -> Path:
    return (settings.home / "postgres").resolve()


def _pg_password(settings: Settings) -> str:
    path = _pg_dir(settings) / "password"
    if not path.exists():
        raise ServiceError("the local PostgreSQL cluster does not exist yet: run `maeul services up`")
    return path.read_text().strip()


def local_database_url(settings: Settings, *, database: str | None = None) -> str:
    name = database or settings.database_name
    return f"postgresql+asyncpg://{SUPERUSER}:{_pg_password(settings)}@127.0.0.1:{settings.pg_port}/{name}"


def _pg_running(settings: Settings) -> bool:
    data = _pg_dir(settings) / "data"
    if not (data / "PG_VERSION").exists():
        return False
    status = subprocess.run(
        _server_user_command([str(pg_bin_dir() / "pg_ctl"), "-D", str(data), "status"]), capture_output=True
    )
    return status.returncode == 0


def _pg_init(settings: Settings) -> None:
    root = _pg_dir(settings)
    data = root / "data"
    if (data / "PG_VERSION").exists():
        return
    bindir = pg_bin_dir()
    root.mkdir(parents=True, exist_ok=True)
    _let_server_user_reach(root)
    _give_to_server_user(root)
    password_file = root / "password"
    password_file.write_text(secrets.token_urlsafe(24))
    password_file.chmod(0o600)
    _give_to_server_user(password_file)
    _run(
        _server_user_command(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=reject",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        what="initdb",
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# maeul private cluster\n"
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = ''\n"
            "max_connections = 200\n"
            "timezone = 'UTC'\n"
        )


def _psql(settings: Settings, sql: str) -> str:
    bindir = pg_bin_dir()
    env = {**os.environ, "PGPASSWORD": _pg_password(settings)}
    result = subprocess.run(
        [
            str(bindir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(settings.pg_port),
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
        ]
        + ["-v", "ON_ERROR_STOP=1", "-tAc", sql],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        raise ServiceError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def ensure_database(settings: Settings, name: str) -> None:
    """Create database `name` in the private cluster if it does not exist."""
    if _psql(settings, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
        _psql(settings, f'CREATE DATABASE "{name}"')


def drop_database(settings: Settings, name: str) -> None:
    _psql(settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_database(settings: Settings, source: str, target: str) -> None:
    """Create database `target` as a copy of `source` (which nobody may be connected to)."""
    drop_database(settings, target)
    _psql(settings, f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def _refuse_taken_port(port: int, *, service: str, setting: str) -> None:
    """Before starting a service: a port held by something else (often another maeul home's services) is named."""
    holder = port_holder(port)
    if holder is not None:
        raise ServiceError(
            f"port {port} for {service} is taken by: {holder}\n"
            f"If that is another maeul's service (its data directory is in the command above), stop it with "
            f"`maeul services down` there, or set {setting} to a free port."
        )


def port_holder(port: int) -> str | None:
    """What listens on a loopback TCP port, read from /proc (Linux): its command line, or None when it is free.
    Elsewhere, or when the process belongs to another user, only that the port is taken."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) != 0:
            return None
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                return (fd_dir.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
    return "another process"


def _pg_up(settings: Settings) -> None:
    _pg_init(settings)
    if not _pg_running(settings):
        root = _pg_dir(settings)
        _refuse_taken_port(settings.pg_port, service="PostgreSQL", setting="MAEUL_PG_PORT")
        _run(
            _server_user_command(
                [
                    str(pg_bin_dir() / "pg_ctl"),
                    "-D",
                    str(root / "data"),
                    "-l",
                    str(root / "server.log"),
                    "-o",
                    f"-p {settings.pg_port}",
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            what=f"starting PostgreSQL (log: {root / 'server.log'})",
        )
    ensure_database(settings, settings.database_name)


def _pg_down(settings: Settings) -> None:
    if _pg_running(settings):
        data = _pg_dir(settings) / "data"
        _run(
            _server_user_command([str(pg_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            what="stopping PostgreSQL",
        )


def _redis_dir(settings: Settings) -> Path:
    return (settings.home / "redis").resolve()


def _redis_ping(settings: Settings) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis(host="127.0.0.1", port=settings.redis_port, socket_timeout=1).ping())
    except RedisError:
        return False


def _redis_up(settings: Settings) -> None:
    if _redis_ping(settings):
        return
    server = shutil.which("redis-server")
    if server is None:
        raise ServiceError(f"redis-server not found.\n{POSTGRES_HINT}")
    _refuse_taken_port(settings.redis_port, service="Redis", setting="MAEUL_REDIS_PORT")
    root = _redis_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    _run(
        [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(settings.redis_port),
            "--dir",
            str(root),
            "--daemonize",
            "yes",
            "--pidfile",
            str(root / "redis.pid"),
            "--logfile",
            str(root / "redis.log"),
        ],
        what="starting redis-server",
    )
    deadline = time.monotonic() + 10
    while not _redis_ping(settings):
        if time.monotonic() > deadline:
            raise ServiceError(f"redis-server did not answer; see {root / 'redis.log'}")
        time.sleep(0.05)


def _redis_down(settings: Settings) -> None:
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    if _redis_ping(settings):
        try:
            Redis(host="127.0.0.1", port=settings.redis_port).shutdown()
        except RedisConnectionError:
            pass  # the server closes the connection as it shuts down


def _chain_dir(settings: Settings) -> Path:
    return (settings.home / "anvil").resolve()


def _anvil_binary() -> Path:
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[1]):
        binary = candidate / "node_modules" / ".bin" / "anvil"
        if binary.exists():
            return binary
    if found := shutil.which("anvil"):
        return Path(found)
    raise ServiceError(
        "anvil (the local EVM chain node) not found: run `make node-tools` (npm ci) in the project, or set "
        "MAEUL_CHAIN_URL to a running node, or MAEUL_LOCAL_CHAIN=in-process"
    )


def _chain_ping(settings: Settings) -> bool:
    import httpx

    try:
        answer = httpx.post(
            f"http://127.0.0.1:{settings.chain_port}",
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
            timeout=1,
        )
        return answer.status_code == 200 and "result" in answer.json()
    except (httpx.HTTPError, ValueError):
        return False


def _chain_up(settings: Settings) -> None:
    if _chain_ping(settings):
        return
    binary = _anvil_binary()
    _refuse_taken_port(settings.chain_port, service="the anvil chain node", setting="MAEUL_CHAIN_PORT")
    root = _chain_dir(settings)
    # the chain survives restarts: anvil loads its state at start and writes it back on exit
    port = settings.chain_port
    command = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--state", str(root / "state.json")]
    _spawn(command, root=root, name="anvil", port=port, answers=lambda: _chain_ping(settings))


def _spawn(
    command: list[str], *, root: Path, name: str, port: int, answers: Callable[[], bool], cwd: Path | None = None
) -> None:
    """Start a service process of its own session (it outlives this one), its output in `root/<name>.log`, its pid in
    `root/<name>.pid`; wait up to 30 s until it `answers` on `port`."""
    root.mkdir(parents=True, exist_ok=True)
    log = (root / f"{name}.log").open("a")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd
    )
    (root / f"{name}.pid").write_text(str(process.pid))
    deadline = time.monotonic() + 30
    while not answers():
        if process.poll() is not None or time.monotonic() > deadline:
            raise ServiceError(f"{name} did not answer on port {port}; see {root / f'{name}.log'}")
        time.sleep(0.1)


def _chain_down(settings: Settings) -> None:
    _stop_pid(_chain_dir(settings) / "anvil.pid", lambda: _chain_ping(settings))


def _gateway_dir(settings: Settings) -> Path:
    return (settings.home / "payments").resolve()


def _gateway_ping(settings: Settings) -> bool:
    import httpx

    try:
        answer = httpx.get(f"http://127.0.0.1:{settings.payment_gateway_port}/health", timeout=1)
        return answer.status_code == 200 and answer.json() == {"status": "ok"}
    except (httpx.HTTPError, ValueError):
        return False


def _gateway_up(settings: Settings) -> None:
    """The local demo payment gateway (sim/payment_gateway.py), a process of its own."""
    if _gateway_ping(settings):
        return
    port = settings.payment_gateway_port
    _refuse_taken_port(port, service="the demo payment gateway", setting="MAEUL_PAYMENT_GATEWAY_PORT")
    _spawn(
        [sys.executable, "-m", "sim.payment_gateway", "--port", str(port)],
        root=_gateway_dir(settings),
        name="gateway",
        port=port,
        answers=lambda: _gateway_ping(settings),
        cwd=Path(__file__).resolve().parents[1],
    )


def _stop_pid(pid_file: Path, running: Callable[[], bool]) -> None:
    """SIGTERM the process of `pid_file` and wait (up to 10 s) until it no longer answers."""
    if not pid_file.exists():
        return
    try:
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    except (ProcessLookupError, ValueError):
        pass
    deadline = time.monotonic() + 10
    while running() and time.monotonic() < deadline:
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)


def up(settings: Settings) -> list[ServiceStatus]:
    """Start what is managed locally; return the status of every service."""
    database_up(settings)
    if settings.manages_redis:
        _redis_up(settings)
    if settings.manages_chain:
        _chain_up(settings)
    if settings.manages_payment_gateway:
        _gateway_up(settings)
    return status(settings)


def database_up(settings: Settings) -> None:
    """Start PostgreSQL alone when it is managed locally (the simulator needs nothing else)."""
    if settings.manages_database:
        _pg_up(settings)


def down(settings: Settings) -> list[ServiceStatus]:
    if settings.manages_payment_gateway:
        _stop_pid(_gateway_dir(settings) / "gateway.pid", lambda: _gateway_ping(settings))
    if settings.manages_chain:
        _chain_down(settings)
    if settings.manages_redis:
        _redis_down(settings)
    if settings.manages_database:
        _pg_down(settings)
    return status(settings)


def status(settings: Settings) -> list[ServiceStatus]:
    result = []
    if settings.manages_database:
        where = f"127.0.0.1:{settings.pg_port} (data {_pg_dir(settings) / 'data'})"
        result.append(ServiceStatus("postgresql", True, _pg_running(settings), where))
    else:
        result.append(ServiceStatus("postgresql", False, None, "MAEUL_DATABASE_URL"))
    if settings.manages_redis:
        where = f"127.0.0.1:{settings.redis_port} (data {_redis_dir(settings)})"
        result.append(ServiceStatus("redis", True, _redis_ping(settings), where))
    else:
        result.append(ServiceStatus("redis", False, None, "MAEUL_REDIS_URL"))
    if settings.manages_chain:
        where = f"127.0.0.1:{settings.chain_port} (state {_chain_dir(settings) / 'state.json'})"
        result.append(ServiceStatus("chain", True, _chain_ping(settings), where))
    elif settings.chain_url is None:
        result.append(ServiceStatus("chain", False, None, "in-process (MAEUL_LOCAL_CHAIN)"))
    else:
        result.append(ServiceStatus("chain", False, None, "MAEUL_CHAIN_URL"))
    if settings.manages_payment_gateway:
        where = f"127.0.0.1:{settings.payment_gateway_port} (the demo gateway, log {_gateway_dir(settings)})"
        result.append(ServiceStatus("payments", True, _gateway_ping(settings), where))
    else:
        result.append(ServiceStatus("payments", False, None, "MAEUL_PAYMENT_GATEWAY_URL"))
    return result
