"""The prepaid wallet (drivers) and party balances and payouts (village enterprise staff, the city)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from accounts.models import Role
from api.auth import Anyone, Driver, Monitor, Operator
from api.deps import NowDep, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.billing import (
    PARTY,
    HoldOut,
    MileageEntryOut,
    MileageOut,
    PayoutIn,
    RedeemIn,
    StatementLineOut,
    StatementOut,
    TopUpIn,
    WalletOut,
)
from api.schemas.common import MONTH, ErrorOut, Instant
from api.schemas.parking import ReceiptOut
from billing import journal, mileage
from billing.statements import revenue, statement, to_csv
from billing.wallet import Wallet, holds_of, payout
from core.errors import Forbidden, InvalidInput

router = APIRouter(tags=["payments"])
ERRORS: dict[int | str, dict[str, Any]] = {402: {"model": ErrorOut}, 422: {"model": ErrorOut}}


@router.get("/wallet", response_model=WalletOut, summary="The driver's wallet")
async def my_wallet(actor: Driver, session: SessionDep) -> WalletOut:
    holds = await holds_of(session, actor.id)
    return WalletOut(
        balance_krw=await journal.balance(session, journal.wallet(actor.id)),
        held_krw=await journal.balance(session, journal.hold_account(actor.id)),
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


@router.post("/wallet/top-ups", response_model=WalletOut, status_code=201, responses=ERRORS, summary="Top up")
async def top_up(
    body: TopUpIn, actor: Driver, session: SessionDep, now: NowDep, idempotency_key: IdempotencyKeyHeader = None
) -> WalletOut:
    """Adds money to the prepaid wallet. Send an `Idempotency-Key`: retries, even concurrent ones, top up once."""

    async def work() -> WalletOut:
        await Wallet().top_up(session, account_id=actor.id, amount=body.amount_krw, now=now)
        return await my_wallet(actor, session)

    return await create_once(  # type: ignore[return-value]
        session, actor=actor, key=idempotency_key, operation="POST /wallet/top-ups", payload=body, work=work
    )


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
