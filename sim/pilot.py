"""The Sangsalmi village pilot as demo data: deterministic (seeded) and loaded through the real services.

About 280 shared slots of the four kinds in and around Sangsalmi village (Samjeong-dong, Ojeong-gu, Bucheon),
around 37.52 N, 126.78 E, in an area about 1 km across, with realistic weekly sharing windows: public lots always,
private lots in business hours, resident-priority slots mostly on weekdays while their permit holders are at work,
private individual slots as their owners choose.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Account, Role
from accounts.service import create_account, hash_password
from billing.models import PublicHoliday, Tariff, ZonePriceCap
from billing.wallet import Wallet
from core.clock import Clock
from geo.repository import add_zone
from ops import service as staff
from ops.errors import NotOnShift
from ops.models import Skill, StaffMember
from parking import service
from parking.models import SlotKind, SlotSize
from parking.policy import BookingPolicy, WeeklyWindow
from sim.sangsalmi import offset

CENTRE = (126.7800, 37.5200)  # lon, lat
DEMO_PASSWORD = "maeul-demo-2019"
DEMO_DOMAIN = "maeul.demo"


def square(half_side_m: float) -> list[tuple[float, float]]:
    lon, lat = CENTRE
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    return [offset(lon, lat, east_m=e * half_side_m, north_m=n * half_side_m) for e, n in corners]


EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS = EVERY_DAY[:5]
WEEKEND = EVERY_DAY[5:]


@dataclass(frozen=True, slots=True)
class DemoAccount:
    key: str
    email: str
    display_name: str
    role: Role


@dataclass(frozen=True, slots=True)
class DemoLot:
    key: str
    name: str
    kind: SlotKind
    owner: str  # DemoAccount key
    entrusted: bool
    east_m: float
    north_m: float
    slots: int


@dataclass(frozen=True, slots=True)
class DemoSlot:
    code: str
    kind: SlotKind
    owner: str
    lot: str | None
    entrusted: bool
    lon: float
    lat: float
    ev_charger: bool
    accessible: bool
    size: SlotSize
    windows: tuple[WeeklyWindow, ...]


@dataclass(slots=True)
class Pilot:
    accounts: list[DemoAccount] = field(default_factory=list)
    lots: list[DemoLot] = field(default_factory=list)
    slots: list[DemoSlot] = field(default_factory=list)


HEADLINE_ACCOUNTS = [
    DemoAccount("admin", f"admin@{DEMO_DOMAIN}", "maeul admin", Role.ADMIN),
    DemoAccount("city", f"city@{DEMO_DOMAIN}", "Bucheon City, Smart City Division", Role.CITY),
    DemoAccount("operator", f"operator@{DEMO_DOMAIN}", "Sangsalmi People's Centre (village enterprise)", Role.OPERATOR),
    DemoAccount("resident", f"resident@{DEMO_DOMAIN}", "Kim Minji (resident driver)", Role.RESIDENT),
    DemoAccount("owner", f"owner@{DEMO_DOMAIN}", "Park Jisoo (permit holder sharing a slot)", Role.OWNER),
    DemoAccount("staff", f"staff@{DEMO_DOMAIN}", "Lee Seojun (valet, village enterprise)", Role.STAFF),
]
# the village enterprise's field staff: skills, and where those already clocked in at load time stand
DEMO_STAFF: dict[str, tuple[tuple[Skill, ...], tuple[float, float] | None]] = {
    "staff": ((Skill.VALET,), None),  # the demo user clocks in from the staff app
    "valet02": ((Skill.VALET,), (-120.0, 60.0)),
    "valet03": ((Skill.VALET, Skill.CREW), (200.0, -150.0)),
    "crew01": ((Skill.CREW,), None),
    "driver01": ((Skill.DRIVER,), None),
}
DEMO_WAGE_KRW = 11_000  # per hour
DEMO_SHIFT = (time(7), time(21))  # every day of the coming week, Seoul time
DEMO_SHIFT_DAYS = 7

LOTS = [
    DemoLot("samjeong-public", "Samjeong-dong public lot", SlotKind.PUBLIC_LOT, "city", True, -250, 180, 60),
    DemoLot("riverside-public", "Gulpocheon riverside public lot", SlotKind.PUBLIC_LOT, "city", True, 380, -300, 40),
    DemoLot("church-private", "Sangsalmi church lot", SlotKind.PRIVATE_LOT, "lot-church", False, 120, 320, 30),
    DemoLot("market-private", "Ojeong market lot", SlotKind.PRIVATE_LOT, "lot-market", False, -380, -260, 30),
]
RESIDENT_PRIORITY_SLOTS = 80
PRIVATE_INDIVIDUAL_SLOTS = 40


def generate(seed: int = 2019) -> Pilot:
    """The pilot's accounts, lots and slots; the same seed always gives the same data."""
    rng = random.Random(seed)
    pilot = Pilot(accounts=list(HEADLINE_ACCOUNTS))
    pilot.accounts += [
        DemoAccount("lot-church", f"church-lot@{DEMO_DOMAIN}", "Sangsalmi church (lot owner)", Role.OWNER),
        DemoAccount("lot-market", f"market-lot@{DEMO_DOMAIN}", "Ojeong market merchants (lot owner)", Role.OWNER),
    ]
    pilot.accounts += [
        DemoAccount(f"resident{i:02d}", f"resident{i:02d}@{DEMO_DOMAIN}", f"Resident {i:02d}", Role.RESIDENT)
        for i in range(1, 11)
    ]
    pilot.accounts += [
        DemoAccount(key, f"{key}@{DEMO_DOMAIN}", f"Field staff {key}", Role.STAFF)
        for key in DEMO_STAFF
        if key != "staff"
    ]
    pilot.lots = list(LOTS)
    lon0, lat0 = CENTRE

    for lot in LOTS:
        lot_lon, lot_lat = offset(lon0, lat0, east_m=lot.east_m, north_m=lot.north_m)
        always = WeeklyWindow.parse(EVERY_DAY, "00:00", "24:00")
        business = WeeklyWindow.parse(EVERY_DAY, "07:00", "23:00")
        for n in range(lot.slots):
            row, col = divmod(n, 10)
            lon, lat = offset(lot_lon, lot_lat, east_m=col * 2.6, north_m=row * 5.5)
            pilot.slots.append(
                DemoSlot(
                    code=f"{lot.key.upper()}-{n + 1:03d}",
                    kind=lot.kind,
                    owner=lot.owner,
                    lot=lot.key,
                    entrusted=lot.entrusted,
                    lon=lon,
                    lat=lat,
                    ev_charger=n % 10 == 9,
                    accessible=n < 2,
                    size=SlotSize.LARGE if n % 15 == 14 else SlotSize.REGULAR,
                    windows=(always,) if lot.kind == SlotKind.PUBLIC_LOT else (business,),
                )
            )

    # Resident-priority on-street slots: free while their permit holders are at work.
    weekday_bands = [("09:00", "18:00"), ("08:00", "19:00"), ("10:00", "17:00"), ("09:00", "20:00")]
    for n in range(RESIDENT_PRIORITY_SLOTS):
        owner = "owner" if n == 0 else f"permit{n:02d}"
        if n:
            pilot.accounts.append(DemoAccount(owner, f"{owner}@{DEMO_DOMAIN}", f"Permit holder {n:02d}", Role.OWNER))
        start, end = weekday_bands[0] if rng.random() < 0.6 else rng.choice(weekday_bands[1:])
        windows = [WeeklyWindow.parse(WEEKDAYS, start, end)]
        if rng.random() < 0.25:  # some also share on weekend afternoons
            windows.append(WeeklyWindow.parse(WEEKEND, "13:00", "20:00"))
        lon, lat = offset(lon0, lat0, east_m=rng.uniform(-450, 450), north_m=rng.uniform(-450, 450))
        pilot.slots.append(
            DemoSlot(
                code=f"RP-{n + 1:03d}",
                kind=SlotKind.RESIDENT_PRIORITY,
                owner=owner,
                lot=None,
                entrusted=True,  # the city entrusts resident-slot operation to the village enterprise
                lon=lon,
                lat=lat,
                ev_charger=False,
                accessible=rng.random() < 0.05,
                size=SlotSize.COMPACT if rng.random() < 0.3 else SlotSize.REGULAR,
                windows=tuple(windows),
            )
        )

    # Private individual slots (개인 사유지 주차면): each owner picks a pattern.
    patterns = [
        [WeeklyWindow.parse(WEEKDAYS, "09:00", "18:00")],
        [WeeklyWindow.parse(EVERY_DAY, "19:00", "08:00")],  # nights, while the owner's car is away
        [WeeklyWindow.parse(WEEKEND, "00:00", "24:00")],
        [WeeklyWindow.parse(WEEKDAYS, "08:00", "20:00"), WeeklyWindow.parse(["sat"], "10:00", "16:00")],
    ]
    for n in range(PRIVATE_INDIVIDUAL_SLOTS):
        owner = f"private{n + 1:02d}"
        pilot.accounts.append(DemoAccount(owner, f"{owner}@{DEMO_DOMAIN}", f"Private owner {n + 1:02d}", Role.OWNER))
        lon, lat = offset(lon0, lat0, east_m=rng.uniform(-480, 480), north_m=rng.uniform(-480, 480))
        pilot.slots.append(
            DemoSlot(
                code=f"PI-{n + 1:03d}",
                kind=SlotKind.PRIVATE_INDIVIDUAL,
                owner=owner,
                lot=None,
                entrusted=False,
                lon=lon,
                lat=lat,
                ev_charger=rng.random() < 0.15,
                accessible=False,
                size=rng.choice([SlotSize.COMPACT, SlotSize.REGULAR, SlotSize.REGULAR, SlotSize.LARGE]),
                windows=tuple(rng.choice(patterns)),
            )
        )
    return pilot


# KRW per 30 minutes by slot kind: weekday night (00-09), day (09-18), evening (18-24); weekend; public holiday.
TARIFFS_PER_30_MIN = {
    SlotKind.PUBLIC_LOT: (100, 300, 200, 200, 0),
    SlotKind.PRIVATE_LOT: (200, 500, 400, 300, 200),
    SlotKind.RESIDENT_PRIORITY: (150, 250, 200, 200, 100),
    SlotKind.PRIVATE_INDIVIDUAL: (200, 400, 300, 300, 200),
}
# Parking in the wider district costs less than in the village core, which the pilot wanted to decongest.
ZONE_PRICE_PERMILLE = {"sangsalmi": 1000, "samjeong-dong": 800}
CITY_CAPS_KRW_PER_HOUR = {"sangsalmi": (0, 1500), "samjeong-dong": (0, 1200)}
PUBLIC_HOLIDAYS = [
    (date(2026, 12, 25), "Christmas"),
    (date(2027, 1, 1), "New Year's Day"),
    (date(2027, 3, 1), "Independence Movement Day"),
    (date(2027, 5, 5), "Children's Day"),
    (date(2027, 6, 6), "Memorial Day"),
    (date(2027, 8, 15), "Liberation Day"),
    (date(2027, 10, 3), "National Foundation Day"),
    (date(2027, 10, 9), "Hangul Day"),
]
DEMO_WALLET_KRW = 50_000


def tariffs(zone_id: uuid.UUID, zone_code: str) -> list[Tariff]:
    permille = ZONE_PRICE_PERMILLE[zone_code]
    rows = []
    for kind, (night, day, evening, weekend, holiday) in TARIFFS_PER_30_MIN.items():
        bands = [
            ("weekday", 0, 540, night),
            ("weekday", 540, 1080, day),
            ("weekday", 1080, 1440, evening),
            ("weekend", 0, 1440, weekend),
            ("holiday", 0, 1440, holiday),
        ]
        rows += [
            Tariff(
                zone_id=zone_id,
                slot_kind=kind,
                day_type=day_type,
                start_minute=start,
                end_minute=end,
                unit_minutes=30,
                unit_price_krw=price * permille // 1000,
            )
            for day_type, start, end, price in bands
        ]
    return rows


@dataclass(frozen=True, slots=True)
class LoadResult:
    created: bool
    accounts: int
    lots: int
    slots: int


async def load(session: AsyncSession, *, clock: Clock, policy: BookingPolicy, seed: int = 2019) -> LoadResult:
    """Load the pilot unless it is already there (idempotent). Flushes; the caller commits."""
    pilot = generate(seed)
    admin_email = HEADLINE_ACCOUNTS[0].email
    if await session.scalar(select(Account.id).where(Account.email == admin_email)) is not None:
        return LoadResult(False, len(pilot.accounts), len(pilot.lots), len(pilot.slots))

    for code, name, half_side in (
        ("samjeong-dong", "Samjeong-dong (pilot district)", 1500),
        ("sangsalmi", "Sangsalmi village", 520),
    ):
        zone = await add_zone(session, code=code, name=name, ring=square(half_side))
        session.add_all(tariffs(zone.id, code))
        low, high = CITY_CAPS_KRW_PER_HOUR[code]
        session.add(ZonePriceCap(zone_id=zone.id, min_krw_per_hour=low, max_krw_per_hour=high))
    for day, holiday in PUBLIC_HOLIDAYS:
        await session.merge(PublicHoliday(day=day, name=holiday))
    await session.flush()

    password_hash = hash_password(DEMO_PASSWORD)  # one argon2 hash shared by all demo accounts: fast to load
    ids: dict[str, uuid.UUID] = {}
    for demo in pilot.accounts:
        account = await create_account(
            session, email=demo.email, password_hash=password_hash, display_name=demo.display_name, role=demo.role
        )
        ids[demo.key] = account.id
        if demo.role == Role.RESIDENT or demo.key == "owner":
            await Wallet().top_up(session, account_id=account.id, amount=DEMO_WALLET_KRW, now=clock.now())
        if demo.role == Role.STAFF:
            session.add(
                StaffMember(account_id=account.id, skills=list(DEMO_STAFF[demo.key][0]), hourly_wage_krw=DEMO_WAGE_KRW)
            )
    await session.flush()
    await _plan_demo_shifts(session, ids, now=clock.now(), timezone=policy.timezone)
    admin = Actor(id=ids["admin"], role=Role.ADMIN)
    enterprise = ids["operator"]

    lot_ids: dict[str, uuid.UUID] = {}
    lon0, lat0 = CENTRE
    for lot in pilot.lots:
        lon, lat = offset(lon0, lat0, east_m=lot.east_m, north_m=lot.north_m)
        created = await service.create_lot(
            session,
            name=lot.name,
            kind=lot.kind,
            lon=lon,
            lat=lat,
            owner_id=ids[lot.owner],
            operator_id=enterprise if lot.entrusted else None,
        )
        lot_ids[lot.key] = created.id

    now = clock.now()
    for slot in pilot.slots:
        view = await service.create_slot(
            session,
            actor=admin,
            code=slot.code,
            kind=slot.kind,
            lon=slot.lon,
            lat=slot.lat,
            owner_id=ids[slot.owner],
            lot_id=lot_ids[slot.lot] if slot.lot else None,
            operator_id=enterprise if slot.entrusted else None,
            ev_charger=slot.ev_charger,
            accessible=slot.accessible,
            size=slot.size,
        )
        await service.replace_weekly_windows(
            session, actor=admin, slot_id=view.id, windows=list(slot.windows), policy=policy, now=now
        )
    return LoadResult(True, len(pilot.accounts), len(pilot.lots), len(pilot.slots))


async def _plan_demo_shifts(session: AsyncSession, ids: dict[str, uuid.UUID], *, now: datetime, timezone: str) -> None:
    """A day shift for every staff member on each of the coming days; those with a position clock in when their
    shift is on now."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    for key, (_, position) in DEMO_STAFF.items():
        for day in range(DEMO_SHIFT_DAYS):
            date = today + timedelta(days=day)
            start, end = (datetime.combine(date, at, tzinfo=ZoneInfo(timezone)) for at in DEMO_SHIFT)
            if end > now:
                await staff.plan_shift(session, staff_id=ids[key], start=start, end=end)
        if position is not None:
            lon, lat = offset(*CENTRE, east_m=position[0], north_m=position[1])
            with contextlib.suppress(NotOnShift):
                await staff.clock_in(session, staff_id=ids[key], lon=lon, lat=lat, now=now)
