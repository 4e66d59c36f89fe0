"""The log on real PostgreSQL: appends in the caller's transaction, receipts, proofs through HTTP, tree heads,
append-only triggers, and the audit catching changes made behind them."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.models import Role
from api.state import AppState
from core.clock import FixedClock
from ledger import log as ledger
from ledger import merkle
from ledger.audit import audit
from ledger.signing import verify_tree_head
from tests.conftest import NOW
from tests.factories import auth, booking_body, make_account, make_slot, make_zone


async def _publish(session: AsyncSession, state: AppState) -> ledger.TreeHead:
    head = await ledger.publish_tree_head(
        session, signer=state.signer, now=state.clock.now(), every_entries=1, every_seconds=3600
    )
    assert head is not None
    return head


def _records(count: int, start: int = 0) -> list[ledger.Record]:
    return [
        ledger.Record(kind="test.entry", subject=f"test:{start + i}", body={"n": start + i, "krw": 1000}, at=NOW)
        for i in range(count)
    ]


async def test_append_is_part_of_the_callers_transaction(session: AsyncSession):
    before = await ledger.size(session)
    async with session.begin_nested() as savepoint:
        await ledger.append(session, *_records(3))
        assert await ledger.size(session) == before + 3
        await savepoint.rollback()
    assert await ledger.size(session) == before
    receipts = await ledger.append(session, *_records(2))
    assert [r.leaf_index for r in receipts] == [before, before + 1]
    assert await ledger.receipts_for(session, "test:1") == [receipts[1]]


async def test_canonical_entries():
    entry = ledger.canonical_entry(ledger.Record(kind="k", subject="s", body={"b": 2, "a": "가", "when": NOW}, at=NOW))
    assert (
        entry
        == (
            '{"at":"2026-11-22T22:00:00Z","body":{"a":"가","b":2,"when":"2026-11-22T22:00:00Z"},'
            '"kind":"k","subject":"s","v":1}'
        ).encode()
    )
    with pytest.raises(TypeError):
        ledger.canonical_entry(ledger.Record(kind="k", subject="s", body={"amount": 1.5}, at=NOW))


async def test_booking_receipts_and_proofs_through_http(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    await make_zone(session)
    slot = await make_slot(session, now=NOW)
    driver = await make_account(session, role=Role.RESIDENT)
    headers = auth(state, driver)
    created = await client.post(
        "/bookings", json=booking_body(slot, NOW.replace(hour=10), NOW.replace(hour=11)), headers=headers
    )
    receipt = created.json()["receipts"][0]
    first_head = await _publish(session, state)
    await session.commit()

    clock.set(NOW.replace(hour=9, minute=50))
    headers = auth(state, driver)
    checked_in = (await client.post(f"/bookings/{created.json()['id']}/check-in", headers=headers)).json()
    assert [r["leaf_index"] for r in checked_in["receipts"]] == [receipt["leaf_index"], receipt["leaf_index"] + 1]
    await ledger.append(session, *_records(5))
    second_head = await _publish(session, state)
    await session.commit()

    key = base64.b64decode((await client.get("/ledger/public-key")).json()["public_key"])
    latest = (await client.get("/ledger/tree-heads/latest")).json()
    assert latest["size"] == second_head.size
    issued = second_head.issued_at
    assert verify_tree_head(
        key, latest["size"], issued, bytes.fromhex(latest["root"]), base64.b64decode(latest["signature"])
    )

    entry = (await client.get(f"/ledger/entries/{receipt['leaf_index']}")).json()
    assert entry["document"]["kind"] == "booking.reserved"
    assert entry["document"]["body"]["booking_id"] == created.json()["id"]
    assert "vehicle_plate" not in entry["document"]["body"] and "driver_id" not in entry["document"]["body"]
    leaf = merkle.leaf_hash(base64.b64decode(entry["entry"]))
    assert leaf.hex() == receipt["leaf_hash"]

    by_hash = (await client.get("/ledger/proofs/inclusion", params={"leaf_hash": receipt["leaf_hash"]})).json()
    assert by_hash["leaf_index"] == receipt["leaf_index"] and by_hash["tree_size"] == second_head.size
    path = [bytes.fromhex(p) for p in by_hash["path"]]
    assert merkle.verify_inclusion(leaf, receipt["leaf_index"], second_head.size, path, second_head.root)

    params = {"first": first_head.size, "second": second_head.size}
    consistency = (await client.get("/ledger/proofs/consistency", params=params)).json()
    proof = [bytes.fromhex(p) for p in consistency["path"]]
    assert merkle.verify_consistency(first_head.size, second_head.size, first_head.root, second_head.root, proof)

    for bad in (
        {"leaf_index": 0, "tree_size": second_head.size + 1},
        {"leaf_index": second_head.size, "tree_size": second_head.size},
        {"leaf_index": 0, "leaf_hash": "00" * 32},
        {"leaf_hash": "zz"},
    ):
        response = await client.get("/ledger/proofs/inclusion", params=bad)
        assert response.status_code == 422, (bad, response.text)
    assert (await client.get("/ledger/proofs/inclusion", params={"leaf_hash": "ab" * 32})).status_code == 404
    assert (await client.get("/ledger/proofs/consistency", params={"first": 5, "second": 2})).status_code == 422
    assert (await client.get("/ledger/entries/99999999")).status_code == 404
    assert (await client.get("/ledger/tree-heads/99999999")).status_code == 404


async def test_tree_heads_every_n_entries_or_t_seconds(session: AsyncSession, state: AppState):
    await _publish_pending(session, state)
    await ledger.append(session, *_records(3))
    publish = ledger.publish_tree_head
    assert await publish(session, signer=state.signer, now=NOW, every_entries=5, every_seconds=60) is None
    await ledger.append(session, *_records(2))
    assert await publish(session, signer=state.signer, now=NOW, every_entries=5, every_seconds=60) is not None
    await ledger.append(session, *_records(1))
    assert (
        await publish(session, signer=state.signer, now=NOW + timedelta(seconds=59), every_entries=5, every_seconds=60)
        is None
    )
    assert (
        await publish(session, signer=state.signer, now=NOW + timedelta(seconds=61), every_entries=5, every_seconds=60)
        is not None
    )
    assert (
        await publish(session, signer=state.signer, now=NOW + timedelta(seconds=62), every_entries=1, every_seconds=60)
        is None
    )


async def test_a_tree_head_does_not_queue_behind_an_append_in_flight(engine: AsyncEngine, state: AppState):
    """A transaction that appended and has not committed holds the ledger's head: publishing gives up after
    `HEAD_WAIT_MS` (the job's next run publishes) instead of holding a worker slot for as long; its own transaction
    stays usable. Once the append commits, the tree head covers it. (Committed for real, like the worker's.)"""
    now = datetime.now(UTC)
    publish = partial(ledger.publish_tree_head, signer=state.signer, every_entries=1, every_seconds=3600)
    async with AsyncSession(engine) as writer, AsyncSession(engine) as publisher:
        [receipt] = await ledger.append(writer, ledger.Record(kind="test.in_flight", subject="busy", body={}, at=now))
        assert await asyncio.wait_for(publish(publisher, now=now), timeout=30) is None
        assert await publisher.scalar(text("SELECT 1")) == 1
        await publisher.rollback()
        await writer.commit()
        head = await publish(publisher, now=now)
        assert head is not None and head.size > receipt.leaf_index
        await publisher.commit()


async def _publish_pending(session: AsyncSession, state: AppState) -> None:
    await ledger.publish_tree_head(session, signer=state.signer, now=NOW, every_entries=1, every_seconds=0.001)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET kind = 'forged' WHERE leaf_index = :i",
        "DELETE FROM ledger_entries WHERE leaf_index = :i",
        "TRUNCATE ledger_entries CASCADE",
        "UPDATE ledger_nodes SET hash = hash WHERE level = 1",
        "DELETE FROM ledger_tree_heads WHERE size > :i",
    ],
)
async def test_append_only_triggers(session: AsyncSession, state: AppState, sql: str):
    receipts = await ledger.append(session, *_records(4))
    await _publish(session, state)
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(text(sql), {"i": receipts[0].leaf_index})


async def _behind_the_triggers(session: AsyncSession, sql: str, **params: object) -> None:
    """What a database superuser could do: switch triggers off for the session and change the log."""
    await session.execute(text("SET LOCAL session_replication_role = replica"))
    await session.execute(text(sql), params)
    await session.execute(text("SET LOCAL session_replication_role = origin"))


async def test_audit_passes_then_names_the_first_changed_entry(session: AsyncSession, state: AppState):
    receipts = await ledger.append(session, *_records(40))
    await _publish(session, state)
    clean = await audit(session, public_key=state.signer.public_key)
    assert clean.ok, clean.problems
    target = receipts[17].leaf_index
    await _behind_the_triggers(
        session,
        "UPDATE ledger_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '1000', '9000'), 'UTF8') "
        "WHERE leaf_index = :i",
        i=target,
    )
    report = await audit(session, public_key=state.signer.public_key)
    assert not report.ok and report.first_bad_index == target


async def test_audit_catches_a_rewritten_history(session: AsyncSession, state: AppState):
    """The entry and its leaf hash both replaced: only the signed tree head still knows the truth."""
    receipts = await ledger.append(session, *_records(8))
    await _publish(session, state)
    target = receipts[5].leaf_index
    forged = ledger.canonical_entry(_records(1, start=999)[0])
    await _behind_the_triggers(
        session,
        "UPDATE ledger_entries SET entry = :entry, leaf_hash = :leaf WHERE leaf_index = :i",
        entry=forged,
        leaf=merkle.leaf_hash(forged),
        i=target,
    )
    report = await audit(session, public_key=state.signer.public_key)
    assert not report.ok
    assert report.first_bad_index is not None and report.first_bad_index <= target
    assert any("does not match" in p for p in report.problems)


async def test_audit_catches_a_wrong_signature(session: AsyncSession, state: AppState):
    await ledger.append(session, *_records(3))
    head = await _publish(session, state)
    await _behind_the_triggers(
        session, "UPDATE ledger_tree_heads SET signature = :sig WHERE size = :size", sig=bytes(64), size=head.size
    )
    report = await audit(session, public_key=state.signer.public_key)
    assert any("signature" in p for p in report.problems)
