"""A happiness car's week through HTTP against real PostgreSQL: the primary user's time is never taken, two other
residents book the idle hours (with the buffer), a trip is picked up and returned with telemetry, priced in lines
that add up, split and on the ledger and the MDS event log; a late return opens a rebooking offer; the primary user
releases a morning and the month's invoice credits it."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from billing import journal
from cars import bookings, photos, rebooking, repository
from cars.rules import CarRules
from core.clock import FixedClock
from core.outbox import Notification
from core.settings import Settings
from mobility.models import VehicleEvent
from parking.models import Booking
from tests.conftest import NOW
from tests.factories import (
    CAR_KRW_PER_MINUTE,
    WALLET_KRW,
    auth,
    device_headers,
    error_of,
    fix,
    make_account,
    make_fleet,
    make_happiness_car,
)

MON = NOW.replace(hour=0)  # Monday 2026-11-23, Seoul


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MON + timedelta(days=day, hours=hour, minutes=minute)


def span(start: datetime, end: datetime, car_id: object) -> dict[str, str]:
    return {"car_id": str(car_id), "start": start.isoformat(), "end": end.isoformat()}


async def test_a_happiness_cars_week(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    fleet_ = await make_fleet(session, now=NOW)
    primary, alice, bob, carol = [await make_account(session) for _ in range(4)]
    operator = await make_account(session, role=Role.OPERATOR)
    car = await make_happiness_car(session, fleet_=fleet_, primary=primary, east_m=30, now=NOW)
    other = await make_happiness_car(session, fleet_=fleet_, primary=carol, east_m=60, windows=[], now=NOW)
    await session.commit()
    car_id, contract = car["car_id"], car["contract_id"]

    # the contract: the primary user's coming week, the home slot held for the car
    shown = await client.get(f"/cars/contracts/{contract}", headers=auth(state, primary))
    assert shown.status_code == 200 and len(shown.json()["guaranteed_next_7_days"]) == 10
    assert (await client.get(f"/cars/contracts/{contract}", headers=auth(state, alice))).status_code == 404
    home = await session.get(
        Booking, (await repository.contract_for(session, actor=operator, contract_id=contract)).home_booking_id
    )  # type: ignore[arg-type]
    assert home is not None and home.status == "active" and home.slot_id == car["home_slot_id"]

    # two residents book the idle hours of Monday; the buffer (30 min) keeps the car clear of the primary user
    searched = await client.get(
        "/cars/search",
        params={"lon": 126.78, "lat": 37.52, "start": at(0, 10).isoformat(), "end": at(0, 14).isoformat()},
        headers=auth(state, alice),
    )
    assert [c["car_id"] for c in searched.json()] == [str(car_id), str(other["car_id"])]
    quote = searched.json()[0]["quote_krw"]
    assert quote == 240 * CAR_KRW_PER_MINUTE + 20 * 150  # four hours and the 20 km held
    first = await client.post(
        "/cars/bookings",
        json=span(at(0, 10), at(0, 14), car_id),
        headers=auth(state, alice) | {"Idempotency-Key": "a1"},
    )
    assert first.status_code == 201, first.text
    assert first.json()["quote_krw"] == quote
    assert datetime.fromisoformat(first.json()["blocked_until"]) == at(0, 14, 30)
    assert await journal.balance(session, journal.wallet(alice.id)) == WALLET_KRW - quote
    overlapping = await client.post("/cars/bookings", json=span(at(0, 13), at(0, 15), car_id), headers=auth(state, bob))
    assert overlapping.status_code == 409 and error_of(overlapping) == "car_unavailable"
    in_buffer = await client.post(
        "/cars/bookings", json=span(at(0, 14, 10), at(0, 16), car_id), headers=auth(state, bob)
    )
    assert error_of(in_buffer) == "car_unavailable"
    into_evening = await client.post(
        "/cars/bookings", json=span(at(0, 15), at(0, 17, 10), car_id), headers=auth(state, bob)
    )
    assert into_evening.status_code == 409 and error_of(into_evening) == "primary_time"
    assert into_evening.json()["buffer_minutes"] == 30
    second = await client.post(
        "/cars/bookings", json=span(at(0, 14, 30), at(0, 16, 30), car_id), headers=auth(state, bob)
    )
    assert second.status_code == 201, second.text
    # the primary user's evening is theirs: nobody else gets it, they book it with the time covered
    taken = await client.post("/cars/bookings", json=span(at(0, 18), at(0, 19), car_id), headers=auth(state, carol))
    assert error_of(taken) == "primary_time"
    own = await client.post("/cars/bookings", json=span(at(0, 17, 30), at(0, 20), car_id), headers=auth(state, primary))
    assert own.status_code == 201 and own.json()["primary_time"] and own.json()["quote_krw"] == 20 * 150
    # widening the primary user's windows is the village enterprise's to approve (time added, then released, would
    # earn credit the contract never promised); and even an operator may not widen them over what others booked
    wider = {"windows": [{"weekdays": ["mon"], "start": "07:00", "end": "12:00"}]}
    asked = await client.put(f"/cars/contracts/{contract}/windows", json=wider, headers=auth(state, primary))
    assert asked.status_code == 409 and error_of(asked) == "car_windows_need_approval"
    refused = await client.put(f"/cars/contracts/{contract}/windows", json=wider, headers=auth(state, operator))
    assert refused.status_code == 409 and error_of(refused) == "car_windows_conflict_with_bookings"
    assert [b["booking_id"] for b in refused.json()["bookings"]] == [first.json()["id"]]

    # Alice picks the car up, drives 5.5 km with the device reporting, and brings it back 20 minutes late, not clean
    clock.set(at(0, 9, 55))
    named, unnamed = [
        (await client.post("/cars/photos", files={"file": ("p.jpg", photo)}, headers=auth(state, alice))).json()["key"]
        for photo in (b"\xff\xd8\xff\xe0front", b"\xff\xd8\xff\xe0never-named")
    ]
    pick_up = {"photos": [named]}
    early = await client.post(f"/cars/bookings/{first.json()['id']}/pick-up", json=pick_up, headers=auth(state, alice))
    assert early.status_code == 200, early.text  # from 15 minutes before the start
    # a day on, the photo no report names is removed, from storage too; the named one stays
    assert await photos.prune(session, state.photos, now=clock.now() + timedelta(hours=23)) == 0
    assert await photos.prune(session, state.photos, now=clock.now() + timedelta(days=1, minutes=1)) >= 1
    assert await state.photos.get(unnamed) is None and await state.photos.get(named) is not None
    picked = early.json()
    assert picked["status"] == "active" and picked["trip_id"]
    device = device_headers(str(car["device"]), str(car["key"]))
    t = clock.now()
    route = [fix(t + timedelta(minutes=10 * i), east_m=30 + 500 * (i if i <= 6 else 12 - i)) for i in range(1, 13)]
    clock.set(t + timedelta(minutes=125))
    posted = await client.post("/telemetry", json={"points": route}, headers=device)
    assert posted.json()["accepted"] == 12, posted.text
    clock.set(at(0, 14, 5))
    final = fix(clock.now(), east_m=30, battery_pct=55)
    assert (await client.post("/telemetry", json={"points": [final]}, headers=device)).json()["accepted"] == 1
    # the car is late and Bob's booking starts within the buffer: he is offered the other car
    assert await rebooking.check_late(session, rules=CarRules.from_settings(Settings(env="test")), now=clock.now()) == 1
    await session.commit()
    offers = (await client.get("/cars/offers", headers=auth(state, bob))).json()
    assert len(offers) == 1 and offers[0]["alternative_car_id"] == str(other["car_id"])
    notified = await session.scalar(select(Notification).where(Notification.audience == f"account:{bob.id}"))
    assert notified is not None and notified.kind == "car_rebooking_offer"
    clock.set(at(0, 14, 20))
    home_fix = fix(clock.now() - timedelta(minutes=1), east_m=30, battery_pct=54)
    assert (await client.post("/telemetry", json={"points": [home_fix]}, headers=device)).json()["accepted"] == 1
    returned = await client.post(
        f"/cars/bookings/{first.json()['id']}/return",
        json={"checklist": {"clean": False, "body": True}, "note": "coffee spilt"},
        headers=auth(state, alice),
    )
    assert returned.status_code == 200, returned.text
    trip = returned.json()
    lines = {line["kind"]: line for line in trip["charge_lines"]}
    assert trip["charged_krw"] == sum(line["amount_krw"] for line in trip["charge_lines"])
    assert lines["late_return_fee"]["amount_krw"] == 2 * 2000 and lines["cleaning_fee"]["amount_krw"] == 10_000
    assert lines["distance"]["km"] == 5.5 and trip["km"] == 5.5  # 3 km out and back, from the first fix
    assert sum(line["minutes"] for line in trip["charge_lines"] if line["kind"] == "time") == 260
    charged = trip["charged_krw"]
    assert await journal.balance(session, journal.wallet(alice.id)) == WALLET_KRW - charged  # the rest released
    # the MDS event log and the ledger have the trip
    events = [
        e.event_types[0]
        for e in await session.scalars(
            select(VehicleEvent).where(VehicleEvent.vehicle_id == car_id).order_by(VehicleEvent.seq)
        )
    ]
    assert events[-2:] == ["trip_start", "trip_end"]
    mds_trip = await client.get(f"/rides/{picked['trip_id']}", headers=auth(state, alice))
    assert mds_trip.status_code == 200 and mds_trip.json()["fare_krw"] == charged
    # the condition left is in the operators' queue
    queue = (
        await client.get(
            "/cars/condition-reports",
            params={"needs_attention": "true", "handled": "false"},
            headers=auth(state, operator),
        )
    ).json()["items"]
    assert [(r["stage"], r["note"]) for r in queue] == [("return", "coffee spilt")]
    handled = await client.post(f"/cars/condition-reports/{queue[0]['id']}/handled", headers=auth(state, operator))
    assert handled.status_code == 200 and handled.json()["handled_at"]

    # Bob takes the other car for his booking; the offer is settled
    moved = await client.post(f"/cars/offers/{offers[0]['id']}/accept", headers=auth(state, bob))
    assert moved.status_code == 200, moved.text
    assert moved.json()["car_id"] == str(other["car_id"]) and moved.json()["status"] == "reserved"
    assert (await client.post(f"/cars/offers/{offers[0]['id']}/refund", headers=auth(state, bob))).status_code == 409

    # the primary user releases Tuesday morning; Carol books it; the month's invoice credits it
    release = {"start": at(1, 7).isoformat(), "end": at(1, 9, 30).isoformat()}
    released = await client.post(f"/cars/contracts/{contract}/releases", json=release, headers=auth(state, primary))
    assert released.status_code == 201, released.text
    assert released.json()["exceptions"][0]["credit_krw"] == 2500
    not_theirs = {"start": at(1, 11).isoformat(), "end": at(1, 12).isoformat()}
    assert (
        await client.post(f"/cars/contracts/{contract}/releases", json=not_theirs, headers=auth(state, primary))
    ).status_code == 422
    tuesday = await client.post("/cars/bookings", json=span(at(1, 7), at(1, 9), car_id), headers=auth(state, carol))
    assert tuesday.status_code == 201, tuesday.text
    # Carol never comes: at 07:31 her booking is a no-show (30% of the quote), the car free again
    rules = CarRules.from_settings(Settings(env="test"))
    # (Monday's bookings never picked up go first: the primary user's evening and Bob's afternoon on the other car)
    assert await bookings.mark_no_shows(session, rules=rules, now=at(1, 7, 29)) == 2
    assert await bookings.mark_no_shows(session, rules=rules, now=at(1, 7, 31)) == 1
    await session.commit()
    missed = (await client.get(f"/cars/bookings/{tuesday.json()['id']}", headers=auth(state, carol))).json()
    assert missed["status"] == "no_show" and missed["charged_krw"] == tuesday.json()["quote_krw"] * 3000 // 10_000
    assert await journal.balance(session, journal.wallet(carol.id)) == WALLET_KRW - missed["charged_krw"]
    clock.set(datetime(2026, 12, 1, 9, tzinfo=NOW.tzinfo))
    bill = await client.post(
        f"/cars/contracts/{contract}/invoices", json={"month": "2026-11"}, headers=auth(state, operator)
    )
    assert bill.status_code == 201, bill.text
    assert bill.json() == bill.json() | {"fee_krw": 150_000 * 8 // 30, "credit_krw": 2500, "amount_krw": 40_000 - 2500}
    again = await client.post(
        f"/cars/contracts/{contract}/invoices", json={"month": "2026-11"}, headers=auth(state, operator)
    )
    assert again.json()["id"] == bill.json()["id"]
    # narrowing their own windows is the primary user's to do (fewer hours guaranteed: nothing to approve)
    evenings = {"windows": [{"weekdays": ["mon", "tue", "wed", "thu", "fri"], "start": "17:30", "end": "22:00"}]}
    narrowed = await client.put(f"/cars/contracts/{contract}/windows", json=evenings, headers=auth(state, primary))
    assert narrowed.status_code == 200, narrowed.text
