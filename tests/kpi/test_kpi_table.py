"""The KPI table's money, fleet and hourly measures through HTTP against real PostgreSQL: revenue by party from the
journal, the fleet's deployed/active/trips/idle share, occupancy by zone and hour, the time-weighted supply ratio and
vehicles by MDS state per hour; each cell from fewer than k people suppressed."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from billing.models import JournalPosting, JournalTransaction
from core.clock import FixedClock
from parking.policy import WeeklyWindow
from tests.conftest import NOW
from tests.factories import auth, booking_body, make_account, make_fleet, make_slot, make_vehicle

DAYTIME = [WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "09:00", "18:00")]


async def _earned(session: AsyncSession, pattern: str) -> int:
    """What the journal says accounts like `pattern` earned from captures and refunds."""
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(JournalPosting.amount_krw), 0))
            .join(JournalTransaction, JournalTransaction.id == JournalPosting.transaction_id)
            .where(JournalPosting.account.like(pattern), JournalTransaction.kind.in_(("capture", "refund")))
        )
    )


async def test_revenue_fleet_and_hourly_measures_from_live_rows(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    fleet = await make_fleet(session, now=NOW)  # its zone prices the slots too
    slots = [await make_slot(session, windows=DAYTIME, east_m=10 * n, now=NOW) for n in range(10)]
    vehicles = [
        await make_vehicle(session, provider_id=fleet["partner"].id, east_m=20 + n, now=NOW)  # type: ignore[attr-defined]
        for n in range(6)
    ]
    drivers = [await make_account(session) for _ in range(7)]
    city_account = await make_account(session, role=Role.CITY)
    await session.commit()
    day = NOW.date().isoformat()

    # five rides on five vehicles by five riders; the last one runs over 09:00
    for n, minute in enumerate((1, 10, 20, 30, 55)):
        clock.set(NOW.replace(hour=8, minute=minute))
        started = await client.post("/rides", json={"vehicle_id": str(vehicles[n][0])}, headers=auth(state, drivers[n]))
        assert started.status_code == 201, started.text
        clock.advance(timedelta(minutes=10 if minute == 55 else 3))
        ended = await client.post(f"/rides/{started.json()['id']}/end", headers=auth(state, drivers[n]))
        assert ended.status_code == 200, ended.text
    # five drivers park 10:00-11:00 on five of the ten slots (paid at check-out), two more book 12:30-13:30
    clock.set(NOW.replace(hour=9, minute=10))
    booked = []
    for n in range(7):
        start = NOW.replace(hour=10) if n < 5 else NOW.replace(hour=12, minute=30)
        made = await client.post(
            "/bookings",
            json=booking_body(slots[n % 5], start, start + timedelta(hours=1)),
            headers=auth(state, drivers[n]),
        )
        assert made.status_code == 201, made.text
        booked.append(made.json()["id"])
    for stamp, step in ((NOW.replace(hour=10, minute=5), "check-in"), (NOW.replace(hour=10, minute=55), "check-out")):
        clock.set(stamp)
        for n in range(5):
            assert (
                await client.post(f"/bookings/{booked[n]}/{step}", headers=auth(state, drivers[n]))
            ).status_code == 200

    city = auth(state, city_account)
    daily = await client.get("/kpi/daily", params={"first": day, "last": day}, headers=city)
    assert daily.status_code == 200, daily.text
    [row] = daily.json()
    # money: what the journal says each party earned, five payers for bookings and for rides
    assert row["revenue_owners"] == await _earned(session, "owner:%") > 0
    assert row["revenue_providers"] == await _earned(session, "provider:%") > 0
    assert row["revenue_enterprise"] == await _earned(session, "enterprise") > 0
    assert row["revenue_city"] == await _earned(session, "city") > 0
    # the fleet: six deployed, five ridden once each
    assert (row["vehicles_deployed"], row["vehicles_active"], row["trips"]) == (6, 5, 5)
    assert row["trips_per_vehicle"] == round(5 / 6, 3) and row["idle_share"] == round(1 / 6, 4)
    assert row["suppressed"] == []

    hourly = await client.get("/kpi/hourly", params={"day": day}, headers=city)
    assert hourly.status_code == 200, hourly.text
    answer = hourly.json()
    home_zone = (await client.get(f"/slots/{slots[0]}", headers=city)).json()["zone_id"]
    [zone] = [z for z in answer["zones"] if z["zone_id"] == home_zone]
    # ten slots open 09:00-18:00
    assert zone["open_slots"] == [10.0 if 9 <= h < 18 else 0.0 for h in range(24)]
    assert answer["supply_ratio"][10] == round((144 + 10) / 388, 4)
    assert answer["supply_ratio"][3] == round(144 / 388, 4)
    # five drivers over ten slots at 10:00; nobody at 11:00; two at 12:30-13:30 (fewer than k: suppressed)
    assert zone["occupancy"][10] == 0.5 and zone["occupancy"][11] == 0.0
    assert zone["occupancy"][12] is None and zone["occupancy"][13] is None and zone["suppressed"] == [12, 13]
    assert zone["occupancy"][3] is None  # nothing open
    # vehicles by state at the start of each hour
    assert answer["fleet"][8] == {"available": 6}
    assert answer["fleet"][9] == {"available": 5, "on_trip": 1}

    # one more day with a single rider: the fleet's people-based cells are suppressed, the deployed count is not
    clock.set(NOW.replace(hour=8) + timedelta(days=1))
    started = await client.post("/rides", json={"vehicle_id": str(vehicles[5][0])}, headers=auth(state, drivers[6]))
    assert started.status_code == 201
    clock.advance(timedelta(minutes=4))
    assert (await client.post(f"/rides/{started.json()['id']}/end", headers=auth(state, drivers[6]))).status_code == 200
    next_day = (NOW + timedelta(days=1)).date().isoformat()
    city = auth(state, city_account)
    [row] = (await client.get("/kpi/daily", params={"first": next_day, "last": next_day}, headers=city)).json()
    assert row["vehicles_deployed"] == 6 and row["trips"] is None and row["trips_per_vehicle"] is None
    assert {"trips", "vehicles_active", "trips_per_vehicle", "idle_share", "revenue_providers"} <= set(
        row["suppressed"]
    )
