"""Complaints through HTTP against real PostgreSQL: a resident files, the village enterprise's queue (order, filters,
SLA times), assignment, replies, the state machine, the monthly summary with small cells suppressed, and assisted
booking for a resident who cannot use the app."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from billing import journal
from billing.models import JournalPosting
from core.clock import FixedClock
from parking.policy import WeeklyWindow
from tests.conftest import NOW
from tests.factories import auth, booking_body, error_of, make_account, make_slot, make_zone

EVERY_DAY = [WeeklyWindow.parse(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "06:00", "23:00")]


async def test_a_complaint_goes_through_the_queue_with_its_sla_times(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    await make_zone(session)
    slot = await make_slot(session, windows=EVERY_DAY, now=NOW)
    resident, neighbour = await make_account(session), await make_account(session)
    operator = await make_account(session, role=Role.OPERATOR)
    staff = await make_account(session, role=Role.STAFF)
    city = await make_account(session, role=Role.CITY)
    await session.commit()
    start = NOW.replace(hour=10)
    booked = await client.post(
        "/bookings", json=booking_body(slot, start, start + timedelta(hours=2)), headers=auth(state, resident)
    )
    assert booked.status_code == 201
    booking_id = booked.json()["id"]

    # filing: a category, text, and what it is about (only one's own booking); with an Idempotency-Key, once
    body = {"category": "service_quality", "text": "the slot was taken when I arrived", "subject": "booking"}
    half = await client.post("/complaints", json=body, headers=auth(state, resident))
    assert half.status_code == 422 and error_of(half) == "invalid_input"
    body["subject_id"] = booking_id
    theirs = await client.post("/complaints", json=body, headers=auth(state, neighbour))
    assert theirs.status_code == 404 and error_of(theirs) == "subject_not_found"
    for bad in ({"category": "parking"}, {"text": ""}, {"text": "x" * 4001}, {"subject": "trip"}):
        assert (await client.post("/complaints", json=body | bad, headers=auth(state, resident))).status_code == 422
    key = {"Idempotency-Key": "complaint-1"}
    filed = await client.post("/complaints", json=body, headers=auth(state, resident) | key)
    assert filed.status_code == 201, filed.text
    again = await client.post("/complaints", json=body, headers=auth(state, resident) | key)
    assert again.json()["id"] == filed.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    complaint = filed.json()
    assert complaint["state"] == "open" and complaint["replies"] == []
    assert datetime.fromisoformat(complaint["response_due_at"]) == clock.now() + timedelta(hours=24)
    assert datetime.fromisoformat(complaint["resolution_due_at"]) == clock.now() + timedelta(hours=72)
    assert not complaint["response_overdue"] and not complaint["resolution_overdue"]
    url = f"/complaints/{complaint['id']}"
    clock.advance(timedelta(minutes=1))
    noise = await client.post(
        "/complaints", json={"category": "noise", "text": "scooters at night"}, headers=auth(state, neighbour)
    )
    assert noise.status_code == 201

    # who reads it: the filer, the operators; not a neighbour, not the city, not an unassigned staff member
    assert (await client.get(url, headers=auth(state, resident))).status_code == 200
    assert (await client.get(url, headers=auth(state, operator))).status_code == 200
    assert (await client.get(url, headers=auth(state, neighbour))).status_code == 404
    assert (await client.get(url, headers=auth(state, staff))).status_code == 404
    assert (await client.get(url, headers=auth(state, city))).status_code == 403
    mine = (await client.get("/complaints", headers=auth(state, resident))).json()["items"]
    assert [c["id"] for c in mine] == [complaint["id"]]
    queue = (await client.get("/complaints", headers=auth(state, operator))).json()["items"]
    assert [c["id"] for c in queue] == [complaint["id"], noise.json()["id"]]  # the soonest due first

    # a day and a half later nobody has answered: the first answer is overdue
    clock.set(NOW + timedelta(hours=36))
    late = (await client.get(url, headers=auth(state, operator))).json()
    assert late["response_overdue"] and not late["resolution_overdue"]
    overdue = await client.get("/complaints", params={"overdue": "true"}, headers=auth(state, operator))
    assert len(overdue.json()["items"]) == 2

    # the filer cannot move it; the operator gives it to a staff member, who then reads and answers it
    refused = await client.post(
        f"{url}/state", json={"state": "resolved", "note": "fine now"}, headers=auth(state, resident)
    )
    assert refused.status_code == 409 and error_of(refused) == "invalid_complaint_transition"
    assert refused.json()["allowed"] == []
    to_city = await client.post(f"{url}/assign", json={"assignee_id": str(city.id)}, headers=auth(state, operator))
    assert to_city.status_code == 422
    assigned = await client.post(f"{url}/assign", json={"assignee_id": str(staff.id)}, headers=auth(state, operator))
    assert assigned.status_code == 200 and assigned.json()["state"] == "in_progress"
    assert assigned.json()["assignee_id"] == str(staff.id)
    staff_queue = (await client.get("/complaints", headers=auth(state, staff))).json()["items"]
    assert [c["id"] for c in staff_queue] == [complaint["id"]]
    answered = await client.post(
        f"{url}/replies", json={"text": "sorry: we are checking the slot's sensor"}, headers=auth(state, staff)
    )
    assert answered.status_code == 201
    assert datetime.fromisoformat(answered.json()["first_response_at"]) == clock.now()
    assert answered.json()["response_overdue"]  # answered, but after 24 h: stays overdue
    clock.set(NOW + timedelta(hours=40))
    follow = await client.post(f"{url}/replies", json={"text": "it happened again"}, headers=auth(state, resident))
    assert [r["from_operator"] for r in follow.json()["replies"]] == [True, False]
    assert datetime.fromisoformat(follow.json()["first_response_at"]) == NOW + timedelta(hours=36)

    # resolving needs a note, which the resident reads as a reply
    no_note = await client.post(f"{url}/state", json={"state": "resolved"}, headers=auth(state, staff))
    assert no_note.status_code == 422
    resolved = await client.post(
        f"{url}/state",
        json={"state": "resolved", "note": "refunded and the slot re-marked"},
        headers=auth(state, staff),
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    assert not resolved.json()["resolution_overdue"]
    assert resolved.json()["replies"][-1]["text"] == "refunded and the slot re-marked"
    closed = await client.post(f"{url}/replies", json={"text": "thanks"}, headers=auth(state, resident))
    assert closed.status_code == 409

    # the resident reopens it (saying why); the operator takes it up again and resolves it once more
    reopened = await client.post(
        f"{url}/state", json={"state": "open", "note": "still taken on Tuesday"}, headers=auth(state, resident)
    )
    assert reopened.status_code == 200 and reopened.json()["reopened"] == 1
    assert reopened.json()["resolved_at"] is None
    twice = await client.post(f"{url}/state", json={"state": "open", "note": "x"}, headers=auth(state, resident))
    assert twice.status_code == 409
    assert (
        await client.post(f"{url}/state", json={"state": "in_progress"}, headers=auth(state, operator))
    ).status_code == 200
    clock.set(NOW + timedelta(hours=80))
    final = await client.post(
        f"{url}/state", json={"state": "resolved", "note": "bollard installed"}, headers=auth(state, operator)
    )
    assert final.json()["state"] == "resolved" and final.json()["resolution_overdue"]  # after 72 h
    by_state = await client.get("/complaints", params={"state": ["open"]}, headers=auth(state, operator))
    assert [c["id"] for c in by_state.json()["items"]] == [noise.json()["id"]]
    assert (await client.get("/complaints/not-a-uuid", headers=auth(state, operator))).status_code == 404


async def test_the_monthly_summary_suppresses_categories_from_fewer_than_k_people(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    residents = [await make_account(session) for _ in range(7)]
    city = await make_account(session, role=Role.CITY)
    await session.commit()
    # six people complain of service quality, one of billing
    for resident in residents[:6]:
        body = {"category": "service_quality", "text": "the app froze"}
        assert (await client.post("/complaints", json=body, headers=auth(state, resident))).status_code == 201
    body = {"category": "billing", "text": "charged twice"}
    assert (await client.post("/complaints", json=body, headers=auth(state, residents[6]))).status_code == 201

    summary = await client.get(
        "/complaints/summary", params={"month": NOW.strftime("%Y-%m")}, headers=auth(state, city)
    )
    assert summary.status_code == 200, summary.text
    cells = {c["category"]: c for c in summary.json()["categories"]}
    assert set(cells) == {"service_quality", "digital_skills", "billing", "noise", "other"}
    # billing is suppressed, and with it the next smallest category with complaints, so 7 - 6 does not tell
    assert cells["billing"]["filed"] is None
    assert cells["service_quality"]["filed"] is None
    assert cells["noise"]["filed"] == 0 and cells["noise"]["share"] == 0
    assert summary.json()["filed"] == 7

    # one more billing complaint from others: still under k, suppressed; with five people it shows
    for resident in residents[:4]:
        body = {"category": "billing", "text": "charged twice"}
        assert (await client.post("/complaints", json=body, headers=auth(state, resident))).status_code == 201
    cells = {
        c["category"]: c
        for c in (
            await client.get("/complaints/summary", params={"month": NOW.strftime("%Y-%m")}, headers=auth(state, city))
        ).json()["categories"]
    }
    assert cells["billing"]["filed"] == 5 and cells["service_quality"]["filed"] == 6
    assert cells["billing"]["share"] == round(5 / 11, 4)
    other_month = await client.get("/complaints/summary", params={"month": "2026-01"}, headers=auth(state, city))
    assert other_month.json()["filed"] == 0


async def test_an_operator_books_for_a_resident_who_cannot_use_the_app(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    await make_zone(session)
    slot = await make_slot(session, windows=EVERY_DAY, now=NOW)
    resident = await make_account(session)
    poor = await make_account(session, wallet_krw=0)
    operator = await make_account(session, role=Role.OPERATOR)
    staff = await make_account(session, role=Role.STAFF)
    await session.commit()
    start = NOW.replace(hour=12)
    body = booking_body(slot, start, start + timedelta(hours=2)) | {"driver_id": str(resident.id)}

    assert (await client.post("/bookings/assisted", json=body, headers=auth(state, resident))).status_code == 403
    not_a_driver = body | {"driver_id": str(staff.id)}
    refused = await client.post("/bookings/assisted", json=not_a_driver, headers=auth(state, operator))
    assert refused.status_code == 422 and refused.json()["role"] == "staff"
    nobody = body | {"driver_id": "00000000-0000-4000-8000-000000000000"}
    assert (await client.post("/bookings/assisted", json=nobody, headers=auth(state, operator))).status_code == 404
    broke = await client.post(
        "/bookings/assisted", json=body | {"driver_id": str(poor.id)}, headers=auth(state, operator)
    )
    assert broke.status_code == 402 and error_of(broke) == "insufficient_funds"

    made = await client.post("/bookings/assisted", json=body, headers=auth(state, operator))
    assert made.status_code == 201, made.text
    booking = made.json()
    assert booking["driver_id"] == str(resident.id) and booking["assisted_by"] == str(operator.id)
    # the resident's own booking, paid from their wallet
    seen = await client.get(f"/bookings/{booking['id']}", headers=auth(state, resident))
    assert seen.status_code == 200 and seen.json()["assisted_by"] == str(operator.id)
    held = await session.scalar(
        select(JournalPosting.amount_krw).where(JournalPosting.account == journal.hold_account(resident.id))
    )
    assert held == booking["quote_krw"]
    # the slot is taken for everyone, the exclusion constraint included
    clash = await client.post(
        "/bookings", json=booking_body(slot, start, start + timedelta(hours=1)), headers=auth(state, resident)
    )
    assert clash.status_code == 409
    # a booking of one's own is not "assisted"
    own = await client.post(
        "/bookings",
        json=booking_body(slot, start + timedelta(hours=3), start + timedelta(hours=4)),
        headers=auth(state, resident),
    )
    assert own.status_code == 201 and own.json()["assisted_by"] is None
