"""The prepaid wallet (drivers) and party balances and payouts (village enterprise staff, the city)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from accounts.models import Role
from api.auth import Anyone, Driver, Monitor, Operator
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.billing import (
    PARTY,
    HoldOut,
    MileageEntryOut,
    MileageOut,
    PayoutIn,
    ReceivableOut,
    RedeemIn,
    StatementLineOut,
    StatementOut,
    TopUpConfirmIn,
    TopUpIn,
    TopUpOut,
    WalletOut,
)
from api.schemas.common import MONTH, ErrorOut, Instant, Page, page
from api.schemas.parking import ReceiptOut
from billing import journal, mileage, top_ups
from billing.gateway import PaymentRefused
from billing.models import TopUp, TopUpStatus
from billing.statements import revenue, statement, to_csv
from billing.wallet import holds_of, owed_krw, payout, receivables
from core.errors import Forbidden, InvalidInput

router = APIRouter(tags=["payments"])
ORDER_NAME = "maeul wallet top-up"
ERRORS: dict[int | str, dict[str, Any]] = {402: {"model": ErrorOut}, 422: {"model": ErrorOut}}


@router.get("/wallet", response_model=WalletOut, summary="The driver's wallet")
async def my_wallet(actor: Driver, session: SessionDep) -> WalletOut:
    holds = await holds_of(session, actor.id)
    return WalletOut(
        balance_krw=await journal.balance(session, journal.wallet(actor.id)),
        held_krw=await journal.balance(session, journal.hold_account(actor.id)),
        owed_krw=await owed_krw(session, actor.id),
        holds=[
            HoldOut(
                id=str(h.id),
                booking_id=str(h.booking_id) if h.booking_id else None,
                amount_krw=h.amount_krw,
                captured_krw=h.captured_krw,
                released_krw=h.released_krw,
                refunded_krw=h.refunded_krw,
            )
            for h in holds
        ],
    )


def _top_up_out(top_up: TopUp) -> TopUpOut:
    return TopUpOut(
        id=str(top_up.id),
        order_id=str(top_up.id),
        order_name=ORDER_NAME,
        amount_krw=top_up.amount_krw,
        status=top_up.status,
        method=top_up.method,
        failure_code=top_up.failure_code,
        failure_message=top_up.failure_message,
        created_at=top_up.created_at,
        confirmed_at=top_up.confirmed_at,
        closed_at=top_up.closed_at,
    )


@router.post(
    "/wallet/top-ups",
    response_model=TopUpOut,
    status_code=201,
    responses={**ERRORS, 409: {"model": ErrorOut, "description": "too_many_pending_top_ups"}},
    summary="Open a top-up order",
)
async def open_top_up(
    body: TopUpIn, actor: Driver, session: SessionDep, now: NowDep, idempotency_key: IdempotencyKeyHeader = None
) -> TopUpOut:
    """Opens an order to add money to the prepaid wallet: nothing is credited yet. The app has the driver pay
    `amount_krw` for `order_id` in the payment gateway's window, then sends the `paymentKey` it gets back to
    `POST /wallet/top-ups/{id}/confirm`. Send an `Idempotency-Key`: retries open one order."""

    async def work() -> TopUpOut:
        return _top_up_out(await top_ups.open_order(session, account_id=actor.id, amount=body.amount_krw, now=now))

    return await create_once(  # type: ignore[return-value]
        session, actor=actor, key=idempotency_key, operation="POST /wallet/top-ups", payload=body, work=work
    )


@router.post(
    "/wallet/top-ups/{top_up_id}/confirm",
    response_model=TopUpOut,
    responses={
        402: {"model": ErrorOut, "description": "payment_refused: the gateway refused; the order is now `failed`"},
        404: {"model": ErrorOut, "description": "top_up_not_found"},
        409: {"model": ErrorOut, "description": "top_up_closed (cancelled, failed, or confirmed with another payment)"},
        422: {"model": ErrorOut, "description": "invalid_amount: not the order's amount (nothing confirmed)"},
        503: {"model": ErrorOut, "description": "payment_gateway_unavailable: the order stays pending; send again"},
    },
    summary="Confirm a top-up's payment",
)
async def confirm_top_up(
    top_up_id: uuid.UUID, body: TopUpConfirmIn, actor: Driver, state: StateDep, session: SessionDep, now: NowDep
) -> TopUpOut:
    """The service confirms the payment with the gateway (order id and amount checked against the order) and credits
    the wallet once. Sending it again for the same payment answers the same and credits nothing more."""
    top_up = await top_ups.confirm(
        session,
        state.payments,
        account_id=actor.id,
        top_up_id=top_up_id,
        payment_key=body.payment_key,
        amount=body.amount_krw,
        now=now,
    )
    await session.commit()
    if top_up.status == TopUpStatus.FAILED:
        raise PaymentRefused(
            top_up.failure_message or "the payment gateway refused the payment",
            extra={"gateway_code": top_up.failure_code, "top_up": _top_up_out(top_up).model_dump(mode="json")},
        )
    return _top_up_out(top_up)


@router.post(
    "/wallet/top-ups/{top_up_id}/cancel",
    response_model=TopUpOut,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut, "description": "top_up_closed"}},
    summary="Cancel a top-up order",
)
async def cancel_top_up(top_up_id: uuid.UUID, actor: Driver, session: SessionDep, now: NowDep) -> TopUpOut:
    """The driver gave up paying: a pending order closes (cancelling it again answers the same)."""
    top_up = await top_ups.cancel(session, account_id=actor.id, top_up_id=top_up_id, now=now)
    await session.commit()
    return _top_up_out(top_up)


@router.get("/wallet/top-ups", response_model=Page[TopUpOut], summary="The driver's top-ups")
async def my_top_ups(actor: Driver, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Newest first, with their states."""
    found = await top_ups.of_account(session, actor.id, limit=limit, offset=offset)
    return page([_top_up_out(t) for t in found], limit=limit, offset=offset)


@router.get(
    "/wallet/top-ups/{top_up_id}",
    response_model=TopUpOut,
    responses={404: {"model": ErrorOut}},
    summary="One top-up",
)
async def my_top_up(top_up_id: uuid.UUID, actor: Driver, session: SessionDep) -> TopUpOut:
    return _top_up_out(await top_ups.own(session, account_id=actor.id, top_up_id=top_up_id))


@router.get("/mileage", response_model=MileageOut, summary="The driver's mileage")
async def my_mileage(actor: Driver, session: SessionDep, now: NowDep) -> MileageOut:
    """Points earned by the mileage rules (e.g. parking outside the village core), with their expiry."""
    entries = await mileage.history(session, actor.id)
    return MileageOut(
        balance_points=await mileage.balance(session, actor.id, now=now),
        entries=[
            MileageEntryOut(
                points=e.points,
                remaining=e.remaining,
                reason=e.reason,
                reference=e.reference,
                expires_at=e.expires_at,
                created_at=e.created_at,
            )
            for e in entries
        ],
    )


@router.post(
    "/mileage/redemptions",
    response_model=WalletOut,
    status_code=201,
    responses={**ERRORS, 409: {"model": ErrorOut, "description": "not_enough_mileage"}},
    summary="Redeem mileage into the wallet",
)
async def redeem_mileage(
    body: RedeemIn, actor: Driver, session: SessionDep, now: NowDep, idempotency_key: IdempotencyKeyHeader = None
) -> WalletOut:
    """Points are spent oldest first; their value in KRW goes to the wallet, paying for parking like money."""

    async def work() -> WalletOut:
        await mileage.redeem(session, account_id=actor.id, points=body.points, now=now)
        return await my_wallet(actor, session)

    return await create_once(  # type: ignore[return-value]
        session, actor=actor, key=idempotency_key, operation="POST /mileage/redemptions", payload=body, work=work
    )


@router.get("/settlement/balances", summary="What each party has earned and not yet been paid")
async def party_balances(actor: Monitor, session: SessionDep) -> dict[str, int]:
    """Balances of owners (`owner:<id>`), the village enterprise, the city and the platform, in KRW."""
    found = await journal.balances(session)
    return {account: value for account, value in found.items() if PARTY.match(account)}


@router.get(
    "/settlement/statements",
    response_model=StatementOut,
    responses={200: {"content": {"text/csv": {}}}, 403: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="A party's monthly statement (JSON or CSV)",
)
async def monthly_statement(
    actor: Anyone,
    state: StateDep,
    session: SessionDep,
    account: Annotated[
        str, Query(pattern=PARTY.pattern, description="owner:<account id>, enterprise, city or platform")
    ],
    month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM, local time")],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """Opening balance, every posting of the month with what it was for and the running balance, closing balance.
    Owners see their own (`owner:<their id>`); staff and the city see every party's."""
    if not (actor.role in (Role.OPERATOR, Role.ADMIN, Role.CITY) or account == journal.owner(actor.id)):
        raise Forbidden("owners see only their own statement")
    year, number = (int(part) for part in month.split("-"))
    document = await statement(session, account=account, month=date(year, number, 1), timezone=state.policy.timezone)
    if format == "csv":
        return PlainTextResponse(
            to_csv(document),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{account}-{month}.csv"'},
        )
    return StatementOut(
        account=document.account,
        month=document.month,
        opening_krw=document.opening_krw,
        lines=[StatementLineOut(**asdict(line)) for line in document.lines],
        closing_krw=document.closing_krw,
    )


@router.get("/settlement/revenue", summary="Revenue by party, zone and slot kind (staff, the city)")
async def revenue_report(
    actor: Monitor,
    session: SessionDep,
    start: Annotated[Instant, Query()],
    end: Annotated[Instant, Query()],
) -> list[dict[str, object]]:
    """Net of refunds, over [start, end). Owners are summed as `owners`."""
    if end <= start:
        raise InvalidInput("end must be after start")
    return await revenue(session, start=start, end=end)


@router.get("/settlement/receivables", response_model=Page[ReceivableOut], summary="Money owed by drivers")
async def money_owed(actor: Operator, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Accounts whose trips ended with more to pay than their wallets held, most owed first (village enterprise
    staff). They can book nothing new until a top-up settles what they owe."""
    found = await receivables(session, limit=limit, offset=offset)
    items = [ReceivableOut(account_id=str(account), owed_krw=owed) for account, owed in found]
    return page(items, limit=limit, offset=offset)


@router.post("/settlement/payouts", response_model=ReceiptOut, status_code=201, responses=ERRORS, summary="Pay out")
async def make_payout(
    body: PayoutIn, actor: Operator, session: SessionDep, now: NowDep, idempotency_key: IdempotencyKeyHeader = None
) -> ReceiptOut:
    """Moves a party's earned balance out (to its bank account); 402 when it has not earned that much."""

    async def work() -> ReceiptOut:
        receipt = await payout(session, account=body.account, amount=body.amount_krw, now=now)
        return ReceiptOut.of(receipt)

    return await create_once(  # type: ignore[return-value]
        session, actor=actor, key=idempotency_key, operation="POST /settlement/payouts", payload=body, work=work
    )
