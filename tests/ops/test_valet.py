"""Valet parking on demand through HTTP on real PostGIS: a resident's request is matched to a slot, planned into a
valet's day with OR-Tools, done step by step by the valet (booking checked in and out, fee captured, ledger), and
refused whole when nobody can do it."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from billing import journal
from core.clock import FixedClock
from parking.models import Booking
from tests.factories import (
    WALLET_KRW,
    SolveWatch,
    appended,
    auth,
    error_of,
    make_account,
    make_slot,
    make_zone,
    near_centre,
    sign_in_demo,
    staff_on_shift,
    step_task,
)

FEE = 3000


async def test_a_car_is_parked_and_brought_back_by_a_valet(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock, solve_watch: SolveWatch
):
    now = clock.now()
    await make_zone(session)
    slot_id = await make_slot(session, east_m=400, now=now)
    resident = await make_account(session)
    operator = auth(state, await make_account(session, role=Role.OPERATOR))
    await session.commit()
    valet, valet_headers = await staff_on_shift(client, state, operator, clock.now(), east_m=-300)
    me = auth(state, resident)

    request = {
        "home": near_centre(),
        "vehicle_plate": "12가3456",
        "pickup_from": (now + timedelta(minutes=10)).isoformat(),
        "pickup_by": (now + timedelta(minutes=40)).isoformat(),
        "park_until": (now + timedelta(hours=5)).isoformat(),
    }
    state.solver_pool, entries = solve_watch, appended()  # see SolveWatch: every solve before the first entry
    asked = await client.post("/valet/parking", json=request, headers=me)
    assert asked.status_code == 201, asked.text
    assert solve_watch.appended_at_solves == [entries, entries]  # the slot's matching, the valets' plan
    task = asked.json()
    assert task["kind"] == "valet_pickup" and task["state"] == "assigned" and task["staff_id"] == str(valet.id)
    assert task["staff"]["display_name"] == "Valet -300" and task["staff"]["position"] is not None
    assert now + timedelta(minutes=10) <= _time(task["eta_origin"]) <= now + timedelta(minutes=40)
    assert _time(task["eta_destination"]) > _time(task["eta_origin"])
    booking = await session.get(Booking, task["booking_id"])
    assert booking is not None and booking.slot_id == slot_id and booking.status == "reserved"
    assert len(task["receipts"]) == 1  # task.assigned on the ledger

    route = await client.get("/tasks", headers=valet_headers)
    assert [t["id"] for t in route.json()["items"]] == [task["id"]]
    other_resident = auth(state, await make_account(session))
    await session.commit()
    hidden = await client.get(f"/tasks/{task['id']}", headers=other_resident)
    assert hidden.status_code == 404 and error_of(hidden) == "task_not_found"

    # the valet goes, takes the car, parks it: the booking is checked in and the fee captured
    clock.advance(timedelta(minutes=10))
    enterprise_before = await journal.balance(session, journal.ENTERPRISE)
    await step_task(client, task["id"], "en_route", valet_headers)
    moved = await client.put("/staff/me/position", json=near_centre(-100), headers=valet_headers)
    assert moved.status_code == 204
    coming = (await client.get(f"/tasks/{task['id']}", headers=me)).json()
    assert coming["staff"]["position"]["lon"] == near_centre(-100)["lon"]
    assert _time(coming["eta_origin"]) < now + timedelta(minutes=12)  # live: 100 m by scooter from where they are
    busy = await client.post("/staff/me/clock-out", headers=valet_headers)
    assert busy.status_code == 409 and error_of(busy) == "tasks_under_way"
    await step_task(client, task["id"], "arrived", valet_headers)
    clock.advance(timedelta(minutes=5))
    done = await step_task(client, task["id"], "done", valet_headers)
    assert done["fee_krw"] == FEE and len(done["receipts"]) == 4  # assigned, en_route, arrived, done
    await session.refresh(booking)
    assert booking.status == "active"
    assert await journal.balance(session, journal.ENTERPRISE) - enterprise_before >= FEE

    # later the resident wants it back: the valet fetches it (check-out, parking charged) and delivers it
    clock.advance(timedelta(hours=2))
    me, valet_headers = auth(state, resident), auth(state, valet)  # fresh tokens: an hour has passed
    back = {
        "booking_id": task["booking_id"],
        "home": near_centre(),
        "deliver_from": (clock.now() + timedelta(minutes=15)).isoformat(),
        "deliver_by": (clock.now() + timedelta(minutes=45)).isoformat(),
    }
    solves, entries = len(solve_watch.appended_at_solves), appended()
    returned = await client.post("/valet/returns", json=back, headers=me)
    assert returned.status_code == 201, returned.text
    assert solve_watch.appended_at_solves[solves:] == [entries] and appended() > entries
    fetch = returned.json()
    assert fetch["kind"] == "valet_return" and fetch["staff_id"] == str(valet.id)
    again = await client.post("/valet/returns", json=back, headers=me)
    assert again.status_code == 409 and error_of(again) == "booking_not_parked"
    await step_task(client, fetch["id"], "en_route", valet_headers)
    await step_task(client, fetch["id"], "arrived", valet_headers)
    await session.refresh(booking)
    assert booking.status == "completed" and booking.charged_krw
    clock.advance(timedelta(minutes=20))
    await step_task(client, fetch["id"], "done", valet_headers)
    wallet = await journal.balance(session, journal.wallet(resident.id))
    assert wallet == WALLET_KRW - 2 * FEE - booking.charged_krw

    mine = await client.get("/valet/requests", headers=me)
    assert [t["state"] for t in mine.json()["items"]] == ["done", "done"]
    out = await client.post("/staff/me/clock-out", headers=valet_headers)
    assert out.status_code == 200, out.text


async def test_a_request_nobody_can_do_is_refused_and_nothing_is_kept(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    await make_zone(session)
    await make_slot(session, east_m=400, now=now)
    resident = await make_account(session)
    operator = auth(state, await make_account(session, role=Role.OPERATOR))
    await session.commit()
    me = auth(state, resident)
    request = {
        "home": near_centre(),
        "vehicle_plate": "34나5678",
        "pickup_from": now.isoformat(),
        "pickup_by": (now + timedelta(minutes=5)).isoformat(),
        "park_until": (now + timedelta(hours=3)).isoformat(),
    }
    nobody = await client.post("/valet/parking", json=request, headers=me)
    assert nobody.status_code == 409 and error_of(nobody) == "no_staff_available", nobody.text
    assert nobody.json()["valets_on_shift"] == 0

    # 2.5 km away: no scooter gets there in 5 minutes
    await staff_on_shift(client, state, operator, clock.now(), east_m=2500)
    too_far = await client.post("/valet/parking", json=request, headers=me)
    assert too_far.status_code == 409 and error_of(too_far) == "no_staff_available"
    assert "within its time windows" in too_far.json()["detail"]
    assert await journal.balance(session, journal.wallet(resident.id)) == WALLET_KRW
    bookings = await session.scalar(select(func.count()).select_from(Booking).where(Booking.driver_id == resident.id))
    assert bookings == 0

    wider = request | {"pickup_by": (now + timedelta(minutes=30)).isoformat()}
    accepted = await client.post("/valet/parking", json=wider, headers=me)
    assert accepted.status_code == 201, accepted.text


def _time(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


@pytest.mark.pilot_data
async def test_on_the_demo_data_a_resident_gets_a_valet_who_parks_the_car(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    """`make demo`'s village at 07:00 on a Monday: two valets are on shift; the demo resident's request is planned to
    one of them, who signs in with the demo password and does it."""

    resident = await sign_in_demo(client, "resident")
    now = clock.now()
    request = {
        "home": near_centre(north_m=150),
        "vehicle_plate": "12가3456",
        "pickup_from": (now + timedelta(minutes=5)).isoformat(),
        "pickup_by": (now + timedelta(minutes=35)).isoformat(),
        "park_until": (now + timedelta(hours=9)).isoformat(),
    }
    asked = await client.post("/valet/parking", json=request, headers=resident)
    assert asked.status_code == 201, asked.text
    task = asked.json()
    board = (
        await client.get("/staff", params={"on_shift": True}, headers=await sign_in_demo(client, "operator"))
    ).json()
    on_shift = {member["id"]: member for member in board["items"]}
    assert len(on_shift) == 2 and task["staff_id"] in on_shift
    valet = await sign_in_demo(client, on_shift[task["staff_id"]]["display_name"].split()[-1])
    for target in ("en_route", "arrived", "done"):
        clock.advance(timedelta(minutes=10))
        await step_task(client, task["id"], target, valet)
    booking = await session.get(Booking, task["booking_id"])
    assert booking is not None
    await session.refresh(booking)
    assert booking.status == "active"
