"""Matching through the service and HTTP against real PostGIS: instant bookings, batch runs, races, the worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from arq.worker import Worker
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.models import Account, Role
from api.state import AppState
from core.settings import Settings
from jobs import worker_settings
from parking import allocation, service
from parking.allocation import Solving
from parking.models import Booking, MatchRequest, SlotKind
from sim.pilot import CENTRE
from sim.sangsalmi import offset
from tests.conftest import NOW
from tests.factories import PASSWORD, POLICY, auth, make_account, make_slot, make_zone

LON, LAT = CENTRE
START, END = NOW.replace(hour=10), NOW.replace(hour=13)
INLINE = Solving(pool=None, time_limit_s=5, detour_factor=1.3)


def need_body(**changes: Any) -> dict[str, Any]:
    body = {
        "destination": {"lon": LON, "lat": LAT},
        "start": START.isoformat(),
        "end": END.isoformat(),
        "vehicle_plate": "12가3456",
    }
    return {**body, **changes}


async def test_instant_match_books_the_best_slot_and_explains(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    await make_zone(session)
    near = await make_slot(session, east_m=40, now=NOW)
    ev = await make_slot(session, north_m=150, ev_charger=True, now=NOW)
    await make_slot(session, east_m=-250, now=NOW)
    driver = await make_account(session)
    first = await client.post("/matching/instant", json=need_body(), headers=auth(state, driver))
    assert first.status_code == 201, first.text
    assert first.json()["booking"]["slot_id"] == str(near)
    explanation = first.json()["explanation"]
    assert explanation["chosen"]["slot_id"] == str(near) and 40 <= explanation["chosen"]["walk_m"] <= 60
    assert explanation["chosen"]["price_krw"] == 3000 == first.json()["booking"]["quote_krw"]  # 6 x 30 min at 500
    assert all(alt["reason"].startswith("farther") for alt in explanation["alternatives"])
    assert first.json()["booking"]["receipts"]

    # the nearest is now booked; an EV driver gets the EV slot
    other = await make_account(session)
    second = await client.post("/matching/instant", json=need_body(needs_ev=True), headers=auth(state, other))
    assert second.status_code == 201 and second.json()["booking"]["slot_id"] == str(ev)
    third = await client.post("/matching/instant", json=need_body(needs_ev=True), headers=auth(state, other))
    assert third.status_code == 409 and third.json()["error"] == "no_slot_available"
    assert "explanation" in third.json()
    bad = await client.post("/matching/instant", json=need_body(end=START.isoformat()), headers=auth(state, other))
    assert bad.status_code == 422


async def test_batch_serves_priorities_and_explains(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    """One accessible slot near the destination, three drivers for the same time: the accessibility need gets it;
    the permit-holding resident beats the visitor to the other slot."""
    await make_zone(session)
    accessible = await make_slot(session, east_m=30, accessible=True, now=NOW)
    other_slot = await make_slot(session, east_m=120, now=NOW)
    visitor, wheelchair = await make_account(session), await make_account(session)
    permit_holder = await make_account(session, role=Role.OWNER)
    await make_slot(session, owner=permit_holder, kind=SlotKind.RESIDENT_PRIORITY, east_m=2500, now=NOW)
    ids = {}
    for name, driver, extra in (
        ("visitor", visitor, {}),
        ("wheelchair", wheelchair, {"needs_accessible": True}),
        ("resident", permit_holder, {}),
    ):
        response = await client.post("/matching/requests", json=need_body(**extra), headers=auth(state, driver))
        assert response.status_code == 202 and response.json()["status"] == "pending", response.text
        ids[name] = response.json()["id"]
    report = await allocation.run_batch(session, policy=POLICY, solving=INLINE, now=NOW)
    await session.commit()
    assert (report.considered, report.matched, report.unmatched) == (3, 2, 1) and report.status == "OPTIMAL"
    outcome = {
        name: (await client.get(f"/matching/requests/{rid}", headers=auth(state, d))).json()
        for (name, rid), d in zip(ids.items(), (visitor, wheelchair, permit_holder), strict=True)
    }
    booked = {
        name: await session.scalar(select(Booking.slot_id).where(Booking.id == uuid.UUID(o["booking_id"])))
        for name, o in outcome.items()
        if o["booking_id"]
    }
    assert booked == {"wheelchair": accessible, "resident": other_slot}
    assert outcome["visitor"]["status"] == "pending" and outcome["visitor"]["attempts"] == 1
    reasons = [a["reason"] for a in outcome["visitor"]["explanation"]["alternatives"]]
    assert reasons and all("taken by a higher-priority request" == r for r in reasons)
    # the visitor's request expires once its start passes without a slot
    report = await allocation.run_batch(session, policy=POLICY, solving=INLINE, now=START + timedelta(minutes=1))
    assert report.expired == 1
    stranger = await make_account(session)
    assert (await client.get(f"/matching/requests/{ids['visitor']}", headers=auth(state, stranger))).status_code == 404


async def test_an_unpayable_request_is_refused_and_the_batch_serves_the_rest(session: AsyncSession):
    """Each booking of a batch is its own savepoint: a request the wallet cannot cover is marked refused with its
    reason, the others are booked (one unpayable request rolled the whole batch back, run after run)."""
    await make_zone(session)
    for east_m in (20, 60, 100):
        await make_slot(session, east_m=east_m, now=NOW)
    payers = [await make_account(session) for _ in range(2)]
    broke = await make_account(session, wallet_krw=0)
    need = allocation.Need(LON, LAT, START, END, 500, False, False, allocation.SlotSize.REGULAR, "12가3456")
    queued = {
        who.id: await allocation.request_later(session, driver=who, need=need, policy=POLICY, now=NOW)
        for who in (*payers, broke)
    }
    report = await allocation.run_batch(session, policy=POLICY, solving=INLINE, now=NOW)
    assert (report.matched, report.refused, report.lost_races) == (2, 1, 0)
    for request in queued.values():
        await session.refresh(request)
    assert [queued[p.id].status for p in payers] == ["matched", "matched"]
    refused = queued[broke.id]
    assert refused.status == "refused" and refused.booking_id is None
    assert refused.explanation["refused"]["error"] == "insufficient_funds"
    # refused requests are not tried again
    again = await allocation.run_batch(session, policy=POLICY, solving=INLINE, now=NOW)
    assert again.considered == 0


async def test_a_lost_race_is_matched_again(session: AsyncSession, monkeypatch: pytest.MonkeyPatch):
    await make_zone(session)
    first_choice = await make_slot(session, east_m=20, now=NOW)
    second_choice = await make_slot(session, east_m=200, now=NOW)
    driver, rival = await make_account(session), await make_account(session)
    need = allocation.Need(LON, LAT, START, END, 500, False, False, allocation.SlotSize.REGULAR, "12가3456")
    queued = await allocation.request_later(session, driver=driver, need=need, policy=POLICY, now=NOW)
    real_solve = allocation._solve

    async def solve_then_lose_the_race(solving, slots, requests, prices):  # type: ignore[no-untyped-def]
        result = await real_solve(solving, slots, requests, prices)
        for assignment in result.assignments:  # an instant booking takes the chosen slot meanwhile
            await service.create_booking(
                session,
                driver=rival,
                slot_id=assignment.slot_id,
                start=START,
                end=END,
                vehicle_plate="34나5678",
                policy=POLICY,
                now=NOW,
            )
        return result

    monkeypatch.setattr(allocation, "_solve", solve_then_lose_the_race)
    report = await allocation.run_batch(session, policy=POLICY, solving=INLINE, now=NOW)
    assert (report.matched, report.lost_races) == (0, 1)
    await session.refresh(queued)
    assert queued.status == "pending" and "matched again" in queued.explanation["retry"]
    monkeypatch.setattr(allocation, "_solve", real_solve)
    report = await allocation.run_batch(session, policy=POLICY, solving=INLINE, now=NOW)
    await session.refresh(queued)
    assert report.matched == 1 and queued.status == "matched"
    booked = await session.scalar(select(Booking.slot_id).where(Booking.id == queued.booking_id))
    assert booked == second_choice and booked != first_choice


async def test_on_demand_run_through_the_worker(
    live_server: str, engine: AsyncEngine, committed: dict[str, object], settings: Settings
):
    drivers = committed["drivers"]
    assert isinstance(drivers, list)
    async with AsyncSession(engine) as session:
        operator = await make_account(session, role=Role.OPERATOR)
        await session.commit()
        emails = {
            a.id: a.email
            for a in (
                await session.execute(select(Account).where(Account.id.in_([drivers[0].id, operator.id])))
            ).scalars()
        }
    lon, lat = offset(*CENTRE, east_m=5, north_m=0)
    start = (datetime.now(UTC) + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    body = need_body(
        destination={"lon": lon, "lat": lat}, start=start.isoformat(), end=(start + timedelta(hours=2)).isoformat()
    )
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:

        async def sign_in(account_id: uuid.UUID) -> dict[str, str]:
            token = await client.post("/auth/token", data={"username": emails[account_id], "password": PASSWORD})
            return {"Authorization": f"Bearer {token.json()['access_token']}"}

        queued = (await client.post("/matching/requests", json=body, headers=await sign_in(drivers[0].id))).json()
        run = await client.post("/matching/runs", headers=await sign_in(operator.id))
        assert run.status_code == 202 and run.json()["job_id"]
        worker = Worker(**{**worker_settings(settings), "burst": True, "poll_delay": 0.1, "cron_jobs": []})
        await worker.main()
        await worker.close()
        result = (await client.get(f"/matching/requests/{queued['id']}", headers=await sign_in(drivers[0].id))).json()
    assert result["status"] == "matched" and result["booking_id"], result
    assert result["explanation"]["chosen"]["slot_id"] == str(committed["slot_id"])
    async with AsyncSession(engine) as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(MatchRequest).where(MatchRequest.id == uuid.UUID(queued["id"]))
            )
            == 1
        )
