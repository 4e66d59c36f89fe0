"""Happiness-car contracts: a car for a primary user with guaranteed weekly windows, extra windows and released spans,
the home slot held for the whole contract, monthly invoices."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Role
from accounts.service import get_account
from billing.statements import month_bounds
from billing.wallet import Wallet
from cars.bookings import cancel_booking, shares
from cars.errors import (
    CarNotBack,
    ContractNotFound,
    InvalidCarBookingTransition,
    NotACar,
    PrimaryTimeTaken,
    WindowsConflictWithBookings,
    WindowsNeedApproval,
)
from cars.models import (
    HOLDING,
    CarBooking,
    CarBookingStatus,
    CarContract,
    CarInvoice,
    ContractStatus,
    ExceptionKind,
    GuaranteedWindow,
    WindowException,
)
from cars.repository import contract_for, others_bookings, terms
from cars.rules import CAR, HOLD_GRACE, CarRules, Terms, period_of, plate_of
from cars.windows import inside, touches
from core.errors import Forbidden, InvalidInput
from ledger import log as ledger
from mobility import repository as fleet_repository
from parking import service as parking
from parking.policy import MINUTES_PER_DAY, WeeklyWindow


def _contract_record(contract: CarContract, *, kind: str, now: datetime) -> ledger.Record:
    """No personal identity: the car, the slot, the period and the money."""
    return ledger.Record(
        kind=kind,
        subject=f"car_contract:{contract.id}",
        at=now,
        body={
            "contract_id": contract.id,
            "car_id": contract.car_id,
            "home_slot_id": contract.home_slot_id,
            "starts_at": contract.starts_at,
            "ends_at": contract.ends_at,
            "monthly_fee_krw": contract.monthly_fee_krw,
            "status": contract.status,
        },
    )


async def create_contract(
    session: AsyncSession,
    *,
    car_id: uuid.UUID,
    primary_id: uuid.UUID,
    home_slot_id: uuid.UUID,
    monthly_fee_krw: int,
    release_credit_krw_per_hour: int,
    starts_on: date,
    ends_on: date,
    windows: Sequence[WeeklyWindow],
    rules: CarRules,
    now: datetime,
) -> CarContract:
    """A happiness-car contract from the start of `starts_on` to the end of `ends_on` (Seoul days). The car must be
    a car with no other active contract, the primary user a resident or owner, the home slot free for the whole
    contract (it is held for the car)."""
    if ends_on < starts_on:
        raise InvalidInput("the contract ends before it starts", extra={"field": "ends_on"})
    zone = ZoneInfo(rules.timezone)
    starts_at = datetime.combine(starts_on, datetime.min.time(), tzinfo=zone)
    ends_at = datetime.combine(ends_on + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    if ends_at <= now:
        raise InvalidInput("the contract would be over already", extra={"field": "ends_on"})
    car = await fleet_repository.vehicle_for_update(session, car_id)
    if car.type_code != CAR:
        raise NotACar(f"vehicle {car.label} is a {car.type_code}, not a car")
    taken = await session.scalar(
        select(CarContract.id).where(CarContract.car_id == car_id, CarContract.status == ContractStatus.ACTIVE)
    )
    if taken is not None:
        raise NotACar(f"car {car.label} already has an active contract", extra={"contract_id": str(taken)})
    primary = await get_account(session, primary_id)
    if primary.role not in (Role.RESIDENT, Role.OWNER):
        raise InvalidInput("the primary user is a resident (or an owner)", extra={"field": "primary_id"})
    home = await parking.hold_for_car(
        session,
        slot_id=home_slot_id,
        driver_id=primary_id,
        vehicle_plate=plate_of(car),
        start=max(starts_at, now),
        end=ends_at,
        now=now,
    )
    contract = CarContract(
        id=uuid.uuid4(),
        car_id=car_id,
        primary_id=primary_id,
        home_slot_id=home_slot_id,
        home_booking_id=home.id,
        monthly_fee_krw=monthly_fee_krw,
        release_credit_krw_per_hour=release_credit_krw_per_hour,
        starts_at=starts_at,
        ends_at=ends_at,
        status=ContractStatus.ACTIVE,
    )
    session.add(contract)
    await session.flush()
    session.add_all(_window_rows(contract.id, windows))
    await session.flush()
    await ledger.append(session, _contract_record(contract, kind="car_contract.active", now=now))
    return contract


def _window_rows(contract_id: uuid.UUID, windows: Sequence[WeeklyWindow]) -> list[GuaranteedWindow]:
    return [
        GuaranteedWindow(
            contract_id=contract_id,
            weekdays=list(w.weekdays),
            start_minute=w.start_minute,
            end_minute=w.end_minute,
        )
        for w in windows
    ]


def _clashes(taken: Terms, bookings: Sequence[CarBooking], rules: CarRules) -> list[dict[str, Any]]:
    """The bookings (of others) that would touch the primary user's time with `taken`'s terms."""
    clashing = []
    for booking in bookings:
        start, end = period_of(booking)
        mine = taken.guaranteed(start - rules.buffer, end + rules.buffer, rules.timezone)
        if touches(mine, start - rules.buffer, end + rules.buffer):
            clashing.append({"booking_id": str(booking.id), "start": start.isoformat(), "end": end.isoformat()})
    return clashing


async def replace_windows(
    session: AsyncSession,
    *,
    actor: Actor,
    contract_id: uuid.UUID,
    windows: Sequence[WeeklyWindow],
    rules: CarRules,
    now: datetime,
) -> Terms:
    """New guaranteed weekly windows, unless they would take time another resident has booked: 409 listing those
    bookings, and nothing changes. The primary user may narrow their windows; widening them needs the village
    enterprise's approval (an operator makes the change): time added and then released would earn release credit,
    up to the monthly fee, for time the contract never guaranteed."""
    contract = await contract_for(session, actor=actor, contract_id=contract_id, lock=True)
    current = await terms(session, contract)
    if not actor.is_operator and not _week_minutes(windows) <= _week_minutes(current.windows):
        raise WindowsNeedApproval(
            "widening your guaranteed windows needs the village enterprise's approval: an operator makes the change "
            "(narrowing them is yours to do)"
        )
    proposed = Terms(contract, list(windows), current.extras, current.releases)
    clashing = _clashes(proposed, await others_bookings(session, contract, after=now), rules)
    if clashing:
        raise WindowsConflictWithBookings(
            f"{len(clashing)} booking(s) of other residents fall in the new windows", extra={"bookings": clashing}
        )
    for row in await session.scalars(select(GuaranteedWindow).where(GuaranteedWindow.contract_id == contract.id)):
        await session.delete(row)
    session.add_all(_window_rows(contract.id, windows))
    await session.flush()
    return proposed


def _week_minutes(windows: Sequence[WeeklyWindow]) -> set[int]:
    """The minutes of the week (0 = Monday 00:00) the windows cover."""
    week = 7 * MINUTES_PER_DAY
    return {
        ((day - 1) * MINUTES_PER_DAY + minute) % week
        for window in windows
        for day in window.weekdays
        for minute in range(window.start_minute, window.end_minute)
    }


async def add_exception(
    session: AsyncSession,
    *,
    actor: Actor,
    contract_id: uuid.UUID,
    kind: ExceptionKind,
    start: datetime,
    end: datetime,
    rules: CarRules,
    now: datetime,
) -> WindowException:
    """An extra window (409 when it would take another resident's booking) or a release of the primary user's own
    time for others (it must lie within their guaranteed time, not in a booking of theirs; credited by the
    contract's rule per hour)."""
    contract = await contract_for(session, actor=actor, contract_id=contract_id, lock=True)
    if actor.id != contract.primary_id and not actor.is_operator:
        raise Forbidden("only the primary user changes their time")
    rules.policy.check_interval(start, end, now=now)
    if start < contract.starts_at or end > contract.ends_at:
        raise InvalidInput("outside the contract's period", extra={"field": "start"})
    current = await terms(session, contract)
    credit = 0
    if kind == ExceptionKind.EXTRA:
        proposed = Terms(contract, current.windows, [*current.extras, (start, end)], current.releases)
        clashing = _clashes(proposed, await others_bookings(session, contract, after=now), rules)
        if clashing:
            raise WindowsConflictWithBookings(
                f"{len(clashing)} booking(s) of other residents fall in that window", extra={"bookings": clashing}
            )
    else:
        if not inside(current.guaranteed(start, end, rules.timezone), start, end):
            raise InvalidInput("only the primary user's own guaranteed time can be released", extra={"field": "start"})
        own = await session.scalar(
            select(CarBooking.id).where(
                CarBooking.contract_id == contract.id,
                CarBooking.driver_id == contract.primary_id,
                CarBooking.status.in_(HOLDING),
                CarBooking.period.op("&&")(func.tstzrange(start, end)),
            )
        )
        if own is not None:
            raise PrimaryTimeTaken(
                "you have booked the car in that time: cancel it first", extra={"booking_id": str(own)}
            )
        credit = math.floor((end - start).total_seconds() / 3600 * contract.release_credit_krw_per_hour)
    exception = WindowException(
        contract_id=contract.id, kind=kind, period=Range(start, end, bounds="[)"), credit_krw=credit
    )
    exception.created_at = now
    session.add(exception)
    await session.flush()
    return exception


async def end_contract(session: AsyncSession, *, actor: Actor, contract_id: uuid.UUID, now: datetime) -> CarContract:
    """End it now: later bookings of the car are cancelled and released, the home slot freed."""
    contract = await contract_for(session, actor=actor, contract_id=contract_id, lock=True)
    if contract.status != ContractStatus.ACTIVE:
        raise InvalidCarBookingTransition("this contract has ended already", extra={"status": contract.status})
    out = await session.scalar(
        select(CarBooking.id).where(CarBooking.contract_id == contract.id, CarBooking.status == CarBookingStatus.ACTIVE)
    )
    if out is not None:
        raise CarNotBack(
            "the car is out on a booking: end the contract once it is back", extra={"booking_id": str(out)}
        )
    for booking in await session.scalars(
        select(CarBooking).where(CarBooking.contract_id == contract.id, CarBooking.status == CarBookingStatus.RESERVED)
    ):
        await cancel_booking(session, booking, fee=0, now=now)
    contract.status, contract.ends_at = ContractStatus.ENDED, min(contract.ends_at, max(now, contract.starts_at))
    await parking.end_car_hold(session, booking_id=contract.home_booking_id, now=now)
    await ledger.append(session, _contract_record(contract, kind="car_contract.ended", now=now))
    return contract


async def invoice(
    session: AsyncSession, *, contract_id: uuid.UUID, month: date, rules: CarRules, now: datetime
) -> CarInvoice:
    """The month's invoice (once: a second call returns the first): the fee, prorated to the days of the month under
    contract, less the credits for time released that month, charged to the primary user's wallet and split like
    car fares; on the ledger."""
    contract = await session.get(CarContract, contract_id, with_for_update=True)
    if contract is None:
        raise ContractNotFound(f"car contract {contract_id} not found")
    label = month.strftime("%Y-%m")
    existing = await session.scalar(
        select(CarInvoice).where(CarInvoice.contract_id == contract.id, CarInvoice.month == label)
    )
    if existing is not None:
        return existing
    start, end = month_bounds(month, rules.timezone)
    if end > now:
        raise InvalidInput("a month is invoiced once it is over", extra={"field": "month"})
    covered = min(end, contract.ends_at) - max(start, contract.starts_at)
    if covered <= timedelta(0):
        raise InvalidInput("the contract did not run that month", extra={"field": "month"})
    fee = contract.monthly_fee_krw * round(covered.total_seconds()) // round((end - start).total_seconds())
    credits = await session.scalar(
        select(func.coalesce(func.sum(WindowException.credit_krw), 0)).where(
            WindowException.contract_id == contract.id,
            WindowException.kind == ExceptionKind.RELEASED,
            func.lower(WindowException.period) >= start,
            func.lower(WindowException.period) < end,
        )
    )
    credit = min(fee, int(credits or 0))
    bill = CarInvoice(contract_id=contract.id, month=label, fee_krw=fee, credit_krw=credit, amount_krw=fee - credit)
    bill.created_at = now
    session.add(bill)
    await session.flush()
    if bill.amount_krw:
        wallet = Wallet()
        hold = await wallet.hold(
            session,
            driver_id=contract.primary_id,
            amount=bill.amount_krw,
            booking_id=None,
            expires_at=now + HOLD_GRACE,
            now=now,
        )
        await wallet.capture(
            session, hold_id=hold.id, amount=bill.amount_krw, shares=await shares(session, contract.car_id), now=now
        )
    await ledger.append(
        session,
        ledger.Record(
            kind="car_contract.invoiced",
            subject=f"car_contract:{contract.id}",
            at=now,
            body={"contract_id": contract.id, "month": label, "fee_krw": fee, "credit_krw": credit},
        ),
    )
    return bill
