"""Use cases of shared-slot inventory and bookings. Services take the session, may flush, never commit."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Role
from accounts.service import get_account
from billing import charges as charge_rules
from billing import mileage
from billing import service as billing
from billing.pricing import NoTariff
from core.db import EXCLUSION_VIOLATION
from core.errors import Forbidden, InvalidInput
from geo.errors import OutsideServiceArea
from geo.models import Zone
from geo.repository import zone_containing
from geo.spatial import geography_point
from ledger import log as ledger
from parking import repository
from parking.errors import (
    BookingNotFound,
    InvalidTransition,
    LotNotFound,
    OutsideSharingWindow,
    SharingConflict,
    SharingExceptionNotFound,
    SlotCodeTaken,
    SlotInactive,
    SlotNotFound,
    SlotUnavailable,
)
from parking.models import (
    HOLDING_STATUSES,
    LOT_KINDS,
    Booking,
    BookingStatus,
    ExceptionKind,
    Lot,
    SharingException,
    SharingRule,
    Slot,
    SlotKind,
    SlotSize,
)
from parking.policy import BookingPolicy, WeeklyWindow, normalize_plate
from parking.repository import BookingRow, SlotFilters, SlotMatch, SlotView

# ---------------------------------------------------------------- permissions (object level)


def can_manage_slot(actor: Actor, slot: Slot | SlotView) -> bool:
    """The owner, village enterprise staff for slots entrusted to it, or an admin."""
    if actor.role == Role.ADMIN or slot.owner_id == actor.id:
        return True
    return actor.role == Role.OPERATOR and slot.operator_id is not None


def can_read_booking(actor: Actor, row: BookingRow) -> bool:
    if actor.role in (Role.OPERATOR, Role.ADMIN, Role.CITY):
        return True
    return row.booking.driver_id == actor.id or row.slot_owner_id == actor.id


def sees_driver_details(actor: Actor, row: BookingRow) -> bool:
    """Only the driver and staff see who booked; slot owners and the city see the booking without identity."""
    return actor.is_operator or row.booking.driver_id == actor.id


# ---------------------------------------------------------------- lots and slots


async def _require_accounts(session: AsyncSession, *account_ids: uuid.UUID | None) -> None:
    for account_id in account_ids:
        if account_id is not None:
            await get_account(session, account_id)


async def _zone_at(session: AsyncSession, *, lon: float, lat: float) -> Zone:
    zone = await zone_containing(session, lon=lon, lat=lat)
    if zone is None:
        raise OutsideServiceArea(f"({lat}, {lon}) is outside every service zone")
    return zone


async def create_lot(
    session: AsyncSession,
    *,
    name: str,
    kind: SlotKind,
    lon: float,
    lat: float,
    owner_id: uuid.UUID,
    operator_id: uuid.UUID | None,
) -> Lot:
    if kind not in LOT_KINDS:
        raise InvalidInput(f"a lot is a public_lot or a private_lot, not {kind}")
    await _require_accounts(session, owner_id, operator_id)
    zone = await _zone_at(session, lon=lon, lat=lat)
    new_lot = Lot(
        name=name,
        kind=kind,
        zone_id=zone.id,
        owner_id=owner_id,
        operator_id=operator_id,
        location=geography_point(lon, lat),
    )
    session.add(new_lot)
    await session.flush()
    return new_lot


async def create_slot(
    session: AsyncSession,
    *,
    actor: Actor,
    code: str,
    kind: SlotKind,
    lon: float,
    lat: float,
    owner_id: uuid.UUID,
    lot_id: uuid.UUID | None = None,
    operator_id: uuid.UUID | None = None,
    ev_charger: bool = False,
    accessible: bool = False,
    size: SlotSize = SlotSize.REGULAR,
) -> SlotView:
    """Register a slot. Owners register their own private slots; staff register any kind for any owner."""
    if not actor.is_operator and (kind != SlotKind.PRIVATE_INDIVIDUAL or owner_id != actor.id):
        raise Forbidden("owners may register only their own private_individual slots")
    if (lot_id is not None) != (kind in LOT_KINDS):
        raise InvalidInput("public_lot and private_lot slots need a lot_id; other kinds must not have one")
    if lot_id is not None:
        parent = await repository.lot(session, lot_id)
        if parent is None:
            raise LotNotFound(f"lot {lot_id} not found")
        if parent.kind != kind:
            raise InvalidInput(f"lot {lot_id} is a {parent.kind}; its slots must be of that kind")
        operator_id = operator_id or parent.operator_id
    await _require_accounts(session, owner_id, operator_id)
    zone = await _zone_at(session, lon=lon, lat=lat)
    slot = Slot(
        code=code,
        kind=kind,
        lot_id=lot_id,
        zone_id=zone.id,
        owner_id=owner_id,
        operator_id=operator_id,
        location=geography_point(lon, lat),
        ev_charger=ev_charger,
        accessible=accessible,
        size=size,
        active=True,
    )
    try:
        async with session.begin_nested():
            session.add(slot)
            await session.flush()
    except IntegrityError as error:
        raise SlotCodeTaken(f"slot code {code!r} is already used") from error
    return await get_slot(session, slot.id)


async def get_slot(session: AsyncSession, slot_id: uuid.UUID) -> SlotView:
    view = await repository.slot_view(session, slot_id)
    if view is None:
        raise SlotNotFound(f"slot {slot_id} not found")
    return view


async def _managed_slot(session: AsyncSession, *, actor: Actor, slot_id: uuid.UUID) -> Slot:
    """Lock a slot for a change by someone allowed to manage it; others get not-found or forbidden."""
    slot = await repository.lock_slot(session, slot_id, exclusive=True)
    if slot is None:
        raise SlotNotFound(f"slot {slot_id} not found")
    if not can_manage_slot(actor, slot):
        raise Forbidden("only the slot's owner, the village enterprise for entrusted slots, or an admin may do this")
    return slot


async def update_slot(
    session: AsyncSession,
    *,
    actor: Actor,
    slot_id: uuid.UUID,
    ev_charger: bool | None = None,
    accessible: bool | None = None,
    size: SlotSize | None = None,
    active: bool | None = None,
    now: datetime,
) -> SlotView:
    """Change attributes. Deactivating is refused while the slot holds bookings that are not over."""
    slot = await _managed_slot(session, actor=actor, slot_id=slot_id)
    if active is False and slot.active:
        pending = await repository.list_bookings(
            session,
            driver_id=None,
            slot_owner_id=None,
            slot_id=slot_id,
            statuses=HOLDING_STATUSES,
            overlapping=(now, datetime.max.replace(tzinfo=now.tzinfo)),
            limit=100,
            offset=0,
        )
        if pending:
            raise SharingConflict(
                "the slot still has bookings; cancel them or wait until they end before deactivating it",
                extra={"bookings": [_conflict(row.booking) for row in pending]},
            )
    for name, value in (
        ("ev_charger", ev_charger),
        ("accessible", accessible),
        ("size", size),
        ("active", active),
    ):
        if value is not None:
            setattr(slot, name, value)
    await session.flush()
    return await get_slot(session, slot_id)


async def list_slots(session: AsyncSession, *, actor: Actor, limit: int, offset: int) -> list[SlotView]:
    owner_id = None if actor.role in (Role.OPERATOR, Role.ADMIN, Role.CITY) else actor.id
    return await repository.list_slots(session, owner_id=owner_id, limit=limit, offset=offset)


# ---------------------------------------------------------------- sharing windows


@dataclass(frozen=True, slots=True)
class Sharing:
    weekly: list[WeeklyWindow]
    exceptions: list[SharingException]


def _conflict(booking: Booking) -> dict[str, object]:
    """What a slot manager may see of a booking in the way of a change: no driver identity."""
    assert booking.period.lower is not None and booking.period.upper is not None
    return {
        "booking_id": str(booking.id),
        "start": booking.period.lower.isoformat(),
        "end": booking.period.upper.isoformat(),
        "status": booking.status,
    }


async def _refuse_if_bookings_break(session: AsyncSession, slot_id: uuid.UUID, *, now: datetime, tz: str) -> None:
    await session.flush()
    broken = await repository.bookings_outside_windows(session, slot_id, now=now, timezone=tz)
    if broken:
        raise SharingConflict(
            f"this change would leave {len(broken)} booking(s) outside the slot's sharing windows; nothing was "
            "changed. Cancel those bookings first, or keep the windows that cover them.",
            extra={"bookings": [_conflict(b) for b in broken]},
        )


async def get_sharing(session: AsyncSession, *, actor: Actor, slot_id: uuid.UUID, now: datetime) -> Sharing:
    slot = await get_slot(session, slot_id)
    if actor.role != Role.CITY and not can_manage_slot(actor, slot):
        raise Forbidden("only the slot's managers and the city see its sharing settings")
    rules = await repository.sharing_rules(session, slot_id)
    return Sharing(
        weekly=[WeeklyWindow(tuple(r.weekdays), r.start_minute, r.end_minute) for r in rules],
        exceptions=await repository.sharing_exceptions(session, slot_id, ending_after=now),
    )


async def replace_weekly_windows(
    session: AsyncSession,
    *,
    actor: Actor,
    slot_id: uuid.UUID,
    windows: list[WeeklyWindow],
    policy: BookingPolicy,
    now: datetime,
) -> Sharing:
    """Replace all weekly windows of a slot; refused (nothing changed) if a booking would fall outside them."""
    await _managed_slot(session, actor=actor, slot_id=slot_id)
    await repository.delete_sharing_rules(session, slot_id)
    for window in windows:
        session.add(
            SharingRule(
                slot_id=slot_id,
                weekdays=list(window.weekdays),
                start_minute=window.start_minute,
                end_minute=window.end_minute,
            )
        )
    await _refuse_if_bookings_break(session, slot_id, now=now, tz=policy.timezone)
    return await get_sharing(session, actor=actor, slot_id=slot_id, now=now)


async def add_exception(
    session: AsyncSession,
    *,
    actor: Actor,
    slot_id: uuid.UUID,
    kind: ExceptionKind,
    start: datetime,
    end: datetime,
    note: str,
    policy: BookingPolicy,
    now: datetime,
) -> SharingException:
    """Add a one-off extra window or a blackout (the owner needs the slot back)."""
    if end <= start:
        raise InvalidInput("end must be after start")
    if end <= now:
        raise InvalidInput("the period is already over")
    await _managed_slot(session, actor=actor, slot_id=slot_id)
    exception = SharingException(slot_id=slot_id, kind=kind, period=repository.half_open(start, end), note=note)
    session.add(exception)
    await _refuse_if_bookings_break(session, slot_id, now=now, tz=policy.timezone)
    return exception


async def remove_exception(
    session: AsyncSession,
    *,
    actor: Actor,
    slot_id: uuid.UUID,
    exception_id: uuid.UUID,
    policy: BookingPolicy,
    now: datetime,
) -> None:
    await _managed_slot(session, actor=actor, slot_id=slot_id)
    exception = await session.get(SharingException, exception_id)
    if exception is None or exception.slot_id != slot_id:
        raise SharingExceptionNotFound(f"sharing exception {exception_id} not found on slot {slot_id}")
    await session.delete(exception)
    await _refuse_if_bookings_break(session, slot_id, now=now, tz=policy.timezone)


async def availability(
    session: AsyncSession, *, slot_id: uuid.UUID, start: datetime, end: datetime, policy: BookingPolicy
) -> list[tuple[datetime, datetime]]:
    """Free periods of a slot within [start, end): sharing windows minus holding bookings."""
    if end <= start:
        raise InvalidInput("end must be after start")
    if end - start > policy.horizon:
        raise InvalidInput(f"ask for at most {policy.horizon.days} days at a time")
    await get_slot(session, slot_id)
    return await repository.free_periods(session, slot_id, start, end, policy.timezone)


# ---------------------------------------------------------------- search


async def search(
    session: AsyncSession,
    *,
    lon: float,
    lat: float,
    start: datetime,
    end: datetime,
    max_walk_m: float,
    walk_detour_factor: float,
    filters: SlotFilters,
    limit: int,
    offset: int,
    policy: BookingPolicy,
    now: datetime,
) -> list[SlotMatch]:
    """Slots free for the whole of [start, end) within `max_walk_m` estimated walking metres, nearest first, that
    can be booked: a slot whose zone has no tariff for part of the interval is left out (booking it would be 409
    `price_unavailable`), so the page is filled from further candidates.

    Walking distance is estimated as great-circle distance times `walk_detour_factor`.
    """
    policy.check_interval(start, end, now=now)
    await _advance(session, now=now, policy=policy)
    bookable: list[SlotMatch] = []
    scanned = 0
    while len(bookable) < offset + limit:
        chunk = offset + limit - len(bookable)  # every candidate is usually priceable: read no more than needed
        matches = await repository.search_free_slots(
            session,
            lon=lon,
            lat=lat,
            radius_m=max_walk_m / walk_detour_factor,
            start=start,
            end=end,
            timezone=policy.timezone,
            filters=filters,
            limit=chunk,
            offset=scanned,
        )
        book = await billing.price_book(session, {match.slot.zone_id for match in matches}, start, end)
        for match in matches:
            try:
                quote = book.quote(match.slot.zone_id, match.slot.kind, start, end, timezone=policy.timezone)
            except NoTariff:
                continue
            bookable.append(dataclasses.replace(match, price_krw=quote.total_krw))
        scanned += len(matches)
        if len(matches) < chunk:
            break
    return bookable[offset : offset + limit]


# ---------------------------------------------------------------- bookings


async def _slot_of(session: AsyncSession, booking: Booking) -> Slot:
    slot = await session.get(Slot, booking.slot_id)
    assert slot is not None  # a booking's slot is never deleted (foreign key)
    return slot


def _place(slot: Slot) -> billing.Place:
    return billing.Place(zone_id=slot.zone_id, slot_kind=slot.kind, owner_id=slot.owner_id, lot_id=slot.lot_id)


async def _charge(
    session: AsyncSession, booking: Booking, lines: list[charge_rules.ChargeLine], *, now: datetime
) -> None:
    """Settle what the booking finally costs: capture, split between the parties, release the rest."""
    slot = await _slot_of(session, booking)
    booking.charge_lines = [line.as_dict() for line in lines]
    booking.charged_krw = await billing.settle(session, booking_id=booking.id, lines=lines, place=_place(slot), now=now)
    await session.flush()


def _subject(booking: Booking) -> str:
    return f"booking:{booking.id}"


def _record(booking: Booking, *, now: datetime) -> ledger.Record:
    """The ledger entry of a booking's state: no driver identity, only what an auditor needs."""
    return ledger.Record(
        kind=f"booking.{booking.status}",
        subject=_subject(booking),
        at=now,
        body={
            "booking_id": booking.id,
            "slot_id": booking.slot_id,
            "start": booking.period.lower,
            "end": booking.period.upper,
            "status": booking.status,
        },
    )


async def _with_receipts(session: AsyncSession, row: BookingRow) -> BookingRow:
    receipts = await ledger.receipts_for(session, _subject(row.booking))
    return dataclasses.replace(row, receipts=tuple(receipts))


async def _advance(
    session: AsyncSession,
    *,
    now: datetime,
    policy: BookingPolicy,
    booking_id: uuid.UUID | None = None,
    slot_id: uuid.UUID | None = None,
) -> None:
    """Apply clock-driven transitions (no_show, overstayed) and record each in the ledger."""
    moved = await repository.advance_bookings(session, now=now, policy=policy, booking_id=booking_id, slot_id=slot_id)
    for booking in moved:
        if booking.status == BookingStatus.NO_SHOW:
            await _charge(
                session, booking, charge_rules.no_show(booking.quote_krw or 0, policy=policy.charges), now=now
            )
    if moved:
        await ledger.append(session, *(_record(booking, now=now) for booking in moved))


async def advance(
    session: AsyncSession, *, booking_ids: Sequence[uuid.UUID], policy: BookingPolicy, now: datetime
) -> None:
    """Apply the clock-driven transitions to these bookings now, for callers that act on their current state."""
    for booking_id in booking_ids:
        await _advance(session, now=now, policy=policy, booking_id=booking_id)


async def create_booking(
    session: AsyncSession,
    *,
    driver: Actor,
    slot_id: uuid.UUID,
    start: datetime,
    end: datetime,
    vehicle_plate: str,
    policy: BookingPolicy,
    now: datetime,
    assisted_by: uuid.UUID | None = None,
) -> BookingRow:
    """Book a slot for [start, end). The exclusion constraint `no_double_booking` is the final arbiter: two
    concurrent requests may both pass the checks here, and PostgreSQL lets only one of them commit.
    `assisted_by`: the operator who books on the driver's behalf (assisted booking; the driver's wallet pays)."""
    policy.check_interval(start, end, now=now)
    plate = normalize_plate(vehicle_plate)
    slot = await repository.lock_slot(session, slot_id, exclusive=False)
    if slot is None:
        raise SlotNotFound(f"slot {slot_id} not found")
    if not slot.active:
        raise SlotInactive(f"slot {slot.code} is not shared at the moment")
    await _advance(session, now=now, policy=policy, slot_id=slot_id)
    if not await repository.windows_contain(session, slot_id, start, end, policy.timezone):
        raise OutsideSharingWindow(
            f"slot {slot.code} is not shared for all of the requested time; see its availability",
            extra={"slot_id": str(slot_id)},
        )
    unavailable = SlotUnavailable(
        f"slot {slot.code} is already booked for part of that time", extra={"slot_id": str(slot_id)}
    )
    if await repository.has_holding_overlap(session, slot_id, start, end):
        raise unavailable
    place = _place(slot)
    price = await billing.price(session, place=place, start=start, end=end, timezone=policy.timezone)
    booking = Booking(
        slot_id=slot_id,
        driver_id=driver.id,
        period=repository.half_open(start, end),
        status=BookingStatus.RESERVED,
        vehicle_plate=plate,
        status_changed_at=now,
        quote_krw=price.total_krw,
        quote_lines=billing.quote_lines(price),
        assisted_by=assisted_by,
    )
    try:
        async with session.begin_nested():
            session.add(booking)
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise unavailable from error
        raise
    await billing.hold_for_booking(
        session, booking_id=booking.id, driver_id=driver.id, amount=price.total_krw, end=end, now=now
    )
    await ledger.append(session, _record(booking, now=now))
    return await _with_receipts(session, BookingRow(booking, slot.code, slot.owner_id))


async def hold_for_car(
    session: AsyncSession,
    *,
    slot_id: uuid.UUID,
    driver_id: uuid.UUID,
    vehicle_plate: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> Booking:
    """A happiness car's home slot, held for the car (its primary user as driver) for the whole contract: a booking
    parked from the start (`active`), unpriced (the contract's fee covers it), longer than drivers may book. The
    exclusion constraint keeps everyone else out of the slot, as for any booking (409 `slot_unavailable`)."""
    slot = await repository.lock_slot(session, slot_id, exclusive=False)
    if slot is None:
        raise SlotNotFound(f"slot {slot_id} not found")
    booking = Booking(
        slot_id=slot_id,
        driver_id=driver_id,
        period=repository.half_open(start, end),
        status=BookingStatus.ACTIVE,
        vehicle_plate=normalize_plate(vehicle_plate),
        checked_in_at=start,
        status_changed_at=now,
        quote_krw=0,
        quote_lines=[{"kind": "car_contract", "amount_krw": 0}],
    )
    try:
        async with session.begin_nested():
            session.add(booking)
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise SlotUnavailable(
                f"slot {slot.code} is booked for part of the contract", extra={"slot_id": str(slot_id)}
            ) from error
        raise
    await ledger.append(session, _record(booking, now=now))
    return booking


async def end_car_hold(session: AsyncSession, *, booking_id: uuid.UUID, now: datetime) -> None:
    """The contract ended: the home slot's booking is completed, unpriced."""
    booking = await session.get(Booking, booking_id, with_for_update=True)
    assert booking is not None
    booking.status, booking.checked_out_at, booking.status_changed_at = BookingStatus.COMPLETED, now, now
    booking.charged_krw, booking.charge_lines = 0, [{"kind": "car_contract", "amount_krw": 0}]
    await ledger.append(session, _record(booking, now=now))


async def driver_of_assisted_booking(session: AsyncSession, driver_id: uuid.UUID) -> Actor:
    """The driver an operator books for: an account that books for itself (resident or owner)."""
    account = await get_account(session, driver_id)
    if account.role not in (Role.RESIDENT, Role.OWNER):
        raise InvalidInput(
            f"bookings are for residents and owners, not for a {account.role} account",
            extra={"field": "driver_id", "role": account.role},
        )
    return Actor(id=account.id, role=account.role)


async def get_booking(
    session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, policy: BookingPolicy, now: datetime
) -> BookingRow:
    await _advance(session, now=now, policy=policy, booking_id=booking_id)
    row = await repository.booking_row(session, booking_id)
    if row is None or not can_read_booking(actor, row):
        raise BookingNotFound(f"booking {booking_id} not found")
    return await _with_receipts(session, row)


async def list_bookings(
    session: AsyncSession,
    *,
    actor: Actor,
    as_slot_owner: bool,
    slot_id: uuid.UUID | None,
    statuses: list[BookingStatus],
    overlapping: tuple[datetime, datetime] | None,
    limit: int,
    offset: int,
    policy: BookingPolicy,
    now: datetime,
) -> list[BookingRow]:
    """A driver's own bookings; with `as_slot_owner`, the bookings on the actor's slots; staff and the city
    see all bookings."""
    await _advance(session, now=now, policy=policy)
    sees_all = actor.role in (Role.OPERATOR, Role.ADMIN, Role.CITY)
    return await repository.list_bookings(
        session,
        driver_id=None if sees_all or as_slot_owner else actor.id,
        slot_owner_id=actor.id if as_slot_owner else None,
        slot_id=slot_id,
        statuses=statuses,
        overlapping=overlapping,
        limit=limit,
        offset=offset,
    )


async def _booking_for_change(
    session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, policy: BookingPolicy, now: datetime
) -> BookingRow:
    await _advance(session, now=now, policy=policy, booking_id=booking_id)
    row = await repository.booking_row(session, booking_id, lock=True)
    if row is None or not can_read_booking(actor, row):
        raise BookingNotFound(f"booking {booking_id} not found")
    if not (actor.is_operator or row.booking.driver_id == actor.id):
        raise Forbidden("only the driver or village enterprise staff may change a booking")
    return row


def _refuse_transition(booking: Booking, action: str, allowed: tuple[BookingStatus, ...]) -> None:
    if booking.status not in allowed:
        raise InvalidTransition(
            f"cannot {action} a booking that is {booking.status}",
            extra={"status": booking.status, "allowed_from": list(allowed)},
        )


async def _move(
    session: AsyncSession, row: BookingRow, target: BookingStatus, *, stamp: str, now: datetime
) -> BookingRow:
    """Apply an explicit transition, recording when it happened in `stamp` and in status_changed_at."""
    row.booking.status = target
    row.booking.status_changed_at = now
    setattr(row.booking, stamp, now)
    await session.flush()
    await ledger.append(session, _record(row.booking, now=now))
    return await _with_receipts(session, row)


async def cancel_booking(
    session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, policy: BookingPolicy, now: datetime
) -> BookingRow:
    row = await _booking_for_change(session, actor=actor, booking_id=booking_id, policy=policy, now=now)
    _refuse_transition(row.booking, "cancel", (BookingStatus.RESERVED,))
    start = row.booking.period.lower
    assert start is not None
    fee = charge_rules.cancellation(row.booking.quote_krw or 0, start=start, now=now, policy=policy.charges)
    await _charge(session, row.booking, fee, now=now)
    return await _move(session, row, BookingStatus.CANCELLED, stamp="cancelled_at", now=now)


async def check_in(
    session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, policy: BookingPolicy, now: datetime
) -> BookingRow:
    """Arrival: allowed from start - early_check_in until start + no_show_grace (after that it is a no-show)."""
    row = await _booking_for_change(session, actor=actor, booking_id=booking_id, policy=policy, now=now)
    _refuse_transition(row.booking, "check in", (BookingStatus.RESERVED,))
    opens = row.booking.period.lower
    assert opens is not None
    if now < opens - policy.early_check_in:
        raise InvalidTransition(
            f"check-in opens at {(opens - policy.early_check_in).isoformat()}",
            extra={"status": row.booking.status, "check_in_opens_at": opens - policy.early_check_in},
        )
    return await _move(session, row, BookingStatus.ACTIVE, stamp="checked_in_at", now=now)


async def check_out(
    session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, policy: BookingPolicy, now: datetime
) -> BookingRow:
    row = await _booking_for_change(session, actor=actor, booking_id=booking_id, policy=policy, now=now)
    _refuse_transition(row.booking, "check out", (BookingStatus.ACTIVE, BookingStatus.OVERSTAYED))
    end = row.booking.period.upper
    assert end is not None
    overstay = 0
    if now > end:
        slot = await _slot_of(session, row.booking)
        extra = await billing.price(session, place=_place(slot), start=end, end=now, timezone=policy.timezone)
        overstay = extra.total_krw
    lines = charge_rules.completion(row.booking.quote_krw or 0, overstay_krw=overstay, policy=policy.charges)
    await _charge(session, row.booking, lines, now=now)
    moved = await _move(session, row, BookingStatus.COMPLETED, stamp="checked_out_at", now=now)
    await _earn_mileage(session, row.booking, now=now)
    return moved


async def _earn_mileage(session: AsyncSession, booking: Booking, *, now: datetime) -> None:
    slot = await _slot_of(session, booking)
    assert booking.checked_in_at is not None
    zone = await session.get(Zone, slot.zone_id)
    assert zone is not None
    event = mileage.Event(
        kind="booking_completed",
        reference=_subject(booking),
        account_id=booking.driver_id,
        zone_code=zone.code,
        slot_kind=slot.kind,
        minutes=int((now - booking.checked_in_at).total_seconds() // 60),
        charged_krw=booking.charged_krw or 0,
    )
    await mileage.earn(session, event, now=now)


async def refund(
    session: AsyncSession, *, actor: Actor, booking_id: uuid.UUID, amount: int, policy: BookingPolicy, now: datetime
) -> BookingRow:
    """Village enterprise staff refund part of what a booking was charged (e.g. after a complaint)."""
    row = await _booking_for_change(session, actor=actor, booking_id=booking_id, policy=policy, now=now)
    slot = await _slot_of(session, row.booking)
    await billing.refund_booking(session, booking_id=booking_id, amount=amount, place=_place(slot), now=now)
    return row
