"""Runs a scenario through maeul's real services on a database of its own, and reads the KPIs back from the rows.

Set-up: a fresh database (migrations, the Sangsalmi demo inventory of `sim/pilot.py`), the scenario's inventory
(`before`: nothing shared; `pilot`/`maeul`: resident-priority slots shared only by the holders who share), an
entrance and an enforcement camera, and a driver account per resident car and a pool of accounts visitors pay from.
Then `sim.scenarios.play` runs the week on the injected clock, the cameras upload every hour, and `kpi.table.daily`
computes the day's KPIs from the rows, as the city's dashboard does. `sim/live.py` plays the same village on the
demo's own database, today, at a speed-up.
"""

from __future__ import annotations

import asyncio
import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Account, Role
from accounts.service import create_account, hash_password
from billing.wallet import MAX_TOP_UP_KRW, Wallet
from core import services
from core.clock import FixedClock
from core.db import make_engine, make_sessionmaker
from core.migrate import upgrade
from core.settings import Settings
from kpi import service as kpi
from kpi import table
from kpi.models import Camera, CameraPurpose
from parking.models import Slot, SlotKind
from parking.policy import BookingPolicy
from sim import pilot
from sim.sangsalmi import Assumptions, Demand, Need, Week, generate, weekend
from sim.scenarios import DayResult, GateMarket, Market, Seen, ServiceMarket, Tally, distinct_per_day, play

FIRST_DAY = date(2019, 10, 14)  # a Monday in the pilot's months (June-December 2019), without public holidays
VISITOR_ACCOUNTS = 400  # visitors pay from a pool of accounts: a payer, not a person, for the simulator
SIM_PASSWORD = "simulated-driver"  # noqa: S105 (the simulator's drivers never sign in)


@dataclass(frozen=True, slots=True)
class RunResult:
    scenario: str
    seed: int
    days: list[DayResult]

    def mean(self, kpi: str, day_type: str | None = None) -> float | None:
        """The mean of a KPI over the run's days (of one day type), None when no day has a value."""
        values = [
            value
            for day in self.days
            if day_type is None or day.day_type == day_type
            if (value := _value(day, kpi)) is not None
        ]
        return statistics.fmean(values) if values else None


def _value(day: DayResult, kpi: str) -> float | None:
    if kpi == "drivers_served":
        return float(day.drivers_served)
    if kpi == "mean_walk_m":
        return day.mean_walk_m
    return day.kpis.get(kpi)


def week_of(assumptions: Assumptions, demand: Demand, *, seed: int, days: int, first_day: date = FIRST_DAY) -> Week:
    inventory = pilot.generate()
    resident_priority = sum(slot.kind == SlotKind.RESIDENT_PRIORITY for slot in inventory.slots)
    return generate(
        assumptions, demand, seed=seed, first_day=first_day, days=days, resident_priority_slots=resident_priority
    )


def day_results(week: Week, tally: Tally, rows: list[dict[str, float | None]]) -> list[DayResult]:
    return [
        DayResult(
            day=week.first_day + timedelta(days=d),
            day_type="weekend" if weekend(week.first_day + timedelta(days=d)) else "weekday",
            kpis=rows[d],
            drivers_served=tally.served[d],
            needs=tally.needs[d],
            mean_walk_m=round(statistics.fmean(tally.walks[d]), 1) if tally.walks[d] else None,
            park_and_ride=tally.park_and_ride[d],
        )
        for d in range(week.days)
    ]


# ---------------------------------------------------------------- in memory: `before`, for the calibration


def public_lot_spaces() -> list[tuple[str, float, float]]:
    """The public lots' spaces of the demo inventory: (slot code, lon, lat)."""
    return [(slot.code, slot.lon, slot.lat) for slot in pilot.generate().slots if slot.kind == SlotKind.PUBLIC_LOT]


async def counted(
    week: Week, assumptions: Assumptions, *, detour: float
) -> tuple[Tally, Seen, list[dict[str, float | None]]]:
    """`before` without a database: the KPIs the cameras' rows would give, counted from what they saw (the
    calibration runs this many times; `run` plays the same week through the services and a test holds the two to
    the same numbers)."""
    tally, seen = await play(week, GateMarket(list(public_lot_spaces()), detour), set_clock=lambda _: None)
    supply = assumptions["supply"]
    entering = distinct_per_day(week, seen.entries)
    illegal = distinct_per_day(week, [(plate, at) for plate, at, _, _ in seen.violations])
    ratio = round(supply["pre_existing_legal_spaces"] / supply["registered_resident_vehicles"], 4)
    rows: list[dict[str, float | None]] = [
        {"entering_vehicles": float(entering[d]), "illegal_parking": float(illegal[d]), "supply_ratio": ratio}
        for d in range(week.days)
    ]
    return tally, seen, rows


# ---------------------------------------------------------------- through maeul's services


async def run(
    settings: Settings,
    assumptions: Assumptions,
    demand: Demand,
    *,
    scenario: str,
    seed: int,
    days: int,
    database: str,
    progress: Callable[[datetime], None] | None = None,
    keep: bool = False,
) -> RunResult:
    """Play the scenario on a fresh database `database` (dropped afterwards unless `keep`)."""
    week = week_of(assumptions, demand, seed=seed, days=days)
    scoped = settings.model_copy(update={"database_name": database})
    services.drop_database(scoped, database)
    services.ensure_database(scoped, database)
    url = services.local_database_url(scoped) if settings.manages_database else settings.database_url
    assert url is not None
    await asyncio.to_thread(upgrade, url)  # Alembic runs its own event loop
    engine = make_engine(scoped, url=url)
    policy = BookingPolicy.from_settings(settings)
    clock = FixedClock(week.day_start(0) - timedelta(hours=1))
    try:
        async with make_sessionmaker(engine)() as session:
            # a simulation's commits need not wait for the disk: it is rebuilt from its seed, not recovered
            await session.execute(text("SET synchronous_commit = off"))
            await pilot.load(session, clock=clock, policy=policy)
            await _inventory(session, scenario, week)
            device = await devices(session, assumptions, plate_key=uuid.uuid4().bytes, now=clock.now())
            market: Market = (
                GateMarket(list(public_lot_spaces()), settings.walk_detour_factor)
                if scenario == "before"
                else await service_market(
                    session, settings, assumptions, smart=scenario == "maeul", policy=policy, funded_at=clock.now()
                )
            )
            await session.commit()

            async def upload(now: datetime, seen: Seen) -> None:
                max_age = timedelta(hours=settings.device_event_max_age_hours)
                assert await device.post(session, seen, now=now, max_age=max_age) == 0

            tally, _ = await play(week, market, set_clock=clock.set, upload=upload, progress=progress)
            await session.commit()
            village = table.Village(
                registered_vehicles=assumptions["supply"]["registered_resident_vehicles"],
                pre_existing_legal_spaces=assumptions["supply"]["pre_existing_legal_spaces"],
                min_people=settings.privacy_min_cell,
                timezone=settings.local_timezone,
            )
            last = week.first_day + timedelta(days=days - 1)
            kpi_days = await table.daily(session, village=village, first=week.first_day, last=last, now=week.end)
    finally:
        await engine.dispose()
        if not keep:
            services.drop_database(scoped, database)
    return RunResult(scenario, seed, day_results(week, tally, [dict(d.values) for d in kpi_days]))


async def _inventory(session: AsyncSession, scenario: str, week: Week) -> None:
    """before: nothing is shared; pilot and maeul: a resident-priority slot only where its holder shares it."""
    if scenario == "before":
        await session.execute(update(Slot).values(active=False))
        return
    codes = [f"RP-{index + 1:03d}" for index in range(100) if index not in week.sharing_permits]
    await session.execute(
        update(Slot).where(Slot.kind == SlotKind.RESIDENT_PRIORITY, Slot.code.in_(codes)).values(active=False)
    )


@dataclass(frozen=True, slots=True)
class Devices:
    """The village cameras the simulator uploads through."""

    entrance: tuple[str, str]  # device id, key
    enforcement: tuple[str, str]
    plate_key: bytes

    async def post(self, session: AsyncSession, seen: Seen, *, now: datetime, max_age: timedelta) -> int:
        """The cameras' upload, in batches of up to 1,000; how many events were refused (duplicates: the same
        event sent again)."""
        refused = 0
        entries = [kpi.Sighting(f"e-{at.timestamp():.0f}-{plate}", at, plate) for plate, at in seen.entries]
        violations = [
            kpi.Sighting(f"v-{at.timestamp():.0f}-{plate}", at, plate, None, lon, lat)
            for plate, at, lon, lat in seen.violations
        ]
        for sightings, (device, key), record in (
            (entries, self.entrance, kpi.record_entries),
            (violations, self.enforcement, kpi.record_cctv_violations),
        ):
            for first in range(0, len(sightings), 1000):
                report = await record(
                    session,
                    device_id=device,
                    device_key=key,
                    sightings=sightings[first : first + 1000],
                    key=self.plate_key,
                    max_age=max_age,
                    now=now,
                )
                refused += len(report.rejected)
        return refused


async def devices(session: AsyncSession, assumptions: Assumptions, *, plate_key: bytes, now: datetime) -> Devices:
    """The simulator's entrance and enforcement cameras, registered the first time, with a new key every time (a
    key is shown only once)."""
    lon, lat = assumptions.centre
    keys = []
    for device, name, purpose in (
        ("sim-entrances", "village entrances", CameraPurpose.ENTRANCE),
        ("sim-cctv", "village CCTV and officers' rounds", CameraPurpose.ENFORCEMENT),
    ):
        found = await session.scalar(select(Camera.id).where(Camera.device_id == device))
        if found is None:
            _, key = await kpi.register_camera(
                session, device_id=device, name=name, purpose=purpose, lon=lon, lat=lat, now=now
            )
        else:
            _, key = await kpi.rotate_key(session, Camera, found, now=now)
        keys.append((device, key))
    return Devices(keys[0], keys[1], plate_key=plate_key)


async def service_market(
    session: AsyncSession,
    settings: Settings,
    assumptions: Assumptions,
    *,
    smart: bool,
    policy: BookingPolicy,
    funded_at: datetime,
) -> ServiceMarket:
    """Bookings through maeul's services for the simulated drivers: an account per resident car and a pool visitors
    pay from (made the first time, found again afterwards), the public lots' gates booking walk-ins as the village
    enterprise's operator."""
    rows = await session.execute(select(Slot.id, Slot.code).where(Slot.kind == SlotKind.PUBLIC_LOT))
    by_code = {code: slot_id for slot_id, code in rows}
    spaces: list[tuple[object, float, float]] = [(by_code[code], lon, lat) for code, lon, lat in public_lot_spaces()]
    operator = await session.scalar(select(Account.id).where(Account.email == f"operator@{pilot.DEMO_DOMAIN}"))
    assert operator is not None
    password_hash = hash_password(SIM_PASSWORD)
    drivers: dict[str, Actor] = {}
    pool: list[Actor] = []

    async def account(key: str) -> Actor:
        email = f"{key}@sim.{pilot.DEMO_DOMAIN}"
        found = await session.scalar(select(Account.id).where(Account.email == email))
        if found is not None:
            return Actor(found, Role.RESIDENT)
        made = await create_account(
            session, email=email, password_hash=password_hash, display_name=key, role=Role.RESIDENT
        )
        await Wallet().top_up(session, account_id=made.id, amount=MAX_TOP_UP_KRW, now=funded_at)
        return Actor(made.id, Role.RESIDENT)

    async def driver_of(need: Need) -> Actor:
        if need.resident:
            if need.plate not in drivers:
                drivers[need.plate] = await account(f"resident-{len(drivers) + 1:03d}")
            return drivers[need.plate]
        if len(pool) < VISITOR_ACCOUNTS:
            pool.append(await account(f"visitor-{len(pool) + 1:03d}"))
            return pool[-1]
        return pool[need.id % VISITOR_ACCOUNTS]

    return ServiceMarket(
        session=session,
        policy=policy,
        detour=settings.walk_detour_factor,
        smart=smart,
        max_slot_walk_m=assumptions["park_and_ride"]["max_slot_walk_m"],
        gate=Actor(operator, Role.OPERATOR),
        spaces=spaces,
        driver_of=driver_of,
    )
