"""Slot search and sharing windows through HTTP against real PostGIS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from parking.models import SharingRule, SlotKind, SlotSize
from parking.policy import WeeklyWindow
from sim.pilot import CENTRE
from tests.conftest import NOW
from tests.factories import auth, booking_body, error_of, make_account, make_slot, make_zone

LON, LAT = CENTRE
START, END = NOW.replace(hour=10), NOW.replace(hour=12)


def search_params(**extra: Any) -> dict[str, Any]:
    return {"lat": LAT, "lon": LON, "start": START.isoformat(), "end": END.isoformat(), **extra}


async def test_search_orders_by_walking_distance_and_filters(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    await make_zone(session)
    near = await make_slot(session, east_m=50, now=NOW)
    mid = await make_slot(session, north_m=150, ev_charger=True, now=NOW)
    far = await make_slot(session, east_m=-300, accessible=True, size=SlotSize.LARGE, now=NOW)
    await make_slot(session, east_m=900, now=NOW)  # beyond the default 500 m walk
    weekend_only = [WeeklyWindow.parse(["sat", "sun"], "00:00", "24:00")]
    await make_slot(session, east_m=20, windows=weekend_only, now=NOW)  # closer, but not shared on Monday
    driver = await make_account(session)
    headers = auth(state, driver)

    found = await client.get("/slots/search", params=search_params(), headers=headers)
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert [i["slot"]["id"] for i in items] == [str(near), str(mid), str(far)]
    assert [i["distance_m"] for i in items] == sorted(i["distance_m"] for i in items)
    assert 45 <= items[0]["distance_m"] <= 55 and items[0]["walk_m"] == round(items[0]["distance_m"] * 1.3)
    assert {i["price_krw"] for i in items} == {2000}  # 10:00-12:00 at the test tariff, 500 KRW per 30 minutes

    ev = (await client.get("/slots/search", params=search_params(ev_charger=True), headers=headers)).json()
    assert [i["slot"]["id"] for i in ev["items"]] == [str(mid)]
    large = await client.get("/slots/search", params=search_params(size="large", accessible=True), headers=headers)
    assert [i["slot"]["id"] for i in large.json()["items"]] == [str(far)]
    short = (await client.get("/slots/search", params=search_params(max_walk_m=100), headers=headers)).json()
    assert [i["slot"]["id"] for i in short["items"]] == [str(near)]

    page1 = (await client.get("/slots/search", params=search_params(limit=2), headers=headers)).json()
    assert page1["next_offset"] == 2
    page2 = (await client.get("/slots/search", params=search_params(limit=2, offset=2), headers=headers)).json()
    assert [i["slot"]["id"] for i in page1["items"] + page2["items"]] == [str(near), str(mid), str(far)]
    assert page2["next_offset"] is None


async def test_search_hides_booked_slots(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    await make_zone(session)
    slot = await make_slot(session, east_m=10, now=NOW)
    driver = await make_account(session)
    headers = auth(state, driver)
    booked = await client.post(
        "/bookings", json=booking_body(slot, START + timedelta(hours=1), END + timedelta(hours=1)), headers=headers
    )
    assert booked.status_code == 201
    overlapping = (await client.get("/slots/search", params=search_params(), headers=headers)).json()
    assert overlapping["items"] == []
    before = search_params(start=(START - timedelta(hours=2)).isoformat(), end=(START + timedelta(hours=1)).isoformat())
    adjacent = (await client.get("/slots/search", params=before, headers=headers)).json()
    assert [i["slot"]["id"] for i in adjacent["items"]] == [str(slot)]


async def test_availability_lists_free_periods(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    await make_zone(session)
    work = [WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00")]
    slot = await make_slot(session, windows=work, now=NOW)
    driver = await make_account(session)
    await client.post("/bookings", json=booking_body(slot, START, END), headers=auth(state, driver))
    day = {"start": NOW.replace(hour=0).isoformat(), "end": (NOW.replace(hour=0) + timedelta(days=1)).isoformat()}
    free = (await client.get(f"/slots/{slot}/availability", params=day, headers=auth(state, driver))).json()["free"]
    periods = [(p["start"][:16], p["end"][:16]) for p in free]
    # 09:00-10:00 and 12:00-18:00 Seoul time, reported in UTC
    assert periods == [("2026-11-23T00:00", "2026-11-23T01:00"), ("2026-11-23T03:00", "2026-11-23T09:00")]


async def test_sharing_change_that_breaks_a_booking_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    slot = await make_slot(session, owner=owner, now=NOW)
    driver = await make_account(session)
    booking = (await client.post("/bookings", json=booking_body(slot, START, END), headers=auth(state, driver))).json()
    headers = auth(state, owner)

    nights = {"windows": [{"weekdays": ["mon", "tue", "wed", "thu", "fri"], "start": "19:00", "end": "07:00"}]}
    refused = await client.put(f"/slots/{slot}/sharing/weekly", json=nights, headers=headers)
    assert refused.status_code == 409 and error_of(refused) == "sharing_conflicts_with_bookings"
    conflicts = refused.json()["bookings"]
    assert [c["booking_id"] for c in conflicts] == [booking["id"]]
    assert "driver_id" not in conflicts[0] and "vehicle_plate" not in conflicts[0]
    rules = (await session.execute(select(SharingRule).where(SharingRule.slot_id == slot))).scalars().all()
    assert [(r.start_minute, r.end_minute) for r in rules] == [(0, 1440)]  # nothing changed

    blackout = {"kind": "blackout", "start": START.isoformat(), "end": (START + timedelta(minutes=30)).isoformat()}
    refused = await client.post(f"/slots/{slot}/sharing/exceptions", json=blackout, headers=headers)
    assert refused.status_code == 409

    later = {
        "kind": "blackout",
        "start": END.isoformat(),
        "end": (END + timedelta(hours=3)).isoformat(),
        "note": "guests",
    }
    added = await client.post(f"/slots/{slot}/sharing/exceptions", json=later, headers=headers)
    assert added.status_code == 201, added.text
    after = (
        await client.get(
            "/slots/search",
            params=search_params(end=(END + timedelta(hours=1)).isoformat()),
            headers=auth(state, driver),
        )
    ).json()
    assert after["items"] == []

    sharing = (await client.get(f"/slots/{slot}/sharing", headers=headers)).json()
    assert sharing["weekly"] == [
        {"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}
    ]
    assert [e["note"] for e in sharing["exceptions"]] == ["guests"]
    removed = await client.delete(f"/slots/{slot}/sharing/exceptions/{added.json()['id']}", headers=headers)
    assert removed.status_code == 204

    # cancelling the booking makes the same change possible
    await client.post(f"/bookings/{booking['id']}/cancel", headers=auth(state, driver))
    accepted = await client.put(f"/slots/{slot}/sharing/weekly", json=nights, headers=headers)
    assert accepted.status_code == 200
    assert accepted.json()["weekly"] == [
        {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "start": "19:00", "end": "07:00"}
    ]


async def test_extra_window_opens_a_slot(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    slot = await make_slot(session, owner=owner, windows=[], now=NOW)
    driver = await make_account(session)
    body = booking_body(slot, START, END)
    assert (await client.post("/bookings", json=body, headers=auth(state, driver))).status_code == 409
    extra = {"kind": "extra", "start": START.isoformat(), "end": END.isoformat()}
    assert (
        await client.post(f"/slots/{slot}/sharing/exceptions", json=extra, headers=auth(state, owner))
    ).status_code == 201
    assert (await client.post("/bookings", json=body, headers=auth(state, driver))).status_code == 201
    # removing the extra window now would strand the booking
    exception_id = (await client.get(f"/slots/{slot}/sharing", headers=auth(state, owner))).json()["exceptions"][0][
        "id"
    ]
    refused = await client.delete(f"/slots/{slot}/sharing/exceptions/{exception_id}", headers=auth(state, owner))
    assert refused.status_code == 409


async def test_only_managers_change_sharing(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    operator = await make_account(session, role=Role.OPERATOR)
    private = await make_slot(session, owner=owner, now=NOW)
    entrusted = await make_slot(session, owner=owner, entrusted_to=operator, now=NOW)
    other_owner = await make_account(session, role=Role.OWNER)
    body = {"windows": []}
    assert (
        await client.put(f"/slots/{private}/sharing/weekly", json=body, headers=auth(state, other_owner))
    ).status_code == 403
    assert (
        await client.put(f"/slots/{private}/sharing/weekly", json=body, headers=auth(state, operator))
    ).status_code == 403
    assert (
        await client.put(f"/slots/{entrusted}/sharing/weekly", json=body, headers=auth(state, operator))
    ).status_code == 200


async def test_slot_registration(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    body = {
        "code": "MY-GARAGE-1",
        "kind": "private_individual",
        "location": {"lon": LON, "lat": LAT},
        "ev_charger": True,
    }
    created = await client.post("/slots", json=body, headers={**auth(state, owner), "Idempotency-Key": "slot-1"})
    assert created.status_code == 201, created.text
    assert created.json()["owner_id"] == str(owner.id) and created.json()["zone_code"].startswith("zone")
    again = await client.post("/slots", json=body, headers={**auth(state, owner), "Idempotency-Key": "slot-1"})
    assert again.json()["id"] == created.json()["id"]
    duplicate = await client.post("/slots", json=body, headers=auth(state, owner))
    assert duplicate.status_code == 409 and error_of(duplicate) == "slot_code_taken"
    lot_slot = await client.post(
        "/slots", json={**body, "code": "X-2", "kind": "public_lot"}, headers=auth(state, owner)
    )
    assert lot_slot.status_code == 403
    far_away = {**body, "code": "SEOUL-1", "location": {"lon": 127.0, "lat": 37.56}}
    outside = await client.post("/slots", json=far_away, headers=auth(state, owner))
    assert outside.status_code == 422 and error_of(outside) == "outside_service_area"
    mine = (await client.get("/slots", headers=auth(state, owner))).json()["items"]
    assert [s["code"] for s in mine] == ["MY-GARAGE-1"]

    withdrawn = await client.patch(f"/slots/{created.json()['id']}", json={"active": False}, headers=auth(state, owner))
    assert withdrawn.status_code == 200 and withdrawn.json()["active"] is False


async def test_lots(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    await make_zone(session)
    city = await make_account(session, role=Role.CITY)
    operator = await make_account(session, role=Role.OPERATOR)
    body = {
        "name": "Test public lot",
        "kind": "public_lot",
        "location": {"lon": LON, "lat": LAT},
        "owner_id": str(city.id),
        "operator_id": str(operator.id),
    }
    created = await client.post("/lots", json=body, headers=auth(state, operator))
    assert created.status_code == 201, created.text
    slot = {
        "code": "TPL-1",
        "kind": "public_lot",
        "lot_id": created.json()["id"],
        "location": {"lon": LON, "lat": LAT},
        "owner_id": str(city.id),
    }
    made = await client.post("/slots", json=slot, headers=auth(state, operator))
    assert made.status_code == 201 and made.json()["operator_id"] == str(operator.id)  # inherited from the lot
    lots = (await client.get("/lots", headers=auth(state, city))).json()["items"]
    assert [(lot["name"], lot["slot_count"]) for lot in lots] == [("Test public lot", 1)]
    unknown_owner = await client.post(
        "/lots", json={**body, "owner_id": "00000000-0000-0000-0000-000000000000"}, headers=auth(state, operator)
    )
    assert unknown_owner.status_code == 404 and error_of(unknown_owner) == "account_not_found"
    wrong_kind = await client.post(
        "/slots", json={**slot, "code": "TPL-2", "kind": "private_lot"}, headers=auth(state, operator)
    )
    assert wrong_kind.status_code == 422


async def test_deactivating_a_slot_with_bookings_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    slot = await make_slot(session, owner=owner, kind=SlotKind.PRIVATE_INDIVIDUAL, now=NOW)
    driver = await make_account(session)
    await client.post("/bookings", json=booking_body(slot, START, END), headers=auth(state, driver))
    refused = await client.patch(f"/slots/{slot}", json={"active": False}, headers=auth(state, owner))
    assert refused.status_code == 409 and len(refused.json()["bookings"]) == 1
