"""The payment gateway: a top-up is money only once the gateway confirms it (`PaymentGateway`).

`TossPayments` speaks Toss Payments' documented server-side flow: the app lets the customer pay in the gateway's own
payment window for an order the service created (order id and amount), the window hands the app a `paymentKey`, and
the server confirms it with `POST /v1/payments/confirm` (HTTP Basic auth with the secret key, an `Idempotency-Key`):
the payment is `DONE` only then. The confirmation's order id and amount are checked against the order; a confirm the
gateway has already processed (a retry after a timeout or a crash) is looked up with `GET /v1/payments/orders/{id}`
instead of being refused. The local demo gateway (`sim/payment_gateway.py`) speaks the same protocol.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from core.errors import DomainError, Unavailable
from core.settings import Settings


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A payment the gateway says is done."""

    payment_key: str
    order_id: str
    amount: int
    method: str


class PaymentRefused(DomainError):
    """The gateway refused the payment (declined card, unknown or mismatched payment): nothing was charged."""

    code = "payment_refused"


class GatewayUnavailable(Unavailable):
    """The gateway did not answer in time, or failed: the top-up stays pending and the confirm may be sent again."""

    code = "payment_gateway_unavailable"


class PaymentGateway(Protocol):
    async def confirm(self, *, payment_key: str, order_id: str, amount: int) -> Confirmation: ...

    async def aclose(self) -> None: ...


class TossPayments:
    """Toss Payments' server API (`/v1/payments/confirm`, `/v1/payments/orders/{orderId}`)."""

    def __init__(self, base_url: str, secret_key: str, *, timeout_s: float) -> None:
        token = base64.b64encode(f"{secret_key}:".encode()).decode()
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Basic {token}"}, timeout=timeout_s
        )

    async def confirm(self, *, payment_key: str, order_id: str, amount: int) -> Confirmation:
        body = {"paymentKey": payment_key, "orderId": order_id, "amount": amount}
        answer = await self._call("POST", "/v1/payments/confirm", json=body, headers={"Idempotency-Key": order_id})
        if answer.status_code == 400 and _code(answer) == "ALREADY_PROCESSED_PAYMENT":
            answer = await self._call("GET", f"/v1/payments/orders/{order_id}")
        if answer.status_code >= 500:
            raise GatewayUnavailable(f"the payment gateway failed ({answer.status_code}); confirm again later")
        if answer.status_code != 200:
            raise PaymentRefused(
                _message(answer), extra={"gateway_code": _code(answer) or f"HTTP_{answer.status_code}"}
            )
        return _done(answer, payment_key=payment_key, order_id=order_id, amount=amount)

    async def _call(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            return await self.client.request(method, path, **options)
        except httpx.HTTPError as error:
            raise GatewayUnavailable(f"the payment gateway did not answer ({type(error).__name__})") from error

    async def aclose(self) -> None:
        await self.client.aclose()


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        found = answer.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _code(answer: httpx.Response) -> str | None:
    code = _json(answer).get("code")
    return code if isinstance(code, str) else None


def _message(answer: httpx.Response) -> str:
    message = _json(answer).get("message")
    return message[:300] if isinstance(message, str) else f"the payment gateway refused ({answer.status_code})"


def _done(answer: httpx.Response, *, payment_key: str, order_id: str, amount: int) -> Confirmation:
    """The gateway's payment, if it is the one asked for and done; refused otherwise (never money on a mismatch)."""
    payment = _json(answer)
    if payment.get("status") != "DONE":
        raise PaymentRefused("the payment is not done", extra={"gateway_code": f"STATUS_{payment.get('status')}"})
    if payment.get("paymentKey") != payment_key or payment.get("orderId") != order_id:
        raise PaymentRefused("the gateway confirmed another payment", extra={"gateway_code": "MISMATCHED_PAYMENT"})
    if payment.get("totalAmount") != amount:
        raise PaymentRefused("the gateway confirmed another amount", extra={"gateway_code": "MISMATCHED_AMOUNT"})
    method = payment.get("method")
    return Confirmation(payment_key, order_id, amount, method if isinstance(method, str) else "unknown")


def gateway_for(settings: Settings) -> TossPayments:
    url, key = settings.payment_gateway()
    return TossPayments(url, key, timeout_s=settings.payment_timeout_s)
