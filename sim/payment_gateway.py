"""The local demo payment gateway: a small process of its own (`maeul services up` runs it for `make demo` and the
tests) that speaks the part of Toss Payments' server API maeul uses, so the demo and the tests pay the way production
does. Refused in production (`MAEUL_PAYMENT_GATEWAY_URL` must be set there).

- `POST /v1/demo/payments` stands in for the gateway's payment window: the customer pays for an order (`orderId`,
  `amount`) and gets a `paymentKey` (status `READY`); `"card": "declined"` pays with a card the confirm will refuse.
- `POST /v1/payments/confirm` (HTTP Basic auth with the demo secret key, `Idempotency-Key` honoured): `DONE`, or
  Toss' error codes: `UNAUTHORIZED_KEY` 401, `NOT_FOUND_PAYMENT` 404, `ALREADY_PROCESSED_PAYMENT` 400,
  `INVALID_REQUEST` 400 (order or amount not those paid), `REJECT_CARD_PAYMENT` 403.
- `GET /v1/payments/orders/{orderId}`: the payment of an order.

Payments live in memory: a restarted demo gateway has forgotten them (pending top-ups then fail to confirm).
"""

from __future__ import annotations

import argparse
import base64
import secrets
from collections import OrderedDict
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from core.settings import DEMO_PAYMENT_SECRET_KEY

ORDER_ID = r"^[A-Za-z0-9_-]{6,64}$"
KEPT = 100_000  # payments remembered; the oldest are forgotten beyond this
SEOUL = ZoneInfo("Asia/Seoul")


class Pay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    orderId: str = Field(pattern=ORDER_ID)  # noqa: N815 (the gateway's field names)
    amount: int = Field(gt=0, le=100_000_000)
    card: Literal["approved", "declined"] = "approved"


class Confirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paymentKey: str = Field(min_length=1, max_length=200)  # noqa: N815
    orderId: str = Field(pattern=ORDER_ID)  # noqa: N815
    amount: int = Field(gt=0, le=100_000_000)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def create_app(secret_key: str = DEMO_PAYMENT_SECRET_KEY) -> FastAPI:
    app = FastAPI(title="maeul demo payment gateway", docs_url=None, redoc_url=None)
    expected = "Basic " + base64.b64encode(f"{secret_key}:".encode()).decode()
    payments: OrderedDict[str, dict[str, Any]] = OrderedDict()  # by payment key
    orders: dict[str, str] = {}  # order id -> payment key
    answered: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()  # idempotency key -> answer
    declined: set[str] = set()

    def remember(payment: dict[str, Any]) -> None:
        payments[payment["paymentKey"]] = payment
        orders[payment["orderId"]] = payment["paymentKey"]
        while len(payments) > KEPT:
            _, forgotten = payments.popitem(last=False)
            orders.pop(forgotten["orderId"], None)
            declined.discard(forgotten["paymentKey"])

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/demo/payments", status_code=201)
    async def pay(body: Pay) -> Any:
        """The customer pays in the payment window (the demo's stand-in for the gateway's widget)."""
        if body.orderId in orders:
            return _error(400, "DUPLICATED_ORDER_ID", "this order has been paid already")
        now = datetime.now(SEOUL).isoformat(timespec="seconds")
        key = "demo_" + secrets.token_urlsafe(24)
        payment: dict[str, Any] = {
            "paymentKey": key,
            "orderId": body.orderId,
            "status": "READY",
            "method": "카드",
            "totalAmount": body.amount,
            "requestedAt": now,
            "approvedAt": None,
        }
        remember(payment)
        if body.card == "declined":
            declined.add(key)
        return payment

    @app.post("/v1/payments/confirm")
    async def confirm(
        body: Confirm,
        authorization: Annotated[str | None, Header()] = None,
        idempotency_key: Annotated[str | None, Header(max_length=300)] = None,
    ) -> Any:
        if authorization != expected:
            return _error(401, "UNAUTHORIZED_KEY", "the secret key is not valid")
        if idempotency_key is not None and idempotency_key in answered:
            status, answer = answered[idempotency_key]
            return JSONResponse(answer, status_code=status)
        status, answer = _confirm(body)
        if idempotency_key is not None:
            answered[idempotency_key] = (status, answer)
            while len(answered) > KEPT:
                answered.popitem(last=False)
        return JSONResponse(answer, status_code=status)

    def _confirm(body: Confirm) -> tuple[int, dict[str, Any]]:
        payment = payments.get(body.paymentKey)
        if payment is None:
            return 404, {"code": "NOT_FOUND_PAYMENT", "message": "no such payment"}
        if payment["orderId"] != body.orderId or payment["totalAmount"] != body.amount:
            return 400, {"code": "INVALID_REQUEST", "message": "the order or amount is not the one paid"}
        if payment["status"] != "READY":
            return 400, {"code": "ALREADY_PROCESSED_PAYMENT", "message": "the payment has been processed already"}
        if body.paymentKey in declined:
            payment["status"] = "ABORTED"
            return 403, {"code": "REJECT_CARD_PAYMENT", "message": "the card company declined the payment"}
        payment["status"] = "DONE"
        payment["approvedAt"] = datetime.now(SEOUL).isoformat(timespec="seconds")
        return 200, payment

    @app.get("/v1/payments/orders/{order_id}")
    async def payment_of_order(order_id: str, authorization: Annotated[str | None, Header()] = None) -> Any:
        if authorization != expected:
            return _error(401, "UNAUTHORIZED_KEY", "the secret key is not valid")
        key = orders.get(order_id)
        if key is None:
            return _error(404, "NOT_FOUND_PAYMENT", "no payment for this order")
        return payments[key]

    return app


async def pay(gateway_url: str, order: dict[str, Any], *, card: str = "approved") -> str:
    """The driver pays a top-up order (the API's answer) in this gateway's payment window: the payment key."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as window:
        body = {"orderId": order["order_id"], "amount": order["amount_krw"], "card": card}
        paid = await window.post("/v1/demo/payments", json=body)
    paid.raise_for_status()
    key: str = paid.json()["paymentKey"]
    return key


async def top_up_as_the_app(
    api: httpx.AsyncClient, gateway_url: str, headers: dict[str, str], amount: int
) -> httpx.Response:
    """A wallet top-up as the app makes one against this gateway: open the order at the API, pay it in the payment
    window, confirm the payment key at the API (its answer)."""
    opened = await api.post("/wallet/top-ups", json={"amount_krw": amount}, headers=headers)
    if opened.status_code != 201:
        return opened
    body = {"payment_key": await pay(gateway_url, opened.json()), "amount_krw": amount}
    return await api.post(f"/wallet/top-ups/{opened.json()['id']}/confirm", json=body, headers=headers)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="maeul's local demo payment gateway (Toss Payments' protocol)")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=arguments.port, log_level="warning")


if __name__ == "__main__":
    main()
