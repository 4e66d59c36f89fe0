"""Pick-up rides ("마중") through HTTP on `make demo`'s village (real PostGIS and Redis): refused with nothing kept when
no van driver is on shift; two residents' rides share the van, each answered with a pickup estimate within their
window and a ride no longer than the factor allows; the driver does the route step by step (a drop-off is not set
off for before its rider boards, clocking out with a rider on board is refused); the fares are charged at the
drop-off and are on the ledger; a cancelled ride costs nothing before the van sets off; a no-show releases the fare."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from core.clock import FixedClock
from ops.models import Task
from routing.travel import Mode, Point
from tests.factories import (
    SolveWatch,
    appended,
    error_of,
    near_centre,
    sign_in_demo,
    staff_on_shift,
    step_task,
)


async def _balance(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    wallet = await client.get("/wallet", headers=headers)
    assert wallet.status_code == 200, wallet.text
    return int(wallet.json()["balance_krw"])


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.mark.pilot_data
async def test_two_residents_share_the_van_and_pay_at_the_drop_off(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock, solve_watch: SolveWatch
) -> None:
    resident, owner = await sign_in_demo(client, "resident"), await sign_in_demo(client, "owner")
    driver = await sign_in_demo(client, "driver01")
    ride = {"origin": near_centre(north_m=300), "destination": near_centre(east_m=1200, north_m=100)}

    nobody = await client.post("/shuttle/rides", json=ride, headers=resident)
    assert (nobody.status_code, error_of(nobody)) == (409, "no_staff_available")
    assert "no van driver is on shift" in nobody.json()["detail"]
    assert await session.scalar(select(func.count()).select_from(Task)) == 0  # nothing kept

    clocked = await client.post("/staff/me/clock-in", json=near_centre(), headers=driver)
    assert clocked.status_code == 200, clocked.text
    before = {"resident": await _balance(client, resident), "owner": await _balance(client, owner)}
    now = clock.now()
    state.solver_pool, entries = solve_watch, appended()  # the fare's hold and the entries come after the solve
    first = await client.post("/shuttle/rides", json=ride, headers=resident)
    assert first.status_code == 201, first.text
    assert solve_watch.appended_at_solves and set(solve_watch.appended_at_solves) == {entries} and appended() > entries
    a = first.json()
    assert a["state"] == "assigned" and a["passengers"] == 1 and a["fare_krw"] > 0
    pickup_eta = _time(a["pickup"]["eta_origin"])
    assert now <= pickup_eta <= now + timedelta(minutes=state.settings.shuttle_wait_minutes)
    assert a["pickup"]["staff"]["display_name"] and a["pickup"]["eta_destination"] == a["dropoff"]["eta_origin"]
    later = {"start": (now + timedelta(minutes=5)).isoformat(), "end": (now + timedelta(minutes=25)).isoformat()}
    shared = {
        "origin": near_centre(east_m=150, north_m=320),
        "destination": near_centre(east_m=1100, north_m=60),
        "pickup": later,
    }
    second = await client.post("/shuttle/rides", json=shared | {"passengers": 2}, headers=owner)
    assert second.status_code == 201, second.text
    b = second.json()
    assert b["pickup"]["staff_id"] == a["pickup"]["staff_id"]  # one van: the two rides share it
    assert _time(later["start"]) <= _time(b["pickup"]["eta_origin"]) <= _time(later["end"])
    assert b["fare_krw"] > a["fare_krw"]  # two riders
    assert await _balance(client, resident) == before["resident"] - a["fare_krw"]  # held

    route = (await client.get("/tasks", headers=driver)).json()["items"]
    assert [task["kind"] for task in route].count("ride_pickup") == 2 and len(route) == 4
    assert [task["sequence"] for task in route] == [0, 1, 2, 3]
    rides = {a["id"]: a, b["id"]: b}
    for task in route:  # every rider's planned ride is within the factor of their direct time
        ride_id = task["leg_of"] or task["id"]
        got = (await client.get(f"/shuttle/rides/{ride_id}", headers=driver)).json()
        riding = _time(got["dropoff"]["eta_origin"]) - _time(got["pickup"]["eta_origin"])
        ends = [Point(**got["pickup"]["origin"]), Point(**got["pickup"]["destination"])]
        direct = state.shuttle.travel.table(ends, Mode.VAN).seconds[0][1]
        longest = state.settings.shuttle_max_ride_factor * direct + state.settings.shuttle_boarding_seconds
        assert direct <= riding.total_seconds() <= longest + 1 and ride_id in rides
    dropoff = next(task for task in route if task["kind"] == "ride_dropoff")
    early = await client.post(f"/tasks/{dropoff['id']}/state", json={"state": "en_route"}, headers=driver)
    assert (early.status_code, error_of(early)) == (409, "invalid_task_transition")
    assert "not on board" in early.json()["detail"]

    for task in route:
        for target in ("en_route", "arrived", "done"):
            clock.advance(timedelta(minutes=3))
            await step_task(client, task["id"], target, driver)
        if task["id"] == route[0]["id"]:  # someone on board: the driver cannot clock out
            busy = await client.post("/staff/me/clock-out", headers=driver)
            assert (busy.status_code, error_of(busy)) == (409, "tasks_under_way")
    for ride_id, asked in rides.items():
        done = (await client.get(f"/shuttle/rides/{ride_id}", headers=resident if ride_id == a["id"] else owner)).json()
        assert done["state"] == "done" and done["fare_krw"] == asked["fare_krw"]
        assert done["pickup"]["fee_krw"] == asked["fare_krw"]
        assert len(done["pickup"]["receipts"]) == 5  # assigned, en_route, arrived, done (boarded), done (fare)
    assert await _balance(client, resident) == before["resident"] - a["fare_krw"]  # charged, nothing more
    assert await _balance(client, owner) == before["owner"] - b["fare_krw"]
    assert (await client.post("/staff/me/clock-out", headers=driver)).status_code == 200


@pytest.mark.pilot_data
async def test_a_cancelled_ride_is_free_before_the_van_sets_off_and_a_no_show_releases_the_fare(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
) -> None:
    resident, driver = await sign_in_demo(client, "resident"), await sign_in_demo(client, "driver01")
    assert (await client.post("/staff/me/clock-in", json=near_centre(), headers=driver)).status_code == 200
    before = await _balance(client, resident)
    now = clock.now()
    arrive = {"start": (now + timedelta(minutes=30)).isoformat(), "end": (now + timedelta(minutes=45)).isoformat()}
    ride = {"origin": near_centre(north_m=-400), "destination": near_centre(east_m=-900), "dropoff": arrive}
    asked = await client.post("/shuttle/rides", json=ride, headers=resident)
    assert asked.status_code == 201, asked.text
    first = asked.json()
    assert _time(arrive["start"]) <= _time(first["dropoff"]["eta_origin"]) <= _time(arrive["end"])
    cancelled = await client.delete(f"/shuttle/rides/{first['id']}", headers=resident)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled" and cancelled.json()["fare_krw"] == 0
    assert cancelled.json()["dropoff"]["state"] == "cancelled"
    assert await _balance(client, resident) == before

    both = await client.post("/shuttle/rides", json=ride | {"pickup": arrive, "dropoff": arrive}, headers=resident)
    assert (both.status_code, error_of(both)) == (422, "invalid_input")
    crowd = await client.post("/shuttle/rides", json={**ride, "passengers": 30}, headers=resident)
    assert (crowd.status_code, error_of(crowd)) == (422, "invalid_input") and crowd.json()[
        "seats"
    ] == state.settings.shuttle_seats

    second = (await client.post("/shuttle/rides", json=ride, headers=resident)).json()
    await step_task(client, second["pickup"]["id"], "en_route", driver)
    await step_task(client, second["pickup"]["id"], "arrived", driver)
    too_late = await client.delete(f"/shuttle/rides/{second['id']}", headers=resident)
    assert (too_late.status_code, error_of(too_late)) == (409, "invalid_task_transition")
    failed = await client.post(
        f"/tasks/{second['pickup']['id']}/state", json={"state": "failed", "reason": "nobody came"}, headers=driver
    )
    assert failed.status_code == 200, failed.text
    after = (await client.get(f"/shuttle/rides/{second['id']}", headers=resident)).json()
    assert after["state"] == "failed" and after["dropoff"]["state"] == "cancelled" and after["fare_krw"] == 0
    assert await _balance(client, resident) == before
    replanned = await client.post("/shuttle/plan", headers=await sign_in_demo(client, "operator"))
    assert replanned.status_code == 200 and replanned.json()["staff_on_shift"] == 1
    assert replanned.json()["planned"] == 0


@pytest.mark.pilot_data
async def test_an_operator_gives_a_ride_to_another_driver_and_plans_keep_it(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
) -> None:
    resident, operator = await sign_in_demo(client, "resident"), await sign_in_demo(client, "operator")
    near = await sign_in_demo(client, "driver01")
    assert (await client.post("/staff/me/clock-in", json=near_centre(), headers=near)).status_code == 200
    far, far_headers = await staff_on_shift(client, state, operator, clock.now(), skills=("driver",), east_m=-1500)
    ride = {"origin": near_centre(north_m=200), "destination": near_centre(east_m=900)}
    asked = (await client.post("/shuttle/rides", json=ride, headers=resident)).json()
    assert asked["pickup"]["staff_id"] != str(far.id)  # the nearer driver gets it

    board = (await client.get("/staff", params={"on_shift": True}, headers=operator)).json()["items"]
    me = next(member for member in board if "driver" not in member["skills"])  # on shift, but no van licence
    unskilled = await client.post(f"/tasks/{asked['id']}/assign", json={"staff_id": me["id"]}, headers=operator)
    assert (unskilled.status_code, error_of(unskilled)) == (409, "not_on_shift")
    dropoff_id = asked["dropoff"]["id"]  # either task of the ride names it
    moved = await client.post(f"/tasks/{dropoff_id}/assign", json={"staff_id": str(far.id)}, headers=operator)
    assert moved.status_code == 200, moved.text
    assert moved.json()["staff_id"] == str(far.id) and moved.json()["pinned"]
    replanned = await client.post("/shuttle/plan", headers=operator)
    assert replanned.status_code == 200 and replanned.json()["staff_on_shift"] == 2
    assert replanned.json()["planned"] == 1 and replanned.json()["unassigned_task_ids"] == []
    after = (await client.get(f"/shuttle/rides/{asked['id']}", headers=resident)).json()
    assert after["pickup"]["staff_id"] == after["dropoff"]["staff_id"] == str(far.id)
    assert after["pickup"]["pinned"] and after["state"] == "assigned"
    route = (await client.get("/tasks", headers=far_headers)).json()["items"]
    assert [task["kind"] for task in route] == ["ride_pickup", "ride_dropoff"]

    await step_task(client, asked["id"], "en_route", far_headers)
    under_way = await client.post(f"/tasks/{asked['id']}/assign", json={"staff_id": me["id"]}, headers=operator)
    assert (under_way.status_code, error_of(under_way)) == (409, "invalid_task_transition")
