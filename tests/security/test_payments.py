"""No money without a payment behind it (finding 2): a top-up request credits nothing by itself; the wallet is
credited once, when the payment gateway (the local demo gateway, a process speaking Toss Payments' protocol)
confirms the payment of that order for that amount. Declined, cancelled, mismatched, forged and repeated confirms
(concurrent ones over real HTTP: tests/billing/test_wallet.py), a gateway that does not answer, and a confirm the
gateway processed before our commit was lost. Production refuses the demo gateway: tests/security/test_production.py."""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.state import AppState
from billing import journal, top_ups
from billing.gateway import GatewayUnavailable, TossPayments
from billing.models import JournalTransaction, TopUp
from core.settings import DEMO_PAYMENT_SECRET_KEY, Settings
from sim.payment_gateway import pay
from tests.conftest import NOW
from tests.factories import auth, free_port, make_account


async def _balance(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return int((await client.get("/wallet", headers=headers)).json()["balance_krw"])


async def _open(client: httpx.AsyncClient, headers: dict[str, str], amount: int) -> dict[str, object]:
    opened = await client.post("/wallet/top-ups", json={"amount_krw": amount}, headers=headers)
    assert opened.status_code == 201, opened.text
    body: dict[str, object] = opened.json()
    return body


async def _confirm(
    client: httpx.AsyncClient, headers: dict[str, str], top_up: dict[str, object], key: str, amount: int | None = None
) -> httpx.Response:
    body = {"payment_key": key, "amount_krw": amount if amount is not None else top_up["amount_krw"]}
    return await client.post(f"/wallet/top-ups/{top_up['id']}/confirm", json=body, headers=headers)


async def test_a_top_up_request_alone_credits_nothing_and_a_confirmed_payment_credits_once(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, settings: Settings
):
    driver = await make_account(session, wallet_krw=0)
    headers = auth(state, driver)
    order = await _open(client, headers, 1_000_000)
    assert order["status"] == "pending" and order["order_id"] == order["id"]
    assert await _balance(client, headers) == 0  # on main this was 1,000,000 KRW of free money

    key = await pay(settings.payment_gateway()[0], order)
    confirmed = await _confirm(client, headers, order, key)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed", confirmed.text
    assert confirmed.json()["method"] == "카드"
    again = await _confirm(client, headers, order, key)  # the app retries: the same answer, no second credit
    assert again.status_code == 200 and again.json()["confirmed_at"] == confirmed.json()["confirmed_at"]
    assert await _balance(client, headers) == 1_000_000
    credits = await session.scalars(
        select(JournalTransaction).where(JournalTransaction.reference == f"top_up:{order['id']}")
    )
    assert len(list(credits)) == 1

    listed = await client.get("/wallet/top-ups", headers=headers)
    assert [t["id"] for t in listed.json()["items"]] == [order["id"]]
    other = await make_account(session, wallet_krw=0)
    assert (await client.get(f"/wallet/top-ups/{order['id']}", headers=auth(state, other))).status_code == 404
    stolen = await _confirm(client, auth(state, other), order, key)  # another account's order: not found
    assert stolen.status_code == 404 and stolen.json()["error"] == "top_up_not_found"


async def test_refused_cancelled_mismatched_and_forged_payments_credit_nothing(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, settings: Settings
):
    driver = await make_account(session, wallet_krw=0)
    headers = auth(state, driver)

    declined = await _open(client, headers, 30_000)
    refused = await _confirm(
        client, headers, declined, await pay(settings.payment_gateway()[0], declined, card="declined")
    )
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"] == "payment_refused" and refused.json()["gateway_code"] == "REJECT_CARD_PAYMENT"
    assert refused.json()["top_up"]["status"] == "failed"
    shown = (await client.get(f"/wallet/top-ups/{declined['id']}", headers=headers)).json()
    assert shown["status"] == "failed" and shown["failure_code"] == "REJECT_CARD_PAYMENT"  # committed, not rolled back
    closed = await _confirm(client, headers, declined, "whatever")
    assert closed.status_code == 409 and closed.json()["error"] == "top_up_closed"

    forged = await _open(client, headers, 20_000)  # a payment key nobody paid
    refused = await _confirm(client, headers, forged, "made_up_payment_key")
    assert refused.status_code == 402 and refused.json()["gateway_code"] == "NOT_FOUND_PAYMENT"

    cheap, dear = await _open(client, headers, 1_000), await _open(client, headers, 500_000)
    cheap_key = await pay(settings.payment_gateway()[0], cheap)
    mismatch = await _confirm(client, headers, dear, cheap_key, amount=500_000)  # another order's payment
    assert mismatch.status_code == 402 and mismatch.json()["gateway_code"] == "INVALID_REQUEST"
    wrong_amount = await _confirm(client, headers, cheap, cheap_key, amount=500_000)  # not the order's amount
    assert wrong_amount.status_code == 422 and wrong_amount.json()["error"] == "invalid_amount"
    assert (await client.get(f"/wallet/top-ups/{cheap['id']}", headers=headers)).json()["status"] == "pending"

    cancelled = await client.post(f"/wallet/top-ups/{cheap['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await client.post(f"/wallet/top-ups/{cheap['id']}/cancel", headers=headers)).status_code == 200
    after = await _confirm(client, headers, cheap, cheap_key)  # paid, but the driver cancelled the order first
    assert after.status_code == 409 and after.json()["error"] == "top_up_closed"
    assert await _balance(client, headers) == 0

    bad = await client.post(
        f"/wallet/top-ups/{cheap['id']}/confirm", json={"payment_key": "x" * 201, "amount_krw": 1}, headers=headers
    )
    assert bad.status_code == 422
    assert (await client.post(f"/wallet/top-ups/{uuid.uuid4()}/cancel", headers=headers)).status_code == 404


async def test_open_orders_are_bounded(client: httpx.AsyncClient, session: AsyncSession, state: AppState):
    driver = await make_account(session, wallet_krw=0)
    headers = auth(state, driver)
    for _ in range(top_ups.MAX_PENDING):
        await _open(client, headers, 1_000)
    refused = await client.post("/wallet/top-ups", json={"amount_krw": 1_000}, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"] == "too_many_pending_top_ups"


async def test_a_silent_gateway_leaves_the_order_pending_and_a_lost_commit_is_recovered(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, settings: Settings
):
    driver = await make_account(session, wallet_krw=0)
    headers = auth(state, driver)
    order = await _open(client, headers, 40_000)
    key = await pay(settings.payment_gateway()[0], order)
    top_up_id = uuid.UUID(str(order["id"]))

    silent = TossPayments(f"http://127.0.0.1:{free_port()}", DEMO_PAYMENT_SECRET_KEY, timeout_s=1)
    try:
        with pytest.raises(GatewayUnavailable):
            await top_ups.confirm(
                session, silent, account_id=driver.id, top_up_id=top_up_id, payment_key=key, amount=40_000, now=NOW
            )
    finally:
        await silent.aclose()
    await session.rollback()
    assert (await session.get(TopUp, top_up_id, populate_existing=True)).status == "pending"  # type: ignore[union-attr]

    # the gateway confirmed, then our commit was lost (a crash): the next confirm finds the payment done there
    url, secret = settings.payment_gateway()
    basic = base64.b64encode(f"{secret}:".encode()).decode()
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Basic {basic}"}) as gateway:
        done = await gateway.post(
            "/v1/payments/confirm", json={"paymentKey": key, "orderId": str(top_up_id), "amount": 40_000}
        )
        assert done.status_code == 200 and done.json()["status"] == "DONE"
        wrong_key = await gateway.post(
            "/v1/payments/confirm",
            json={"paymentKey": key, "orderId": str(top_up_id), "amount": 40_000},
            headers={"Authorization": "Basic " + base64.b64encode(b"live_sk_guess:").decode()},
        )
        assert wrong_key.status_code == 401 and wrong_key.json()["code"] == "UNAUTHORIZED_KEY"
    recovered = await _confirm(client, headers, order, key)
    assert recovered.status_code == 200 and recovered.json()["status"] == "confirmed", recovered.text
    assert await _balance(client, headers) == 40_000
    assert await journal.balance(session, journal.wallet(driver.id)) == 40_000
