"""A booking's money through HTTP on real PostgreSQL: quote held, charges at check-out, split to the parties,
their statements, payouts, the revenue report, and the ledger entries of every movement."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from api.state import AppState
from billing import journal
from billing.models import PaymentHold
from core.clock import FixedClock
from core.settings import Settings
from ledger import log as ledger
from ledger import pseudonyms
from parking.models import Booking
from tests.conftest import NOW
from tests.factories import WALLET_KRW, auth, booking_body, make_account, make_slot, make_zone, paid_top_up

START, END = NOW.replace(hour=10), NOW.replace(hour=12)


async def test_from_wallet_to_statements_and_ledger(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    await make_zone(session)  # 500 KRW per 30 minutes
    owner = await make_account(session, role=Role.OWNER)
    slot = await make_slot(session, owner=owner, now=NOW)  # private_individual: owner 80%, enterprise 15%, platform 5%
    driver = await make_account(session)
    booked = await client.post("/bookings", json=booking_body(slot, START, END), headers=auth(state, driver))
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    assert booking["quote_krw"] == 2000 and [line["units"] for line in booking["quote_lines"]] == [4]
    wallet = (await client.get("/wallet", headers=auth(state, driver))).json()
    assert (wallet["balance_krw"], wallet["held_krw"]) == (WALLET_KRW - 2000, 2000)

    clock.set(START - timedelta(minutes=5))
    await client.post(f"/bookings/{booking['id']}/check-in", headers=auth(state, driver))
    clock.set(END + timedelta(minutes=20))  # 20 minutes late: one more unit, plus the 50% surcharge on it
    done = (await client.post(f"/bookings/{booking['id']}/check-out", headers=auth(state, driver))).json()
    assert done["charged_krw"] == 2750
    assert [(line["kind"], line["amount_krw"]) for line in done["charge_lines"]] == [
        ("booked_time", 2000),
        ("overstay_time", 500),
        ("overstay_surcharge", 250),
    ]
    wallet = (await client.get("/wallet", headers=auth(state, driver))).json()
    assert (wallet["balance_krw"], wallet["held_krw"]) == (WALLET_KRW - 2750, 0)

    staff = await make_account(session, role=Role.OPERATOR)
    balances = (await client.get("/settlement/balances", headers=auth(state, staff))).json()
    assert balances[journal.owner(owner.id)] == 2200
    owner_statement = await client.get(
        "/settlement/statements",
        params={"account": journal.owner(owner.id), "month": "2026-11"},
        headers=auth(state, owner),
    )
    assert owner_statement.status_code == 200, owner_statement.text
    document = owner_statement.json()
    assert (document["opening_krw"], document["closing_krw"]) == (0, 2200)
    assert [(line["kind"], line["amount_krw"]) for line in document["lines"]] == [("capture", 2200)]
    # an owner can tell which booking it was: slot, local period, what was charged
    local = START.astimezone(ZoneInfo(state.policy.timezone)).strftime("%Y-%m-%d %H:%M")
    described = document["lines"][0]["description"]
    assert booking["slot_code"] in described and local in described, described
    assert "booked_time, overstay" in described, described
    rows = list(
        csv.reader(
            io.StringIO(
                (
                    await client.get(
                        "/settlement/statements",
                        params={"account": journal.owner(owner.id), "month": "2026-11", "format": "csv"},
                        headers=auth(state, owner),
                    )
                ).text
            )
        )
    )
    assert rows[0][0] == "account" and rows[-1][4:] == ["closing", "", "", "", "2200"]
    assert rows[2][6] == described
    others = await client.get(
        "/settlement/statements", params={"account": "enterprise", "month": "2026-11"}, headers=auth(state, owner)
    )
    assert others.status_code == 403

    paid = await client.post(
        "/settlement/payouts", json={"account": journal.owner(owner.id), "amount_krw": 2000}, headers=auth(state, staff)
    )
    assert paid.status_code == 201
    assert (await client.get("/settlement/balances", headers=auth(state, staff))).json()[journal.owner(owner.id)] == 200

    report = (
        await client.get(
            "/settlement/revenue",
            params={"start": NOW.replace(hour=0).isoformat(), "end": (NOW + timedelta(days=1)).isoformat()},
            headers=auth(state, staff),
        )
    ).json()
    ours = {(r["party"], r["slot_kind"]): r["amount_krw"] for r in report if r["zone"].startswith("zone")}
    assert ours[("owners", "private_individual")] >= 2200 and ours[("enterprise", "private_individual")] >= 413

    # every money movement of the booking is in the public ledger, with the same postings as the journal
    hold = await session.scalar(select(PaymentHold).where(PaymentHold.booking_id == booking["id"]))
    entries = [await ledger.entry(session, r.leaf_index) for r in await ledger.receipts_for(session, f"hold:{hold.id}")]
    assert [e.kind for e in entries] == ["payment.hold", "payment.capture"]  # the capture used the whole hold
    capture = ledger.entry_document(entries[1])["body"]["postings"]
    owner_seen_as = f"owner:{await pseudonyms.pseudonym(session, owner.id)}"  # never by account id
    assert capture[owner_seen_as] == 2200 and capture["enterprise"] == 413 and capture["platform"] == 137
    assert sum(capture.values()) == 0 and not any(str(owner.id) in account for account in capture)


async def test_cancellation_and_no_show_fees(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    await make_zone(session)
    slot = await make_slot(session, now=NOW)
    driver = await make_account(session)
    headers = auth(state, driver)
    early = (await client.post("/bookings", json=booking_body(slot, START, END), headers=headers)).json()
    cancelled = (await client.post(f"/bookings/{early['id']}/cancel", headers=headers)).json()
    assert cancelled["charged_krw"] == 0 and cancelled["charge_lines"] == []  # more than an hour ahead: free
    late = (await client.post("/bookings", json=booking_body(slot, START, END), headers=headers)).json()
    clock.set(START - timedelta(minutes=30))
    headers = auth(state, driver)
    fee = (await client.post(f"/bookings/{late['id']}/cancel", headers=headers)).json()
    assert fee["charged_krw"] == 400 and fee["charge_lines"][0]["kind"] == "cancellation_fee"  # 20% of 2,000
    missed = (await client.post("/bookings", json=booking_body(slot, START, END), headers=headers)).json()
    clock.set(START + timedelta(minutes=31))
    headers = auth(state, driver)
    seen = (await client.get(f"/bookings/{missed['id']}", headers=headers)).json()
    assert seen["status"] == "no_show" and seen["charged_krw"] == 600  # 30% of 2,000
    wallet = (await client.get("/wallet", headers=headers)).json()
    assert (wallet["balance_krw"], wallet["held_krw"]) == (WALLET_KRW - 400 - 600, 0)


async def test_insufficient_funds_books_nothing(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    await make_zone(session)
    slot = await make_slot(session, now=NOW)
    poor = await make_account(session, wallet_krw=1000)
    refused = await client.post("/bookings", json=booking_body(slot, START, END), headers=auth(state, poor))
    assert refused.status_code == 402 and refused.json()["error"] == "insufficient_funds"
    assert refused.json()["needed_krw"] == 2000 and refused.json()["available_krw"] == 1000
    assert await session.scalar(select(func.count()).select_from(Booking).where(Booking.slot_id == slot)) == 0
    assert (
        await session.scalar(select(func.count()).select_from(PaymentHold).where(PaymentHold.driver_id == poor.id)) == 0
    )


async def test_a_stay_the_wallet_cannot_cover_ends_with_money_owed(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock, settings: Settings
):
    """Finding 5: the check-out of an overstay the wallet cannot cover ends the stay; the rest is owed, shown on the
    wallet and to the operator, and blocks new bookings until a top-up settles it."""
    await make_zone(session)
    slot = await make_slot(session, now=NOW)
    driver = await make_account(session, wallet_krw=2000)  # exactly the quote
    headers = auth(state, driver)
    booking = (await client.post("/bookings", json=booking_body(slot, START, END), headers=headers)).json()
    clock.set(START)
    await client.post(f"/bookings/{booking['id']}/check-in", headers=auth(state, driver))
    clock.set(END + timedelta(minutes=20))
    headers = auth(state, driver)
    done = await client.post(f"/bookings/{booking['id']}/check-out", headers=headers)
    assert done.status_code == 200, done.text  # on main: 402, and the stay could never end
    assert done.json()["status"] == "completed" and done.json()["charged_krw"] == 2750
    wallet = (await client.get("/wallet", headers=headers)).json()
    assert (wallet["balance_krw"], wallet["held_krw"], wallet["owed_krw"]) == (0, 0, 750)

    staff = auth(state, await make_account(session, role=Role.OPERATOR))
    owed = (await client.get("/settlement/receivables", headers=staff, params={"limit": 500})).json()["items"]
    assert {"account_id": str(driver.id), "owed_krw": 750} in owed
    later = booking_body(slot, START + timedelta(days=1), END + timedelta(days=1))
    refused = await client.post("/bookings", json=later, headers=headers)
    assert refused.status_code == 402 and refused.json()["error"] == "money_owed" and refused.json()["owed_krw"] == 750

    topped = await paid_top_up(client, settings, headers, 5_000)  # pays what is owed first
    assert topped.status_code == 200, topped.text
    wallet = (await client.get("/wallet", headers=headers)).json()
    assert (wallet["balance_krw"], wallet["owed_krw"]) == (4_250, 0)
    assert (await client.post("/bookings", json=later, headers=headers)).status_code == 201
    assert await journal.balance(session, journal.owed(driver.id)) == 0


async def test_a_stay_ends_even_after_its_hold_expired(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    await make_zone(session)
    slot = await make_slot(session, now=NOW)
    driver = await make_account(session)
    booking = (await client.post("/bookings", json=booking_body(slot, START, END), headers=auth(state, driver))).json()
    clock.set(START)
    await client.post(f"/bookings/{booking['id']}/check-in", headers=auth(state, driver))
    clock.set(END + timedelta(hours=2))  # late, and the hold expired meanwhile (on main: 409, the stay never ended)
    hold = await session.scalar(select(PaymentHold).where(PaymentHold.booking_id == uuid.UUID(booking["id"])))
    assert hold is not None
    await session.execute(update(PaymentHold).where(PaymentHold.id == hold.id).values(expires_at=END))
    headers = auth(state, driver)
    late = await client.post(f"/bookings/{booking['id']}/check-out", headers=headers)
    assert late.status_code == 200, late.text
    assert late.json()["status"] == "completed" and late.json()["charged_krw"] > 2000
