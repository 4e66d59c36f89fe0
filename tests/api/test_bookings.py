"""Bookings through HTTP against real PostGIS: the whole life cycle, its clock-driven states, and refusals."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from core.clock import FixedClock
from parking.models import Booking
from parking.policy import WeeklyWindow
from tests.conftest import NOW
from tests.factories import auth, booking_body, error_of, make_account, make_slot, make_zone

WEEKDAY_WORK = [WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00")]


async def _setup(session: AsyncSession, state: AppState, *, windows: list[WeeklyWindow] | None = None):  # type: ignore[no-untyped-def]
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    slot_id = await make_slot(session, owner=owner, windows=windows or WEEKDAY_WORK, now=NOW)
    driver = await make_account(session, role=Role.RESIDENT)
    return owner, slot_id, driver


async def test_booking_life_cycle(client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock):
    owner, slot_id, driver = await _setup(session, state)
    start, end = NOW.replace(hour=10), NOW.replace(hour=12)
    created = await client.post("/bookings", json=booking_body(slot_id, start, end), headers=auth(state, driver))
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["status"] == "reserved" and booking["vehicle_plate"] == "12가3456"
    assert booking["driver_id"] == str(driver.id)

    # too early to check in (opens 15 minutes before start)
    early = await client.post(f"/bookings/{booking['id']}/check-in", headers=auth(state, driver))
    assert early.status_code == 409 and error_of(early) == "invalid_booking_transition"

    clock.set(start - timedelta(minutes=10))
    checked_in = await client.post(f"/bookings/{booking['id']}/check-in", headers=auth(state, driver))
    assert checked_in.status_code == 200 and checked_in.json()["status"] == "active"
    assert (await client.post(f"/bookings/{booking['id']}/cancel", headers=auth(state, driver))).status_code == 409

    clock.set(end - timedelta(minutes=5))
    checked_out = await client.post(f"/bookings/{booking['id']}/check-out", headers=auth(state, driver))
    assert checked_out.status_code == 200
    done = checked_out.json()
    assert done["status"] == "completed" and done["checked_out_at"] is not None

    # the owner sees the booking on their slot, but not who made it
    seen = await client.get(f"/bookings/{booking['id']}", headers=auth(state, owner))
    assert seen.status_code == 200
    assert seen.json()["driver_id"] is None and seen.json()["vehicle_plate"] is None
    on_my_slots = await client.get("/bookings/on-my-slots", headers=auth(state, owner))
    assert [b["id"] for b in on_my_slots.json()["items"]] == [booking["id"]]
    assert on_my_slots.json()["items"][0]["vehicle_plate"] is None


async def test_no_show_frees_the_slot(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    _, slot_id, driver = await _setup(session, state)
    start, end = NOW.replace(hour=10), NOW.replace(hour=12)
    first = (await client.post("/bookings", json=booking_body(slot_id, start, end), headers=auth(state, driver))).json()
    other = await make_account(session)
    taken = await client.post(
        "/bookings", json=booking_body(slot_id, start + timedelta(hours=1), end), headers=auth(state, other)
    )
    assert taken.status_code == 409 and error_of(taken) == "slot_unavailable"

    clock.set(start + timedelta(minutes=31))  # grace is 30 minutes
    status = (await client.get(f"/bookings/{first['id']}", headers=auth(state, driver))).json()["status"]
    assert status == "no_show"
    late = await client.post(f"/bookings/{first['id']}/check-in", headers=auth(state, driver))
    assert late.status_code == 409
    retaken = await client.post(
        "/bookings", json=booking_body(slot_id, start + timedelta(hours=1), end), headers=auth(state, other)
    )
    assert retaken.status_code == 201, retaken.text


async def test_overstay(client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock):
    _, slot_id, driver = await _setup(session, state)
    start, end = NOW.replace(hour=10), NOW.replace(hour=11)
    booking = (
        await client.post("/bookings", json=booking_body(slot_id, start, end), headers=auth(state, driver))
    ).json()
    clock.set(start)
    await client.post(f"/bookings/{booking['id']}/check-in", headers=auth(state, driver))
    clock.set(end + timedelta(minutes=9))
    assert (await client.get(f"/bookings/{booking['id']}", headers=auth(state, driver))).json()["status"] == "active"
    clock.set(end + timedelta(minutes=11))
    listed = await client.get("/bookings", params={"status": "overstayed"}, headers=auth(state, driver))
    assert [b["id"] for b in listed.json()["items"]] == [booking["id"]]
    out = await client.post(f"/bookings/{booking['id']}/check-out", headers=auth(state, driver))
    assert out.json()["status"] == "completed"


async def test_cancel_releases_the_slot(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    _, slot_id, driver = await _setup(session, state)
    body = booking_body(slot_id, NOW.replace(hour=10), NOW.replace(hour=12))
    booking = (await client.post("/bookings", json=body, headers=auth(state, driver))).json()
    cancelled = await client.post(f"/bookings/{booking['id']}/cancel", headers=auth(state, driver))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/bookings/{booking['id']}/cancel", headers=auth(state, driver))
    assert again.status_code == 409 and again.json()["allowed_from"] == ["reserved"]
    assert (await client.post("/bookings", json=body, headers=auth(state, driver))).status_code == 201


async def test_booking_must_lie_inside_sharing_windows(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    _, slot_id, driver = await _setup(session, state)
    headers = auth(state, driver)
    late = await client.post(
        "/bookings", json=booking_body(slot_id, NOW.replace(hour=17), NOW.replace(hour=19)), headers=headers
    )
    assert late.status_code == 409 and error_of(late) == "outside_sharing_window"
    saturday = NOW + timedelta(days=5)
    weekend = await client.post(
        "/bookings", json=booking_body(slot_id, saturday.replace(hour=10), saturday.replace(hour=11)), headers=headers
    )
    assert weekend.status_code == 409
    assert await session.scalar(select(func.count()).select_from(Booking).where(Booking.slot_id == slot_id)) == 0


async def test_overnight_window_and_adjacent_bookings(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    nights = [WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "19:00", "08:00")]
    _, slot_id, driver = await _setup(session, state, windows=nights)
    headers = auth(state, driver)
    evening = NOW.replace(hour=19)
    overnight = await client.post(
        "/bookings", json=booking_body(slot_id, evening, evening + timedelta(hours=12)), headers=headers
    )
    assert overnight.status_code == 201, overnight.text
    # [07:00, 08:00) next morning would overlap the first booking's last hour; [07:00 next evening) is adjacent
    overlap = await client.post(
        "/bookings",
        json=booking_body(slot_id, evening + timedelta(hours=11), evening + timedelta(hours=13)),
        headers=headers,
    )
    assert overlap.status_code == 409
    next_evening = evening + timedelta(days=1)
    adjacent = await client.post(
        "/bookings", json=booking_body(slot_id, next_evening, next_evening + timedelta(hours=2)), headers=headers
    )
    assert adjacent.status_code == 201


async def test_idempotency_key_replays_and_refuses_other_body(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    _, slot_id, driver = await _setup(session, state)
    headers = {**auth(state, driver), "Idempotency-Key": "book-once-1"}
    body = booking_body(slot_id, NOW.replace(hour=10), NOW.replace(hour=12))
    first = await client.post("/bookings", json=body, headers=headers)
    again = await client.post("/bookings", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await client.post("/bookings", json={**body, "vehicle_plate": "34나5678"}, headers=headers)
    assert other.status_code == 422 and error_of(other) == "idempotency_key_reused"
    assert await session.scalar(select(func.count()).select_from(Booking).where(Booking.slot_id == slot_id)) == 1
    # a failed attempt leaves no key behind: the same key can be used once the request can succeed
    failing = {**auth(state, driver), "Idempotency-Key": "book-once-2"}
    assert (await client.post("/bookings", json=body, headers=failing)).status_code == 409


async def test_residents_see_only_their_own_bookings(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    _, slot_id, driver = await _setup(session, state)
    body = booking_body(slot_id, NOW.replace(hour=10), NOW.replace(hour=12))
    booking = (await client.post("/bookings", json=body, headers=auth(state, driver))).json()
    stranger = await make_account(session)
    assert (await client.get(f"/bookings/{booking['id']}", headers=auth(state, stranger))).status_code == 404
    assert (await client.get("/bookings", headers=auth(state, stranger))).json()["items"] == []
    cancel = await client.post(f"/bookings/{booking['id']}/cancel", headers=auth(state, stranger))
    assert cancel.status_code == 404
    city = await make_account(session, role=Role.CITY)
    seen = (await client.get(f"/bookings/{booking['id']}", headers=auth(state, city))).json()
    assert seen["status"] == "reserved" and seen["driver_id"] is None
    operator = await make_account(session, role=Role.OPERATOR)
    staff_view = (await client.get(f"/bookings/{booking['id']}", headers=auth(state, operator))).json()
    assert staff_view["vehicle_plate"] == "12가3456"


async def test_list_pagination(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    _, slot_id, driver = await _setup(session, state)
    headers = auth(state, driver)
    for hour in (9, 10, 11, 12, 13):
        body = booking_body(slot_id, NOW.replace(hour=hour), NOW.replace(hour=hour) + timedelta(minutes=50))
        assert (await client.post("/bookings", json=body, headers=headers)).status_code == 201
    first = (await client.get("/bookings", params={"limit": 2}, headers=headers)).json()
    assert len(first["items"]) == 2 and first["next_offset"] == 2
    seen = [b["id"] for b in first["items"]]
    offset = first["next_offset"]
    while offset is not None:
        page = (await client.get("/bookings", params={"limit": 2, "offset": offset}, headers=headers)).json()
        seen += [b["id"] for b in page["items"]]
        offset = page["next_offset"]
    assert len(seen) == len(set(seen)) == 5
