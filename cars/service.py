"""Happiness cars: contracts, the primary user's guaranteed time, bookings of the idle time, trips and their fares,
condition reports, rebooking after a late return, monthly invoices.

The model, for a newcomer:
- A contract gives a car to a primary user: their guaranteed weekly windows (Seoul time), one-off extra windows,
  and spans of their windows they release for a day (credited by the contract's rule, `release_credit_krw_per_hour`).
  The car's home slot is held for it for the whole contract by a parking booking, so the slot is never double-booked.
- Everything else in the contract is shareable: any resident books it for [start, end) if it keeps the buffer
  (`car_buffer_minutes`) clear of the primary user's time on both sides and of every other booking after it (the
  `blocked` range and PostgreSQL's exclusion constraint `no_double_car_booking`). The primary user books too: inside
  their own time (its time is covered by the monthly fee), or in shareable time like anyone.
- Money: the quote (time by the zone's car tariff and band, plus `car_estimate_km` km) is held at booking; at return
  the fare is the booked time (and the late time), the km driven, and the late, low-battery and cleaning fees, as
  lines that add up; it is captured, split by the car settlement rule, and written to the ledger with the trip.
- The car's MDS life is the fleet's: pick-up is `trip_start`, return `trip_end`, the trip is an MDS trip.
- A car late enough to threaten the next booking opens a rebooking offer to that booking's driver (another free car
  for the same time, or a full refund) and an inspection task for the operators.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Role
from accounts.service import get_account
from billing.statements import month_bounds
from billing.wallet import Wallet
from cars import windows as time_of
from cars.errors import (
    CarBookingNotFound,
    CarNotBack,
    CarNotHome,
    CarUnavailable,
    ContractNotFound,
    InvalidCarBookingTransition,
    NotACar,
    PrimaryTimeTaken,
    WindowsConflictWithBookings,
)
from cars.models import (
    HOLDING,
    CarBooking,
    CarBookingStatus,
    CarContract,
    CarInvoice,
    ConditionReport,
    ContractStatus,
    ExceptionKind,
    GuaranteedWindow,
    OfferStatus,
    RebookingOffer,
    Stage,
    WindowException,
)
from core.db import EXCLUSION_VIOLATION
from core.errors import Forbidden, InvalidInput
from core.outbox import notify
from core.settings import Settings
from geo.spatial import geography_point, latitude, longitude
from ledger import log as ledger
from mobility import repository as fleet_repository
from mobility import service as fleet
from mobility.models import Trip, TripStatus, Vehicle
from mobility.states import VehicleState
from ops.models import Task, TaskKind, TaskState
from parking import service as parking
from parking.models import Slot
from parking.policy import BookingPolicy, WeeklyWindow

CAR = "car"
HOLD_GRACE = timedelta(days=2)  # a car hold outlives the booking by this: a late return is still captured from it


@dataclass(frozen=True, slots=True)
class CarRules:
    buffer: timedelta
    per_km_krw: int
    estimate_km: int
    late_fee_krw_per_10_min: int
    low_battery_pct: int
    low_battery_fee_krw: int
    cleaning_fee_krw: int
    return_radius_m: int
    contact_lost: timedelta  # a position older than this is no evidence of where the car is
    policy: BookingPolicy

    @property
    def timezone(self) -> str:
        return self.policy.timezone

    @classmethod
    def from_settings(cls, settings: Settings) -> CarRules:
        return cls(
            buffer=timedelta(minutes=settings.car_buffer_minutes),
            per_km_krw=settings.car_per_km_krw,
            estimate_km=settings.car_estimate_km,
            late_fee_krw_per_10_min=settings.car_late_fee_krw_per_10_min,
            low_battery_pct=settings.car_low_battery_pct,
            low_battery_fee_krw=settings.car_low_battery_fee_krw,
            cleaning_fee_krw=settings.car_cleaning_fee_krw,
            return_radius_m=settings.car_return_radius_m,
            contact_lost=timedelta(minutes=settings.comms_lost_minutes),
            policy=BookingPolicy.from_settings(settings),
        )


# ---------------------------------------------------------------- contracts


def _windows(rows: Sequence[GuaranteedWindow]) -> list[WeeklyWindow]:
    return [WeeklyWindow(tuple(row.weekdays), row.start_minute, row.end_minute) for row in rows]


@dataclass(frozen=True, slots=True)
class Terms:
    """A contract with what defines the primary user's time."""

    contract: CarContract
    windows: list[WeeklyWindow]
    extras: list[time_of.Interval]
    releases: list[time_of.Interval]

    def guaranteed(self, start: datetime, end: datetime, timezone: str) -> list[time_of.Interval]:
        return time_of.guaranteed(self.windows, self.extras, self.releases, start, end, timezone)


async def exceptions_of(session: AsyncSession, contract_id: uuid.UUID) -> list[WindowException]:
    query = select(WindowException).where(WindowException.contract_id == contract_id)
    return list(await session.scalars(query.order_by(func.lower(WindowException.period))))


async def terms(session: AsyncSession, contract: CarContract) -> Terms:
    rows = await session.scalars(select(GuaranteedWindow).where(GuaranteedWindow.contract_id == contract.id))
    exceptions = await exceptions_of(session, contract.id)

    def spans(kind: ExceptionKind) -> list[time_of.Interval]:
        out = []
        for e in exceptions:
            if e.kind == kind:
                assert e.period.lower is not None and e.period.upper is not None
                out.append((e.period.lower, e.period.upper))
        return out

    return Terms(contract, _windows(list(rows)), spans(ExceptionKind.EXTRA), spans(ExceptionKind.RELEASED))


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


def plate_of(car: Vehicle) -> str:
    """What the home slot's booking names the car by: its label as a plate (letters and digits, at most 12)."""
    return (re.sub(r"[^0-9A-Za-z]", "", car.label).upper() or "CAR")[-12:].rjust(2, "0")


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


async def contract_for(
    session: AsyncSession, *, actor: Actor, contract_id: uuid.UUID, lock: bool = False
) -> CarContract:
    """The contract, for its primary user and the village enterprise (404 for anyone else)."""
    found = await session.get(CarContract, contract_id, with_for_update=lock, populate_existing=lock)
    if found is None or not (actor.is_operator or found.primary_id == actor.id):
        raise ContractNotFound(f"car contract {contract_id} not found")
    return found


async def contracts(session: AsyncSession, *, actor: Actor, limit: int, offset: int) -> Sequence[CarContract]:
    query = select(CarContract).order_by(CarContract.created_at.desc(), CarContract.id)
    if not actor.is_operator:
        query = query.where(CarContract.primary_id == actor.id)
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def _others_bookings(session: AsyncSession, contract: CarContract, *, after: datetime) -> list[CarBooking]:
    """Holding bookings of the car by anyone but the primary user, not over yet."""
    return list(
        await session.scalars(
            select(CarBooking)
            .where(
                CarBooking.contract_id == contract.id,
                CarBooking.status.in_(HOLDING),
                CarBooking.driver_id != contract.primary_id,
                func.upper(CarBooking.blocked) > after,
            )
            .order_by(func.lower(CarBooking.period))
        )
    )


def _clashes(taken: Terms, bookings: Sequence[CarBooking], rules: CarRules) -> list[dict[str, Any]]:
    """The bookings (of others) that would touch the primary user's time with `taken`'s terms."""
    clashing = []
    for booking in bookings:
        start, end = period_of(booking)
        mine = taken.guaranteed(start - rules.buffer, end + rules.buffer, rules.timezone)
        if time_of.touches(mine, start - rules.buffer, end + rules.buffer):
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
    bookings, and nothing changes."""
    contract = await contract_for(session, actor=actor, contract_id=contract_id, lock=True)
    current = await terms(session, contract)
    proposed = Terms(contract, list(windows), current.extras, current.releases)
    clashing = _clashes(proposed, await _others_bookings(session, contract, after=now), rules)
    if clashing:
        raise WindowsConflictWithBookings(
            f"{len(clashing)} booking(s) of other residents fall in the new windows", extra={"bookings": clashing}
        )
    for row in await session.scalars(select(GuaranteedWindow).where(GuaranteedWindow.contract_id == contract.id)):
        await session.delete(row)
    session.add_all(_window_rows(contract.id, windows))
    await session.flush()
    return proposed


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
        clashing = _clashes(proposed, await _others_bookings(session, contract, after=now), rules)
        if clashing:
            raise WindowsConflictWithBookings(
                f"{len(clashing)} booking(s) of other residents fall in that window", extra={"bookings": clashing}
            )
    else:
        if not time_of.inside(current.guaranteed(start, end, rules.timezone), start, end):
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
        await _cancel(session, booking, fee=0, now=now)
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
            session, hold_id=hold.id, amount=bill.amount_krw, shares=await _shares(session, contract.car_id), now=now
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


# ---------------------------------------------------------------- bookings


def period_of(booking: CarBooking) -> tuple[datetime, datetime]:
    assert booking.period.lower is not None and booking.period.upper is not None
    return booking.period.lower, booking.period.upper


async def _shares(session: AsyncSession, car_id: uuid.UUID) -> dict[str, int]:
    car = await session.get(Vehicle, car_id)
    assert car is not None
    return await fleet.ride_shares(session, type_code=CAR, provider_row=await fleet.provider(session, car.provider_id))


async def _home(session: AsyncSession, contract: CarContract) -> tuple[float, float, uuid.UUID]:
    lon, lat, zone_id = (
        await session.execute(
            select(longitude(Slot.location), latitude(Slot.location), Slot.zone_id).where(
                Slot.id == contract.home_slot_id
            )
        )
    ).one()
    return float(lon), float(lat), zone_id


async def price(
    session: AsyncSession,
    *,
    contract: CarContract,
    start: datetime,
    end: datetime,
    primary_time: bool,
    km: float,
    fees: Sequence[tuple[str, int]],
    rules: CarRules,
) -> list[dict[str, Any]]:
    """Fare lines: the time by the home zone's car tariff and band (none in the primary user's own time), the km,
    then the fees; integer KRW that add up to the fare."""
    _, _, zone_id = await _home(session, contract)
    if primary_time:
        lines: list[dict[str, Any]] = [{"kind": "time", "covered_by": "contract", "amount_krw": 0}]
    else:
        kind = await fleet.vehicle_type(session, CAR)
        lines = [
            line
            for line in await fleet.fare_lines(
                session, zone_id=zone_id, vehicle_type=kind, start=start, end=end, timezone=rules.timezone
            )
            if line["kind"] != "unlock" or line["amount_krw"]
        ]
    lines.append(
        {
            "kind": "distance",
            "km": round(km, 1),
            "unit_price_krw": rules.per_km_krw,
            "amount_krw": round(km * rules.per_km_krw),
        }
    )
    lines += [{"kind": kind, "amount_krw": amount} for kind, amount in fees]
    return lines


async def _active_contract(session: AsyncSession, car_id: uuid.UUID) -> CarContract:
    contract = await session.scalar(
        select(CarContract)
        .where(CarContract.car_id == car_id, CarContract.status == ContractStatus.ACTIVE)
        .with_for_update()
    )
    if contract is None:
        raise CarUnavailable("this car is not shared at the moment (no active contract)")
    return contract


def _shareable(terms_: Terms, *, driver: Actor, start: datetime, end: datetime, rules: CarRules) -> bool:
    """Whether [start, end) is the primary user's own time for them (True), or raise unless it keeps clear of it."""
    contract = terms_.contract
    if start < contract.starts_at or end > contract.ends_at:
        raise CarUnavailable("the car is not under contract for all of that time")
    around = terms_.guaranteed(start - rules.buffer, end + rules.buffer, rules.timezone)
    if driver.id == contract.primary_id and time_of.inside(around, start, end):
        return True
    if time_of.touches(around, start - rules.buffer, end + rules.buffer):
        raise PrimaryTimeTaken(
            "that time is (or borders, within the buffer) the primary user's guaranteed time",
            extra={
                "guaranteed": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in around],
                "buffer_minutes": int(rules.buffer.total_seconds() // 60),
            },
        )
    return False


def _booking_record(booking: CarBooking, *, now: datetime) -> ledger.Record:
    start, end = period_of(booking)
    return ledger.Record(
        kind=f"car_booking.{booking.status}",
        subject=f"car_booking:{booking.id}",
        at=now,
        body={"booking_id": booking.id, "car_id": booking.car_id, "start": start, "end": end, "status": booking.status},
    )


async def book(
    session: AsyncSession,
    *,
    driver: Actor,
    car_id: uuid.UUID,
    start: datetime,
    end: datetime,
    rules: CarRules,
    now: datetime,
) -> CarBooking:
    """Book the car for [start, end): in shareable time (or the primary user's own), clear of other bookings and
    their buffers (the exclusion constraint decides races: one booking, the others 409 `car_unavailable`); the
    quote is held on the driver's wallet."""
    rules.policy.check_interval(start, end, now=now)
    contract = await _active_contract(session, car_id)
    own = _shareable(await terms(session, contract), driver=driver, start=start, end=end, rules=rules)
    lines = await price(
        session,
        contract=contract,
        start=start,
        end=end,
        primary_time=own,
        km=rules.estimate_km,
        fees=(),
        rules=rules,
    )
    quote = sum(line["amount_krw"] for line in lines)
    booking = CarBooking(
        id=uuid.uuid4(),
        car_id=car_id,
        contract_id=contract.id,
        driver_id=driver.id,
        period=Range(start, end, bounds="[)"),
        blocked=Range(start, end + rules.buffer, bounds="[)"),
        status=CarBookingStatus.RESERVED,
        primary_time=own,
        quote_krw=quote,
        quote_lines=lines,
        status_changed_at=now,
    )
    booking.created_at = now
    try:
        async with session.begin_nested():
            session.add(booking)
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise CarUnavailable(
                "the car is booked for part of that time (with its buffer)", extra={"car_id": str(car_id)}
            ) from error
        raise
    if quote:
        hold = await Wallet().hold(
            session, driver_id=driver.id, amount=quote, booking_id=None, expires_at=end + HOLD_GRACE, now=now
        )
        booking.hold_id = hold.id
    await ledger.append(session, _booking_record(booking, now=now))
    return booking


async def booking_for(session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, lock: bool = False) -> CarBooking:
    found = await session.get(CarBooking, booking_id, with_for_update=lock, populate_existing=lock)
    if found is None or not (actor.is_operator or found.driver_id == actor.id):
        raise CarBookingNotFound(f"car booking {booking_id} not found")
    return found


async def bookings(
    session: AsyncSession, *, actor: Actor, car_id: uuid.UUID | None, limit: int, offset: int
) -> Sequence[CarBooking]:
    query = select(CarBooking).order_by(func.lower(CarBooking.period).desc(), CarBooking.id)
    if not actor.is_operator:
        query = query.where(CarBooking.driver_id == actor.id)
    if car_id is not None:
        query = query.where(CarBooking.car_id == car_id)
    return (await session.scalars(query.limit(limit).offset(offset))).all()


def _refuse(booking: CarBooking, action: str, allowed: tuple[CarBookingStatus, ...]) -> None:
    if booking.status not in allowed:
        raise InvalidCarBookingTransition(
            f"a {booking.status} car booking cannot {action}", extra={"status": booking.status}
        )


def _move(booking: CarBooking, status: CarBookingStatus, *, now: datetime) -> None:
    booking.status, booking.status_changed_at = status, now


async def _cancel(
    session: AsyncSession,
    booking: CarBooking,
    *,
    fee: int,
    now: datetime,
    status: CarBookingStatus = CarBookingStatus.CANCELLED,
) -> None:
    """Close a reserved booking (cancelled, or a no-show) with `fee` captured and the rest of its hold released."""
    wallet = Wallet()
    if booking.hold_id is not None:
        if fee:
            await wallet.capture(
                session, hold_id=booking.hold_id, amount=fee, shares=await _shares(session, booking.car_id), now=now
            )
        await wallet.release(session, hold_id=booking.hold_id, now=now)
    booking.charged_krw = fee
    kind = "no_show_fee" if status == CarBookingStatus.NO_SHOW else "cancellation_fee"
    booking.charge_lines = [{"kind": kind, "amount_krw": fee}] if fee else []
    booking.cancelled_at = now
    _move(booking, status, now=now)
    await session.flush()
    await ledger.append(session, _booking_record(booking, now=now))


async def mark_no_shows(session: AsyncSession, *, rules: CarRules, now: datetime) -> int:
    """Bookings not picked up by `no_show_grace` after their start: `no_show`, the no-show share of the quote
    charged, the car free again (the worker, every minute)."""
    missed = await session.scalars(
        select(CarBooking)
        .where(
            CarBooking.status == CarBookingStatus.RESERVED,
            func.lower(CarBooking.period) < now - rules.policy.no_show_grace,
        )
        .with_for_update(skip_locked=True)
    )
    count = 0
    for booking in list(missed):
        fee = booking.quote_krw * rules.policy.charges.no_show_fee_bp // 10_000
        await _cancel(session, booking, fee=fee, now=now, status=CarBookingStatus.NO_SHOW)
        count += 1
    await session.flush()
    return count


async def cancel(
    session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, rules: CarRules, now: datetime
) -> CarBooking:
    """Free until `cancellation_free_minutes` before the start, then the late-cancellation share of the quote."""
    booking = await booking_for(session, actor=actor, booking_id=booking_id, lock=True)
    _refuse(booking, "be cancelled", (CarBookingStatus.RESERVED,))
    start, _ = period_of(booking)
    late = start - now < rules.policy.charges.cancellation_free_before
    fee = booking.quote_krw * rules.policy.charges.cancellation_fee_bp // 10_000 if late else 0
    await _cancel(session, booking, fee=fee, now=now)
    return booking


async def _report(
    session: AsyncSession,
    booking: CarBooking,
    *,
    stage: Stage,
    reporter: Actor,
    checklist: dict[str, bool],
    note: str,
    photos: Sequence[str],
    now: datetime,
) -> ConditionReport:
    report = ConditionReport(
        booking_id=booking.id,
        stage=stage,
        reporter_id=reporter.id,
        checklist=dict(checklist),
        note=note,
        photos=list(photos),
        needs_attention=not all(checklist.values()) or bool(note.strip()),
    )
    report.created_at = now
    session.add(report)
    await session.flush()
    return report


async def pick_up(
    session: AsyncSession,
    *,
    actor: Actor,
    booking_id: uuid.UUID,
    checklist: dict[str, bool],
    note: str,
    photos: Sequence[str],
    rules: CarRules,
    now: datetime,
) -> CarBooking:
    """The driver takes the car at its home slot: from `early_check_in` before the start until `no_show_grace`
    after it; the car must be back from the booking before (409 `car_not_back`). The trip starts (MDS
    `trip_start`) and the condition found is reported."""
    booking = await booking_for(session, actor=actor, booking_id=booking_id, lock=True)
    _refuse(booking, "be picked up", (CarBookingStatus.RESERVED,))
    start, _ = period_of(booking)
    if now < start - rules.policy.early_check_in:
        raise InvalidCarBookingTransition(
            f"pick-up opens at {(start - rules.policy.early_check_in).isoformat()}", extra={"status": booking.status}
        )
    if now > start + rules.policy.no_show_grace:
        raise InvalidCarBookingTransition("too late: the booking was not picked up", extra={"status": "no_show"})
    car = await fleet_repository.vehicle_for_update(session, booking.car_id)
    if car.state != VehicleState.AVAILABLE:
        raise CarNotBack(f"car {car.label} is not back yet ({car.state})", extra={"state": car.state})
    contract = await session.get(CarContract, booking.contract_id)
    assert contract is not None
    lon, lat, zone_id = await _home(session, contract)
    trip = await fleet.start_trip(
        session, car, rider_id=booking.driver_id, zone_id=zone_id, lon=lon, lat=lat, hold_id=booking.hold_id, now=now
    )
    booking.trip_id, booking.picked_up_at = trip.id, now
    booking.odometer_start_m, booking.battery_start_pct = car.odometer_m, car.battery_pct
    _move(booking, CarBookingStatus.ACTIVE, now=now)
    await _report(
        session, booking, stage=Stage.PICK_UP, reporter=actor, checklist=checklist, note=note, photos=photos, now=now
    )
    await ledger.append(session, _booking_record(booking, now=now))
    return booking


async def return_car(
    session: AsyncSession,
    *,
    actor: Actor,
    booking_id: uuid.UUID,
    checklist: dict[str, bool],
    note: str,
    photos: Sequence[str],
    odometer_km: float | None,
    battery_pct: int | None,
    rules: CarRules,
    now: datetime,
) -> CarBooking:
    """The car is back at its home slot: its last position (fresh telemetry) within `return_radius_m` of it, or,
    with the device silent, the operator enters the odometer and battery. The fare is the booked time (and the late
    time), the km, and the fees; captured from the hold, split, and the trip completed (MDS `trip_end`), with the
    condition left reported. A return late enough to threaten the next booking opens its rebooking offer."""
    booking = await booking_for(session, actor=actor, booking_id=booking_id, lock=True)
    _refuse(booking, "be returned", (CarBookingStatus.ACTIVE,))
    if (odometer_km is not None or battery_pct is not None) and not actor.is_operator:
        raise Forbidden("only the village enterprise's operators enter the odometer and battery by hand")
    car = await fleet_repository.vehicle_for_update(session, booking.car_id)
    contract = await session.get(CarContract, booking.contract_id)
    assert contract is not None and booking.trip_id is not None
    home_lon, home_lat, _ = await _home(session, contract)
    fresh = car.last_fix_at is not None and now - car.last_fix_at <= rules.contact_lost
    if odometer_km is None:
        where = await fleet_repository.position(session, car)
        if not fresh or where is None:
            raise CarNotHome(
                "the car's position is not known now: an operator returns it with the odometer and battery",
                extra={"last_fix_at": car.last_fix_at.isoformat() if car.last_fix_at else None},
            )
        away = await session.scalar(
            select(func.ST_Distance(geography_point(*where), geography_point(home_lon, home_lat)))
        )
        if float(away or 0) > rules.return_radius_m:
            raise CarNotHome(
                f"the car is {float(away or 0):.0f} m from its home slot: bring it back there",
                extra={"distance_m": round(float(away or 0)), "home": {"lon": home_lon, "lat": home_lat}},
            )
        _, driven_m = await fleet_repository.route_of(
            session, vehicle_id=car.id, start=booking.picked_up_at or now, end=now
        )
        car.odometer_m = (booking.odometer_start_m or 0) + driven_m
    else:
        driven_m = max(0, round(odometer_km * 1000) - (booking.odometer_start_m or 0))
        car.odometer_m = (booking.odometer_start_m or 0) + driven_m
    if battery_pct is not None:
        car.battery_pct = battery_pct
    start, end = period_of(booking)
    fees: list[tuple[str, int]] = []
    late = now - end
    if late > timedelta(0):
        fees.append(("late_return_fee", math.ceil(late / timedelta(minutes=10)) * rules.late_fee_krw_per_10_min))
    if car.battery_pct < rules.low_battery_pct:
        fees.append(("low_battery_fee", rules.low_battery_fee_krw))
    if checklist.get("clean") is False:
        fees.append(("cleaning_fee", rules.cleaning_fee_krw))
    lines = await price(
        session,
        contract=contract,
        start=start,
        end=max(end, now),
        primary_time=booking.primary_time,
        km=driven_m / 1000,
        fees=fees,
        rules=rules,
    )
    fare = sum(line["amount_krw"] for line in lines)
    wallet = Wallet()
    if fare:
        if booking.hold_id is None:  # the primary user's own time with nothing held: charged from the wallet
            hold = await wallet.hold(
                session, driver_id=booking.driver_id, amount=fare, booking_id=None, expires_at=now + HOLD_GRACE, now=now
            )
            booking.hold_id = hold.id
        await wallet.capture(
            session, hold_id=booking.hold_id, amount=fare, shares=await _shares(session, car.id), now=now
        )
    if booking.hold_id is not None:
        await wallet.release(session, hold_id=booking.hold_id, now=now)
    trip = await session.get(Trip, booking.trip_id, with_for_update=True)
    assert trip is not None
    trip.status, trip.ended_at, trip.end_lon, trip.end_lat = TripStatus.COMPLETED, now, home_lon, home_lat
    trip.distance_m, trip.fare_krw, trip.fare_lines, trip.hold_id = driven_m, fare, lines, booking.hold_id
    car.public_id = uuid.uuid4()
    await fleet.record(session, car, "trip_end", now=now, trip_id=trip.id, lon=home_lon, lat=home_lat)
    booking.returned_at, booking.odometer_end_m, booking.battery_end_pct = now, car.odometer_m, car.battery_pct
    booking.charged_krw, booking.charge_lines = fare, lines
    _move(booking, CarBookingStatus.COMPLETED, now=now)
    await _report(
        session, booking, stage=Stage.RETURN, reporter=actor, checklist=checklist, note=note, photos=photos, now=now
    )
    await ledger.append(session, _booking_record(booking, now=now))
    await ledger.append(session, fleet.trip_record(trip, kind="trip.completed", now=now))
    await _close_offers(session, car_id=car.id, ready=now + rules.buffer, now=now)
    return booking


# ---------------------------------------------------------------- late cars and rebooking


async def check_late(session: AsyncSession, *, rules: CarRules, now: datetime) -> int:
    """Cars still out after their booking's end whose next booking starts within the buffer from now: that
    booking's driver is offered another car free for the whole booking (or a refund), through a notification, and
    the operators get an inspection task at the car's home slot. Once per threatened booking; the worker runs it
    every minute. The number of offers opened."""
    opened = 0
    late = await session.scalars(
        select(CarBooking).where(CarBooking.status == CarBookingStatus.ACTIVE, func.upper(CarBooking.period) < now)
    )
    for out in list(late):
        following = await session.scalar(
            select(CarBooking)
            .where(
                CarBooking.car_id == out.car_id,
                CarBooking.status == CarBookingStatus.RESERVED,
                func.lower(CarBooking.period) <= now + rules.buffer,
            )
            .order_by(func.lower(CarBooking.period))
            .limit(1)
        )
        if following is None:
            continue
        if await session.scalar(select(RebookingOffer.id).where(RebookingOffer.booking_id == following.id)):
            continue
        await _open_offer(session, late=out, threatened=following, rules=rules, now=now)
        opened += 1
    return opened


async def _open_offer(
    session: AsyncSession, *, late: CarBooking, threatened: CarBooking, rules: CarRules, now: datetime
) -> RebookingOffer:
    contract = await session.get(CarContract, late.contract_id)
    assert contract is not None
    lon, lat, _ = await _home(session, contract)
    start, end = period_of(threatened)
    alternative = None
    for candidate in await free_cars(session, lon=lon, lat=lat, radius_m=1500, start=start, end=end, rules=rules):
        if candidate.car.id != threatened.car_id:
            alternative = candidate.car.id
            break
    task = Task(
        kind=TaskKind.INSPECTION,
        state=TaskState.UNASSIGNED,
        origin=geography_point(lon, lat),
        origin_from=now,
        origin_by=start,
        vehicle_id=late.car_id,
        state_changed_at=now,
    )
    session.add(task)
    await session.flush()
    offer = RebookingOffer(
        booking_id=threatened.id,
        late_booking_id=late.id,
        alternative_car_id=alternative,
        task_id=task.id,
        status=OfferStatus.OPEN,
        status_changed_at=now,
    )
    offer.created_at = now
    session.add(offer)
    await session.flush()
    notify(
        session,
        kind="car_rebooking_offer",
        audience=f"account:{threatened.driver_id}",
        subject="The car you booked is running late: take another car, or a full refund",
        body={
            "offer_id": str(offer.id),
            "booking_id": str(threatened.id),
            "alternative_car_id": str(alternative) if alternative else None,
            "start": start.isoformat(),
        },
        now=now,
    )
    notify(
        session,
        kind="car_late",
        audience=Role.OPERATOR,
        subject="A happiness car is late and the next booking is threatened",
        body={"car_id": str(late.car_id), "late_booking_id": str(late.id), "task_id": str(task.id)},
        now=now,
    )
    return offer


async def offer_for(session: AsyncSession, *, actor: Actor, offer_id: uuid.UUID) -> tuple[RebookingOffer, CarBooking]:
    offer = await session.get(RebookingOffer, offer_id, with_for_update=True)
    booking = await session.get(CarBooking, offer.booking_id, with_for_update=True) if offer else None
    if offer is None or booking is None or not (actor.is_operator or booking.driver_id == actor.id):
        raise CarBookingNotFound(f"rebooking offer {offer_id} not found")
    return offer, booking


async def offers(session: AsyncSession, *, actor: Actor) -> Sequence[tuple[RebookingOffer, CarBooking]]:
    query = (
        select(RebookingOffer, CarBooking)
        .join(CarBooking, CarBooking.id == RebookingOffer.booking_id)
        .order_by(RebookingOffer.created_at.desc())
    )
    if not actor.is_operator:
        query = query.where(CarBooking.driver_id == actor.id)
    return [(o, b) for o, b in await session.execute(query.limit(100))]


async def settle_offer(
    session: AsyncSession, *, actor: Actor, offer_id: uuid.UUID, accept: bool, rules: CarRules, now: datetime
) -> tuple[RebookingOffer, CarBooking]:
    """The driver takes the other car (the booking moves to it, re-quoted and held again) or the refund (the
    booking is cancelled free of any fee)."""
    offer, booking = await offer_for(session, actor=actor, offer_id=offer_id)
    if offer.status != OfferStatus.OPEN:
        raise InvalidCarBookingTransition(f"this offer is {offer.status}", extra={"status": offer.status})
    _refuse(booking, "be rebooked", (CarBookingStatus.RESERVED,))
    await _cancel(session, booking, fee=0, now=now)
    result = booking
    if accept:
        if offer.alternative_car_id is None:
            raise CarUnavailable("no other car was free for your booking: take the refund")
        start, end = period_of(booking)
        driver = Actor(booking.driver_id, Role.RESIDENT)
        result = await book(
            session,
            driver=driver,
            car_id=offer.alternative_car_id,
            start=max(start, now),
            end=end,
            rules=rules,
            now=now,
        )
    offer.status = OfferStatus.ACCEPTED if accept else OfferStatus.REFUNDED
    offer.status_changed_at = now
    await session.flush()
    return offer, result


async def _close_offers(session: AsyncSession, *, car_id: uuid.UUID, ready: datetime, now: datetime) -> None:
    """The late car is back and `ready` after its buffer: offers nobody answered for bookings starting from then on
    are closed (those bookings go on with it); an offer for a booking the car is not ready for stays open."""
    threatened = select(CarBooking.id).where(CarBooking.car_id == car_id, func.lower(CarBooking.period) >= ready)
    for offer in await session.scalars(
        select(RebookingOffer).where(
            RebookingOffer.status == OfferStatus.OPEN, RebookingOffer.booking_id.in_(threatened)
        )
    ):
        offer.status, offer.status_changed_at = OfferStatus.CLOSED, now


# ---------------------------------------------------------------- search


@dataclass(frozen=True, slots=True)
class FreeCar:
    car: Vehicle
    contract: CarContract
    lon: float
    lat: float
    distance_m: float
    quote_krw: int


async def free_cars(
    session: AsyncSession,
    *,
    lon: float,
    lat: float,
    radius_m: float,
    start: datetime,
    end: datetime,
    rules: CarRules,
    driver: Actor | None = None,
) -> list[FreeCar]:
    """Cars under contract whose home slot is within `radius_m`, free for [start, end) with the buffer and clear of
    their primary user's time (for `driver`), nearest first, with the quote."""
    point = geography_point(lon, lat)
    rows = await session.execute(
        select(CarContract, Vehicle, func.ST_Distance(Slot.location, point))
        .join(Vehicle, Vehicle.id == CarContract.car_id)
        .join(Slot, Slot.id == CarContract.home_slot_id)
        .where(CarContract.status == ContractStatus.ACTIVE, func.ST_DWithin(Slot.location, point, radius_m))
        .order_by(func.ST_Distance(Slot.location, point))
    )
    found = []
    for contract, car, distance in rows:
        booked = await session.scalar(
            select(CarBooking.id).where(
                CarBooking.car_id == car.id,
                CarBooking.status.in_(HOLDING),
                CarBooking.blocked.op("&&")(func.tstzrange(start, end + rules.buffer)),
            )
        )
        if booked is not None:
            continue
        try:
            own = _shareable(
                await terms(session, contract),
                driver=driver or Actor(uuid.UUID(int=0), Role.RESIDENT),
                start=start,
                end=end,
                rules=rules,
            )
        except (PrimaryTimeTaken, CarUnavailable):
            continue
        lines = await price(
            session,
            contract=contract,
            start=start,
            end=end,
            primary_time=own,
            km=rules.estimate_km,
            fees=(),
            rules=rules,
        )
        home_lon, home_lat, _ = await _home(session, contract)
        found.append(
            FreeCar(car, contract, home_lon, home_lat, float(distance), sum(line["amount_krw"] for line in lines))
        )
    return found


# ---------------------------------------------------------------- condition reports


async def condition_reports(
    session: AsyncSession, *, needs_attention: bool | None, handled: bool | None, limit: int, offset: int
) -> Sequence[ConditionReport]:
    query = select(ConditionReport).order_by(ConditionReport.created_at.desc(), ConditionReport.id)
    if needs_attention is not None:
        query = query.where(ConditionReport.needs_attention.is_(needs_attention))
    if handled is not None:
        query = query.where(
            ConditionReport.handled_at.is_not(None) if handled else ConditionReport.handled_at.is_(None)
        )
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def handle_report(session: AsyncSession, *, actor: Actor, report_id: uuid.UUID, now: datetime) -> ConditionReport:
    report = await session.get(ConditionReport, report_id, with_for_update=True)
    if report is None:
        raise CarBookingNotFound(f"condition report {report_id} not found")
    report.handled_at, report.handled_by = now, actor.id
    await session.flush()
    return report
