"""Small keyword-only factories for test data, going through the domain services where they exist."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
from prometheus_client import REGISTRY
from redis import Redis as SyncRedis
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Role
from accounts.service import create_account, hash_password
from api.auth import issue_token
from api.state import AppState
from billing.models import Tariff
from billing.pricing import DayType
from billing.wallet import Wallet
from core import services
from core.redis import redis_database
from core.settings import Settings
from geo.repository import add_zone
from mobility.geofences import GeofenceSpec, create_geofences
from mobility.ingest import prepare_telemetry
from mobility.models import GeofenceKind, Provider, ProviderKind
from mobility.rides import all_day_ride_tariffs
from mobility.vehicles import NewVehicle, deploy, register_vehicles
from parking import service
from parking.models import SlotKind, SlotSize
from parking.policy import BookingPolicy, WeeklyWindow
from sim.payment_gateway import top_up_as_the_app
from sim.pilot import CENTRE, DEMO_PASSWORD, square
from sim.sangsalmi import offset

POLICY = BookingPolicy.from_settings(Settings(env="test"))
T = TypeVar("T")
PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


WALLET_KRW = 500_000
TARIFF_KRW_PER_30_MIN = 500


async def make_account(
    session: AsyncSession, *, role: Role = Role.RESIDENT, email: str | None = None, wallet_krw: int | None = None
) -> Actor:
    """An account; drivers (residents, owners) start with `wallet_krw` (default WALLET_KRW) in their wallet."""
    account = await create_account(
        session,
        email=email or f"{unique(role.value)}@test.maeul",
        password_hash=_HASH,
        display_name=f"test {role.value}",
        role=role,
    )
    money = wallet_krw if wallet_krw is not None else WALLET_KRW if role in (Role.RESIDENT, Role.OWNER) else 0
    if money:
        await Wallet().top_up(session, account_id=account.id, amount=money, now=datetime.now(UTC))
    return Actor(id=account.id, role=role)


def auth(state: AppState, account: Actor) -> dict[str, str]:
    token = issue_token(account, keys=state.token_keys, now=state.clock.now(), lifetime=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def make_zone(
    session: AsyncSession, *, half_side_m: float = 3000, unit_price_krw: int = TARIFF_KRW_PER_30_MIN
) -> uuid.UUID:
    """A zone around the pilot centre with a flat tariff (every kind and day type, all day, per 30 minutes)."""
    zone = await add_zone(session, code=unique("zone"), name="test zone", ring=square(half_side_m))
    session.add_all(
        Tariff(
            zone_id=zone.id,
            slot_kind=kind,
            day_type=day,
            start_minute=0,
            end_minute=1440,
            unit_minutes=30,
            unit_price_krw=unit_price_krw,
        )
        for kind in SlotKind
        for day in DayType
    )
    await session.flush()
    return zone.id


async def make_slot(
    session: AsyncSession,
    *,
    owner: Actor | None = None,
    kind: SlotKind = SlotKind.PRIVATE_INDIVIDUAL,
    east_m: float = 0,
    north_m: float = 0,
    windows: list[WeeklyWindow] | None = None,
    ev_charger: bool = False,
    accessible: bool = False,
    size: SlotSize = SlotSize.REGULAR,
    entrusted_to: Actor | None = None,
    lot_id: uuid.UUID | None = None,
    now: datetime,
) -> uuid.UUID:
    """A slot at `east_m`/`north_m` metres from the pilot centre, shared in `windows` (default: always); a lot slot
    is in `lot_id`, or in a new lot of its own."""
    owner = owner or await make_account(session, role=Role.OWNER)
    admin = Actor(id=owner.id, role=Role.ADMIN)
    if lot_id is None and kind in (SlotKind.PUBLIC_LOT, SlotKind.PRIVATE_LOT):
        lon, lat = offset(*CENTRE, east_m=east_m, north_m=north_m)
        lot = await service.create_lot(
            session, name=unique("lot"), kind=kind, lon=lon, lat=lat, owner_id=owner.id, operator_id=None
        )
        lot_id = lot.id
    lon, lat = offset(*CENTRE, east_m=east_m, north_m=north_m)
    view = await service.create_slot(
        session,
        actor=admin,
        code=unique("S"),
        kind=kind,
        lon=lon,
        lat=lat,
        owner_id=owner.id,
        lot_id=lot_id,
        operator_id=entrusted_to.id if entrusted_to else None,
        ev_charger=ev_charger,
        accessible=accessible,
        size=size,
    )
    if windows is None:
        windows = [WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "00:00", "24:00")]
    await service.replace_weekly_windows(session, actor=admin, slot_id=view.id, windows=windows, policy=POLICY, now=now)
    return view.id


def booking_body(slot_id: uuid.UUID, start: datetime, end: datetime, plate: str = "12가3456") -> dict[str, str]:
    return {"slot_id": str(slot_id), "start": start.isoformat(), "end": end.isoformat(), "vehicle_plate": plate}


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) >= {"error", "detail"}, body
    return str(body["error"])


RIDE_KRW_PER_MINUTE = 150
CAR_KRW_PER_MINUTE = 50  # 3,000 KRW an hour


async def make_fleet(session: AsyncSession, *, now: datetime) -> dict[str, object]:
    """A zone around the pilot centre priced for scooter, e-bike and car trips (per minute), a service area, a
    parking area at the centre (200 m square) and a no-parking square 400 m east, two providers, and telemetry
    partitions."""
    zone_id = await make_zone(session)
    for code, per_minute in (
        ("scooter", RIDE_KRW_PER_MINUTE),
        ("ebike", RIDE_KRW_PER_MINUTE),
        ("car", CAR_KRW_PER_MINUTE),
    ):
        session.add_all(all_day_ride_tariffs(zone_id, code, per_minute))
    enterprise = Provider(code=unique("ve"), name="village enterprise", kind=ProviderKind.VILLAGE_ENTERPRISE)
    partner = Provider(code=unique("partner"), name="partner scooters", kind=ProviderKind.PARTNER)
    session.add_all([enterprise, partner])
    await session.flush()

    def polygon(half_side_m: float, east_m: float = 0) -> dict[str, object]:
        ring = [offset(*CENTRE, east_m=east_m + lon, north_m=lat) for lon, lat in square_offsets(half_side_m)]
        return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}

    start = now - timedelta(days=30)
    ids = await create_geofences(
        session,
        [
            GeofenceSpec("test service area", GeofenceKind.SERVICE_AREA, [], None, polygon(1500), start, None),
            GeofenceSpec("centre parking", GeofenceKind.PARKING, [], None, polygon(100), start, None),
            GeofenceSpec("east parking", GeofenceKind.PARKING, [], None, polygon(50, 700), start, None),
            GeofenceSpec("no parking east", GeofenceKind.NO_PARKING, [], None, polygon(50, 400), start, None),
            GeofenceSpec("slow core", GeofenceKind.SLOW, [], 10, polygon(100), start, None),
        ],
    )
    await prepare_telemetry(session, now=now, retention_days=90)
    return {"zone_id": zone_id, "enterprise": enterprise, "partner": partner, "geofences": ids}


def square_offsets(half_side_m: float) -> list[tuple[float, float]]:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    return [(e * half_side_m, n * half_side_m) for e, n in corners]


async def make_vehicle(
    session: AsyncSession,
    *,
    provider_id: uuid.UUID,
    type_code: str = "scooter",
    east_m: float = 0,
    north_m: float = 0,
    battery_pct: int = 90,
    now: datetime,
) -> tuple[uuid.UUID, str, str]:
    """A deployed (available) vehicle at `east_m`/`north_m` from the pilot centre: (id, device id, device key)."""
    label = unique("V")[:32]
    [(vehicle, key)] = await register_vehicles(
        session, [NewVehicle(type_code, provider_id, label, f"iot-{label}", battery_pct)]
    )
    lon, lat = offset(*CENTRE, east_m=east_m, north_m=north_m)
    await deploy(session, vehicle.id, lon=lon, lat=lat, now=now)
    return vehicle.id, vehicle.device_id, key


def device_headers(device_id: str, key: str) -> dict[str, str]:
    return {"X-Device-Id": device_id, "X-Device-Key": key}


def fix(at: datetime, *, east_m: float = 0, north_m: float = 0, **extra: object) -> dict[str, object]:
    lon, lat = offset(*CENTRE, east_m=east_m, north_m=north_m)
    return {"at": at.isoformat(), "lon": lon, "lat": lat, **extra}


DEMO_TEMPLATE = "maeul_demo_template"
TEMPLATE_REDIS_DB = 12


def demo_environment(
    settings: Settings, database_name: str, *, redis_db: int, env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a `maeul` command on database `database_name` and Redis database `redis_db`."""
    found = {**os.environ, **(env or {}), "MAEUL_DATABASE_NAME": database_name}
    found.pop("MAEUL_DATABASE_URL", None)
    if settings.redis_url:
        found["MAEUL_REDIS_URL"] = redis_database(settings, redis_db)
    return found


def load_demo_template(settings: Settings) -> str:
    """`maeul demo --no-serve`, as a newcomer's first run loads the Sangsalmi demo, once, into `DEMO_TEMPLATE`: the
    tests' demos are copies of it (`CREATE DATABASE ... TEMPLATE`, 0.15 s) instead of five seconds of loading each."""
    services.drop_database(settings, DEMO_TEMPLATE)
    if settings.redis_url:
        SyncRedis.from_url(redis_database(settings, TEMPLATE_REDIS_DB)).flushdb()  # the tests' own: what was left
    maeul = str(Path(sys.executable).parent / "maeul")
    env = demo_environment(settings, DEMO_TEMPLATE, redis_db=TEMPLATE_REDIS_DB)
    loaded = subprocess.run([maeul, "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0 and "Sangsalmi demo data loaded" in loaded.stdout, loaded.stdout + loaded.stderr
    return DEMO_TEMPLATE


def start_demo(
    settings: Settings,
    database_name: str,
    port: int,
    log: Path,
    *,
    redis_db: int,
    template: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """`maeul demo` as a newcomer runs it (services, migrations, pilot data, API and worker), on a database of its
    own copied from `template` (the demo data already there) and Redis database `redis_db` (emptied first), with
    `env` over the environment; its output goes to `log` (a pipe nobody reads would fill and stall the server). Two
    demos running at once need two Redis databases: on one, their workers share one job queue and each runs the
    other's scheduled jobs against its own database (the CLI test's demo then saw no tree head for two minutes while
    the session's demo published them)."""
    services.copy_database(settings, template, database_name)
    if settings.redis_url:
        SyncRedis.from_url(redis_database(settings, redis_db)).flushdb()  # what an earlier session's demo left
    env = demo_environment(settings, database_name, redis_db=redis_db, env=env)
    env |= {"MAEUL_API_PORT": str(port), "MAEUL_LEDGER_TREE_HEAD_EVERY_SECONDS": "1"}
    maeul = str(Path(sys.executable).parent / "maeul")
    with log.open("w") as output:
        return subprocess.Popen([maeul, "demo"], env=env, stdout=output, stderr=subprocess.STDOUT, text=True)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def sign_in_demo(client: httpx.AsyncClient, key: str) -> dict[str, str]:
    """Bearer headers of the demo account `key@maeul.demo` (the demo password), signed in through the API."""
    token = await client.post("/auth/token", data={"username": f"{key}@maeul.demo", "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def step_task(client: httpx.AsyncClient, task_id: str, target: str, headers: dict[str, str]) -> dict[str, object]:
    """A staff member moves a task one step through the API; the answer's body."""
    moved = await client.post(f"/tasks/{task_id}/state", json={"state": target}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == target
    return dict(moved.json())


def near_centre(east_m: float = 0, north_m: float = 0) -> dict[str, float]:
    """A point as the API takes it, `east_m` and `north_m` metres from the demo village's centre."""
    lon, lat = offset(*CENTRE, east_m=east_m, north_m=north_m)
    return {"lon": lon, "lat": lat}


async def staff_on_shift(
    client: httpx.AsyncClient,
    state: AppState,
    operator: dict[str, str],
    now: datetime,
    *,
    skills: tuple[str, ...] = ("valet",),
    east_m: float = 0,
) -> tuple[Actor, dict[str, str]]:
    """A staff member registered with `skills`, given a shift from `now` for 8 hours, clocked in `east_m` metres east
    of the centre."""
    body = {
        "email": f"{unique('staff')}@test.maeul",
        "password": "staff password",
        "display_name": f"{' '.join(skills).title()} {east_m:g}",
        "skills": list(skills),
        "hourly_wage_krw": 12_000,
    }
    made = await client.post("/staff", json=body, headers=operator)
    assert made.status_code == 201, made.text
    staff = Actor(id=made.json()["id"], role=Role.STAFF)
    shift = {"start": now.isoformat(), "end": (now + timedelta(hours=8)).isoformat()}
    planned = await client.post(f"/staff/{staff.id}/shifts", json=shift, headers=operator)
    assert planned.status_code == 201, planned.text
    headers = auth(state, staff)
    clocked = await client.post("/staff/me/clock-in", json=near_centre(east_m), headers=headers)
    assert clocked.status_code == 200, clocked.text
    return staff, headers


HAPPINESS_WINDOWS = [
    WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri"], "07:00", "09:30"),
    WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri"], "17:30", "22:00"),
]


async def make_happiness_car(
    session: AsyncSession,
    *,
    fleet_: dict[str, object],
    primary: Actor,
    east_m: float = 0,
    windows: list[WeeklyWindow] | None = None,
    now: datetime,
) -> dict[str, object]:
    """A car of the village enterprise at a home slot `east_m` from the centre, contracted to `primary` for 30 days
    (Mon-Fri 07:00-09:30 and 17:30-22:00 by default, 150,000 KRW a month, 1,000 KRW per released hour)."""
    from cars import contracts
    from cars.rules import CarRules

    enterprise = fleet_["enterprise"]
    car_id, device, key = await make_vehicle(
        session, provider_id=enterprise.id, type_code="car", east_m=east_m, now=now
    )  # type: ignore[attr-defined]
    home = await make_slot(session, east_m=east_m, now=now)
    local = now.astimezone(ZoneInfo(POLICY.timezone)).date()
    contract = await contracts.create_contract(
        session,
        car_id=car_id,
        primary_id=primary.id,
        home_slot_id=home,
        monthly_fee_krw=150_000,
        release_credit_krw_per_hour=1000,
        starts_on=local,
        ends_on=local + timedelta(days=29),
        windows=windows if windows is not None else HAPPINESS_WINDOWS,
        rules=CarRules.from_settings(Settings(env="test")),
        now=now,
    )
    return {"car_id": car_id, "device": device, "key": key, "contract_id": contract.id, "home_slot_id": home}


def appended() -> float:
    """Ledger entries this process has appended so far (committed or not)."""
    return REGISTRY.get_sample_value("maeul_ledger_entries_appended_total") or 0.0


class SolveWatch(ThreadPoolExecutor):
    """A solver pool (one thread) that notes, as each solve starts, how many ledger entries this process has
    appended: an append made earlier in the same transaction would keep the ledger's head locked through the solve,
    and every other append in the system would wait for it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.appended_at_solves: list[float] = []

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        self.appended_at_solves.append(appended())
        return super().submit(fn, *args, **kwargs)


async def paid_top_up(
    client: httpx.AsyncClient, settings: Settings, headers: dict[str, str], amount: int
) -> httpx.Response:
    """A top-up as the app makes one: open the order, pay it in the gateway's window, confirm it (the answer)."""
    return await top_up_as_the_app(client, settings.payment_gateway()[0], headers, amount)
