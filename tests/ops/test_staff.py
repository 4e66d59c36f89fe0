"""Staff, shifts, earnings and pay, cancelling, failing and assigning valet tasks, through HTTP on real PostGIS."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from billing import journal
from billing.wallet import Wallet
from core.clock import FixedClock
from parking.models import Booking
from tests.factories import (
    WALLET_KRW,
    auth,
    error_of,
    make_account,
    make_slot,
    make_zone,
    near_centre,
    staff_on_shift,
    step_task,
)

CANCEL_FEE = 1000


def _parking(now: datetime, *, minutes: int = 30, plate: str = "12가3456") -> dict[str, object]:
    return {
        "home": near_centre(),
        "vehicle_plate": plate,
        "pickup_from": now.isoformat(),
        "pickup_by": (now + timedelta(minutes=minutes)).isoformat(),
        "park_until": (now + timedelta(hours=3)).isoformat(),
    }


async def test_shifts_never_overlap_and_clocking_follows_them(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    operator = auth(state, await make_account(session, role=Role.OPERATOR))
    resident = auth(state, await make_account(session))
    await session.commit()
    valet, headers = await staff_on_shift(client, state, operator, clock.now())
    overlapping = {"start": (now + timedelta(hours=7)).isoformat(), "end": (now + timedelta(hours=10)).isoformat()}
    refused = await client.post(f"/staff/{valet.id}/shifts", json=overlapping, headers=operator)
    assert refused.status_code == 409 and error_of(refused) == "shift_overlaps"
    backwards = {"start": overlapping["end"], "end": overlapping["start"]}
    assert (await client.post(f"/staff/{valet.id}/shifts", json=backwards, headers=operator)).status_code == 422
    twice = await client.post("/staff/me/clock-in", json=near_centre(), headers=headers)
    assert twice.status_code == 409 and error_of(twice) == "not_on_shift"
    assert (await client.get("/staff", headers=resident)).status_code == 403

    board = (await client.get("/staff", params={"on_shift": True}, headers=operator)).json()["items"]
    [me] = [member for member in board if member["id"] == str(valet.id)]
    assert me["on_shift"] and me["skills"] == ["valet"] and me["position"] is not None
    out = await client.post("/staff/me/clock-out", headers=headers)
    assert out.status_code == 200 and datetime.fromisoformat(out.json()["shift"]["clocked_out_at"]) == now
    again = await client.post("/staff/me/clock-in", json=near_centre(), headers=headers)
    assert again.status_code == 409 and error_of(again) == "not_on_shift"  # that shift is over
    off = (await client.get("/staff", params={"on_shift": False}, headers=operator)).json()["items"]
    assert str(valet.id) in [member["id"] for member in off]


async def test_hours_and_tasks_are_paid_from_the_enterprise_once_a_month(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()  # 2026-11-23 07:00 Seoul
    await make_zone(session)
    await make_slot(session, east_m=300, now=now)
    resident = await make_account(session)
    operator_account = await make_account(session, role=Role.OPERATOR)
    await session.commit()
    operator = auth(state, operator_account)
    valet, headers = await staff_on_shift(client, state, operator, clock.now())
    asked = await client.post("/valet/parking", json=_parking(now), headers=auth(state, resident))
    assert asked.status_code == 201, asked.text
    for target in ("en_route", "arrived", "done"):
        clock.advance(timedelta(minutes=5))
        await step_task(client, asked.json()["id"], target, headers)
    clock.advance(timedelta(minutes=105))  # two hours on shift in all
    headers = auth(state, valet)  # a fresh token: the first has expired
    assert (await client.post("/staff/me/clock-out", headers=headers)).status_code == 200

    earned = await client.get(f"/staff/{valet.id}/earnings", params={"month": "2026-11"}, headers=headers)
    assert earned.json() | {} == {
        "staff_id": str(valet.id),
        "month": "2026-11",
        "minutes_worked": 120,
        "tasks_done": 1,
        "hourly_wage_krw": 12_000,
        "amount_krw": 24_000,
    }
    other = await make_account(session, role=Role.STAFF)
    await session.commit()
    peek = await client.get(f"/staff/{valet.id}/earnings", params={"month": "2026-11"}, headers=auth(state, other))
    assert peek.status_code == 404  # another staff member's records do not exist for them

    operator = auth(state, operator_account)
    early = await client.post(f"/staff/{valet.id}/pay-statements", json={"month": "2026-11"}, headers=operator)
    assert early.status_code == 422 and error_of(early) == "invalid_month"
    clock.advance(timedelta(days=8))  # December
    operator = auth(state, operator_account)
    short = await client.post(f"/staff/{valet.id}/pay-statements", json={"month": "2026-11"}, headers=operator)
    assert short.status_code == 402 and error_of(short) == "insufficient_funds"  # the fee alone does not cover it
    payer = await make_account(session)
    await Wallet().top_up(session, account_id=payer.id, amount=100_000, now=clock.now())
    await journal.post(
        session,
        kind="test_revenue",
        reference="test",
        postings={journal.wallet(payer.id): -100_000, journal.ENTERPRISE: 100_000},
        now=clock.now(),
    )
    await session.commit()
    before = await journal.balance(session, journal.ENTERPRISE)
    paid = await client.post(f"/staff/{valet.id}/pay-statements", json={"month": "2026-11"}, headers=operator)
    assert paid.status_code == 201, paid.text
    assert paid.json()["amount_krw"] == 24_000 and len(paid.json()["receipts"]) == 1
    assert before - await journal.balance(session, journal.ENTERPRISE) == 24_000
    twice = await client.post(f"/staff/{valet.id}/pay-statements", json={"month": "2026-11"}, headers=operator)
    assert twice.status_code == 409 and error_of(twice) == "already_paid"
    listed = await client.get(f"/staff/{valet.id}/pay-statements", headers=auth(state, valet))
    assert [s["month"] for s in listed.json()["items"]] == ["2026-11"]


async def test_cancelling_is_free_until_the_valet_is_on_the_way(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    await make_zone(session)
    await make_slot(session, east_m=300, now=now)
    await make_slot(session, east_m=-300, now=now)
    account = await make_account(session)
    await session.commit()
    resident = auth(state, account)
    operator = auth(state, await make_account(session, role=Role.OPERATOR))
    valet, headers = await staff_on_shift(client, state, operator, clock.now())

    first = (await client.post("/valet/parking", json=_parking(now, minutes=90), headers=resident)).json()
    cancelled = await client.delete(f"/valet/requests/{first['id']}", headers=resident)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["fee_krw"] == 0
    booking = await session.get(Booking, first["booking_id"])
    assert booking is not None and booking.status == "cancelled"
    parked_fee = booking.charged_krw or 0  # parking's own cancellation policy (free this early)
    assert await journal.balance(session, journal.wallet(account.id)) == WALLET_KRW - parked_fee

    second = (await client.post("/valet/parking", json=_parking(now, plate="34나5678"), headers=resident)).json()
    await step_task(client, second["id"], "en_route", headers)
    third = (await client.post("/valet/parking", json=_parking(now, plate="56다7890"), headers=resident)).json()
    one_at_a_time = await client.post(f"/tasks/{third['id']}/state", json={"state": "en_route"}, headers=headers)
    assert one_at_a_time.status_code == 409 and error_of(one_at_a_time) == "invalid_task_transition"
    late = await client.delete(f"/valet/requests/{second['id']}", headers=resident)
    assert late.status_code == 200 and late.json()["fee_krw"] == CANCEL_FEE

    await step_task(client, third["id"], "en_route", headers)
    await step_task(client, third["id"], "arrived", headers)
    refused = await client.delete(f"/valet/requests/{third['id']}", headers=resident)
    assert refused.status_code == 409 and error_of(refused) == "invalid_task_transition"
    no_reason = await client.post(f"/tasks/{third['id']}/state", json={"state": "failed"}, headers=headers)
    assert no_reason.status_code == 422
    failed = await client.post(
        f"/tasks/{third['id']}/state", json={"state": "failed", "reason": "the car would not start"}, headers=headers
    )
    assert failed.status_code == 200 and failed.json()["fee_krw"] == 0
    assert failed.json()["failure_reason"] == "the car would not start"
    bookings = [await session.get(Booking, t["booking_id"]) for t in (first, second, third)]
    for booking in bookings:
        assert booking is not None
        await session.refresh(booking)
    assert [b.status for b in bookings if b] == ["cancelled", "cancelled", "reserved"]  # a failed valet: ops follow up
    charged = sum(b.charged_krw or 0 for b in bookings[:2] if b) + (bookings[2].quote_krw or 0 if bookings[2] else 0)
    spent = WALLET_KRW - await journal.balance(session, journal.wallet(account.id))
    assert spent == charged + CANCEL_FEE  # no valet fee for the cancelled-early and the failed request


async def test_an_operator_assigns_by_hand_and_plans_keep_it(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    now = clock.now()
    await make_zone(session)
    await make_slot(session, east_m=300, now=now)
    resident = auth(state, await make_account(session))
    operator = auth(state, await make_account(session, role=Role.OPERATOR))
    await session.commit()
    near, near_headers = await staff_on_shift(client, state, operator, clock.now(), east_m=50)
    far, _ = await staff_on_shift(client, state, operator, clock.now(), east_m=-900)
    task = (await client.post("/valet/parking", json=_parking(now, minutes=60), headers=resident)).json()
    assert task["staff_id"] == str(near.id)  # the nearer valet gets it

    moved = await client.post(f"/tasks/{task['id']}/assign", json={"staff_id": str(far.id)}, headers=operator)
    assert moved.status_code == 200, moved.text
    assert moved.json()["staff_id"] == str(far.id) and moved.json()["pinned"]
    replanned = await client.post("/valet/plan", headers=operator)
    assert replanned.status_code == 200 and replanned.json()["staff_on_shift"] == 2
    assert replanned.json()["planned"] == 1 and replanned.json()["unassigned_task_ids"] == []
    after = await client.get(f"/tasks/{task['id']}", headers=operator)
    assert after.json()["staff_id"] == str(far.id)
    not_theirs = await client.post(f"/tasks/{task['id']}/state", json={"state": "en_route"}, headers=near_headers)
    assert not_theirs.status_code == 404  # not theirs: it does not exist for them
    board = await client.get("/tasks", params={"staff_id": str(far.id)}, headers=operator)
    assert [t["id"] for t in board.json()["items"]] == [task["id"]]
