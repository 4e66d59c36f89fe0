"""No person is named on the public ledger: wallets and parties appear under keyed pseudonyms, which an account can
learn for itself (`GET /me`) and nobody else can link to it."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from accounts.models import Role
from api.state import AppState
from core import services
from core.settings import Settings
from tests.conftest import NOW
from tests.factories import auth, booking_body, make_account, make_slot, make_zone

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def test_a_paid_booking_names_its_driver_and_owner_by_pseudonym_only(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState
):
    await make_zone(session)
    owner = await make_account(session, role=Role.OWNER)
    slot = await make_slot(session, owner=owner, now=NOW)
    driver = await make_account(session)
    booked = await client.post(
        "/bookings", json=booking_body(slot, NOW.replace(hour=10), NOW.replace(hour=12)), headers=auth(state, driver)
    )
    assert booked.status_code == 201, booked.text
    me = (await client.get("/me", headers=auth(state, driver))).json()
    mine = me["ledger_pseudonym"]
    assert re.fullmatch(r"[0-9a-f]{32}", mine)
    other = (await client.get("/me", headers=auth(state, owner))).json()["ledger_pseudonym"]
    assert other != mine
    rows = (await session.execute(text("SELECT entry FROM ledger_entries ORDER BY leaf_index DESC LIMIT 20"))).all()
    documents = [bytes(row.entry).decode() for row in rows]
    assert not any(str(driver.id) in d or str(owner.id) in d for d in documents)
    assert any(f"wallet:{mine}" in d or f"hold:{mine}" in d for d in documents)  # the driver finds their own


@pytest.mark.slow
async def test_nothing_the_demo_village_writes_on_the_ledger_names_a_person(demo_api: str, settings: Settings):
    """Every entry the running demo has written (its loading, its simulated village, its riders) is scanned for any
    account id, email or vehicle plate of the demo's database."""
    async with httpx.AsyncClient(base_url=demo_api, timeout=30) as client:
        size = (await client.get("/ledger/tree-heads/latest")).json()["size"]
    assert size > 100
    engine = create_async_engine(services.local_database_url(settings, database="maeul_demo_session"))
    try:
        async with engine.connect() as connection:
            people = {str(row[0]) for row in await connection.execute(text("SELECT id FROM accounts"))}
            emails = {row[0] for row in await connection.execute(text("SELECT email FROM accounts"))}
            plates = {row[0] for row in await connection.execute(text("SELECT DISTINCT vehicle_plate FROM bookings"))}
            entries = [
                bytes(row[0]).decode() for row in await connection.execute(text("SELECT entry FROM ledger_entries"))
            ]
    finally:
        await engine.dispose()
    assert len(entries) > 100 and people and emails
    named = [
        entry
        for entry in entries
        if set(UUID.findall(entry)) & people or any(e in entry for e in emails) or any(p in entry for p in plates)
    ]
    assert not named, named[:3]
