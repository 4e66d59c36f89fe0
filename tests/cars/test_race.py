"""Residents racing for one happiness car over real HTTP (a uvicorn server on loopback, real commits): one booking,
every other a clear 409, PostgreSQL's exclusion constraint (with the buffer) deciding."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.models import Account
from billing.models import PaymentHold, Tariff
from cars import contracts
from cars.models import HOLDING, CarBooking, CarContract, GuaranteedWindow
from cars.rules import CarRules
from core.idempotency import IdempotencyKey
from core.settings import Settings
from geo.models import Zone
from mobility.models import Provider, ProviderKind, Vehicle
from mobility.rides import all_day_ride_tariffs
from mobility.vehicles import NewVehicle, register_vehicles
from parking.models import Booking, SharingRule, Slot
from tests.factories import CAR_KRW_PER_MINUTE, PASSWORD, make_account, make_slot, make_zone, unique

CONCURRENT = 30


@pytest.fixture
async def committed_car(engine: AsyncEngine) -> AsyncIterator[dict[str, object]]:
    """A committed car under contract (no windows of its own: all shareable) and drivers; removed afterwards (the
    car is never deployed, so it has no MDS events to keep)."""
    now = datetime.now(UTC)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        zone_id = await make_zone(session)
        session.add_all(all_day_ride_tariffs(zone_id, "car", CAR_KRW_PER_MINUTE))
        provider = Provider(code=unique("ve"), name="village enterprise", kind=ProviderKind.VILLAGE_ENTERPRISE)
        session.add(provider)
        await session.flush()
        [(car, _)] = await register_vehicles(
            session, [NewVehicle("car", provider.id, unique("CAR")[:30], unique("iot-car"), 90)]
        )
        primary = await make_account(session)
        home = await make_slot(session, east_m=15, now=now)
        local = now.astimezone(ZoneInfo("Asia/Seoul")).date()
        contract = await contracts.create_contract(
            session,
            car_id=car.id,
            primary_id=primary.id,
            home_slot_id=home,
            monthly_fee_krw=0,
            release_credit_krw_per_hour=0,
            starts_on=local,
            ends_on=local + timedelta(days=10),
            windows=[],
            rules=CarRules.from_settings(Settings(env="test")),
            now=now,
        )
        drivers = [await make_account(session) for _ in range(3)]
        await session.commit()
    yield {"car_id": car.id, "drivers": drivers}
    async with AsyncSession(engine) as session:
        people = [primary.id, *(d.id for d in drivers)]
        owner = await session.scalar(select(Slot.owner_id).where(Slot.id == home))
        await session.execute(delete(CarBooking).where(CarBooking.car_id == car.id))
        await session.execute(delete(GuaranteedWindow).where(GuaranteedWindow.contract_id == contract.id))
        await session.execute(delete(CarContract).where(CarContract.id == contract.id))
        await session.execute(delete(Booking).where(Booking.slot_id == home))
        await session.execute(delete(SharingRule).where(SharingRule.slot_id == home))
        await session.execute(delete(Slot).where(Slot.id == home))
        await session.execute(delete(Vehicle).where(Vehicle.id == car.id))
        await session.execute(delete(Provider).where(Provider.id == provider.id))
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.account_id.in_(people)))
        await session.execute(delete(PaymentHold).where(PaymentHold.driver_id.in_(people)))
        await session.execute(delete(Account).where(Account.id.in_([*people, *([owner] if owner else [])])))
        await session.execute(delete(Tariff).where(Tariff.zone_id == zone_id))
        await session.execute(delete(Zone).where(Zone.id == zone_id))
        await session.commit()


async def test_residents_racing_for_one_car_get_one_booking(
    live_server: str, engine: AsyncEngine, committed_car: dict[str, object]
):
    car_id = committed_car["car_id"]
    drivers = committed_car["drivers"]
    assert isinstance(drivers, list)
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0, second=0)
    async with httpx.AsyncClient(
        base_url=live_server, timeout=60, limits=httpx.Limits(max_connections=CONCURRENT)
    ) as client:
        headers = []
        for driver in drivers:
            async with AsyncSession(engine) as session:
                email = await session.scalar(select(Account.email).where(Account.id == driver.id))
            token = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
            headers.append({"Authorization": f"Bearer {token.json()['access_token']}"})
        barrier = asyncio.Event()

        async def attempt(n: int) -> httpx.Response:
            # each starts a few minutes after the one before: every two overlap, or fall in each other's buffer
            begin = start + timedelta(minutes=n)
            body = {"car_id": str(car_id), "start": begin.isoformat(), "end": (begin + timedelta(hours=1)).isoformat()}
            await barrier.wait()
            return await client.post("/cars/bookings", json=body, headers=headers[n % len(headers)])

        tasks = [asyncio.create_task(attempt(n)) for n in range(CONCURRENT)]
        await asyncio.sleep(0.1)
        barrier.set()
        responses = await asyncio.gather(*tasks)
        # a retried request with one Idempotency-Key never books twice
        later = start + timedelta(hours=5)
        body = {"car_id": str(car_id), "start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()}
        retried = {**headers[0], "Idempotency-Key": str(uuid.uuid4())}
        replays = await asyncio.gather(*(client.post("/cars/bookings", json=body, headers=retried) for _ in range(10)))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: CONCURRENT - 1}, statuses
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"car_unavailable"}
    assert {r.json()["id"] for r in replays if r.status_code == 201} == {replays[0].json()["id"]}
    async with AsyncSession(engine) as session:
        holding = await session.scalar(
            select(func.count())
            .select_from(CarBooking)
            .where(CarBooking.car_id == car_id, CarBooking.status.in_(HOLDING))
        )
    assert holding == 2
