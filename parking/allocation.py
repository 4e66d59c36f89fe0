"""Matching drivers to shared slots with the solver (`matching`): instant bookings and batch runs.

The service loads rows, converts them to the solver's dataclasses (positions in metres around the batch's first
destination, times in minutes from the batch's start), runs the solver off the event loop (a process pool), and
books through the same `create_booking` as everyone else, so the exclusion constraint still guards every booking.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.actor import Actor
from accounts.models import Role
from billing.pricing import PriceBook
from billing.service import price_book as billing_price_book
from core import metrics
from core.errors import DomainError
from core.settings import Settings
from geo.spatial import geography_point, latitude, longitude
from matching.solver import allocate
from matching.types import Allocation, Assignment, Interval, Priority, Request, Slot
from parking import repository, service
from parking.errors import (
    InvalidTransition,
    MatchRequestNotFound,
    NoSlotAvailable,
    OutsideSharingWindow,
    SlotInactive,
    SlotUnavailable,
)
from parking.models import MatchRequest, MatchStatus, SlotSize
from parking.policy import BookingPolicy, normalize_plate
from parking.repository import BookingRow, SlotView

METRES_PER_DEG = 111_320.0
SIZE_RANK = {SlotSize.COMPACT: 0, SlotSize.REGULAR: 1, SlotSize.LARGE: 2}
RACE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Need:
    """What a driver asks for."""

    lon: float
    lat: float
    start: datetime
    end: datetime
    max_walk_m: int
    needs_ev: bool
    needs_accessible: bool
    vehicle_size: SlotSize
    vehicle_plate: str


@dataclass(frozen=True, slots=True)
class Solving:
    """How to run the solver: where (a process pool, or inline), for how long, and the walking detour."""

    pool: Executor | None
    time_limit_s: float
    detour_factor: float
    k: int = 8

    @classmethod
    def from_settings(cls, settings: Settings, *, pool: Executor | None) -> Solving:
        return cls(
            pool=pool,
            time_limit_s=settings.matching_time_limit_s,
            detour_factor=settings.walk_detour_factor,
            k=settings.matching_candidates,
        )


@dataclass(frozen=True, slots=True)
class Frame:
    """The metric and time frame the solver works in."""

    lon0: float
    lat0: float
    origin: datetime

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            (lon - self.lon0) * METRES_PER_DEG * math.cos(math.radians(self.lat0)),
            (lat - self.lat0) * METRES_PER_DEG,
        )

    def minutes(self, at: datetime, *, up: bool) -> int:
        value = (at - self.origin).total_seconds() / 60
        return math.ceil(value) if up else math.floor(value)

    def interval(self, start: datetime, end: datetime, *, inner: bool) -> Interval | None:
        """`inner`: the whole minutes inside (for free time); else the whole minutes covering (for a request)."""
        first, last = self.minutes(start, up=inner), self.minutes(end, up=not inner)
        return Interval(first, last) if last > first else None


@dataclass(frozen=True, slots=True)
class TariffPrices:
    """The solver's price of a request on a slot: the quote a booking would get (tariff, dynamic multiplier, caps).
    Picklable, so it travels to the solver's worker processes."""

    origin: datetime
    timezone: str
    book: PriceBook
    places: dict[Hashable, tuple[uuid.UUID, str]]  # slot id -> (zone id, slot kind)

    def priced(self, slot_id: Hashable) -> bool:
        return self.book.priced(*self.places[slot_id])

    def __call__(self, request: Request, slot: Slot) -> int:
        start = self.origin + timedelta(minutes=request.interval.start)
        end = self.origin + timedelta(minutes=request.interval.end)
        return self.book.quote(*self.places[slot.id], start, end, timezone=self.timezone).total_krw


def _slot(view: SlotView, free: Sequence[tuple[datetime, datetime]], frame: Frame) -> Slot:
    x, y = frame.xy(view.lon, view.lat)
    intervals = tuple(i for s, e in free if (i := frame.interval(s, e, inner=True)) is not None)
    return Slot(
        id=view.id,
        x_m=x,
        y_m=y,
        free=intervals,
        ev_charger=view.ev_charger,
        accessible=view.accessible,
        size=SIZE_RANK[SlotSize(view.size)],
    )


def _request(request_id: Hashable, need: Need, priority: Priority, frame: Frame) -> Request:
    x, y = frame.xy(need.lon, need.lat)
    interval = frame.interval(need.start, need.end, inner=False)
    assert interval is not None
    return Request(
        id=request_id,
        x_m=x,
        y_m=y,
        interval=interval,
        max_walk_m=need.max_walk_m,
        needs_ev=need.needs_ev,
        needs_accessible=need.needs_accessible,
        vehicle_size=SIZE_RANK[need.vehicle_size],
        priority=priority,
    )


async def _priorities(session: AsyncSession, needs: Sequence[tuple[uuid.UUID, bool]]) -> list[Priority]:
    """Accessibility need first, then permit-holding village residents, then everyone else."""
    holders = await repository.permit_holders(session, [driver for driver, _ in needs])
    return [
        Priority.ACCESSIBILITY if accessible else Priority.RESIDENT if driver in holders else Priority.GENERAL
        for driver, accessible in needs
    ]


async def _solve(solving: Solving, slots: list[Slot], requests: list[Request], prices: TariffPrices) -> Allocation:
    priced = [slot for slot in slots if prices.priced(slot.id)]  # a slot without a tariff cannot be booked
    run = partial(
        allocate,
        priced,
        requests,
        time_limit_s=solving.time_limit_s,
        k=solving.k,
        detour_factor=solving.detour_factor,
        price=prices,
    )
    if solving.pool is None:
        allocation = run()
    else:
        allocation = await asyncio.get_running_loop().run_in_executor(solving.pool, run)
    metrics.MATCHING_SECONDS.labels(allocation.status).observe(allocation.solve_s)
    return allocation


def explain(
    request_id: Hashable, allocation: Allocation, views: dict[Hashable, SlotView], requests: dict[Hashable, Request]
) -> dict[str, Any]:
    """Chosen slot, walk and price, and why each other candidate was not chosen."""
    taken: dict[Hashable, list[Assignment]] = {}
    for assignment in allocation.assignments:
        taken.setdefault(assignment.slot_id, []).append(assignment)
    chosen = allocation.by_request().get(request_id)
    request = requests[request_id]
    alternatives = []
    for option in allocation.candidates.get(request_id, ()):
        if chosen is not None and option.slot_id == chosen.slot_id:
            continue
        rivals = [
            a
            for a in taken.get(option.slot_id, [])
            if a.request_id != request_id and requests[a.request_id].interval.overlaps(request.interval)
        ]
        if rivals:
            rival = requests[rivals[0].request_id]
            reason = (
                "taken by a higher-priority request"
                if rival.priority > request.priority
                else "taken by another request for an overlapping time"
            )
        elif chosen is None:
            reason = "not usable without leaving another request unserved"
        elif option.walk_m > chosen.walk_m:
            reason = f"farther: {option.walk_m} m against {chosen.walk_m} m"
        elif option.price_krw > chosen.price_krw:
            reason = f"dearer: {option.price_krw} KRW against {chosen.price_krw} KRW"
        else:
            reason = "as good; the solver's tie-break"
        view = views[option.slot_id]
        alternatives.append(
            {
                "slot_id": str(view.id),
                "slot_code": view.code,
                "walk_m": option.walk_m,
                "price_krw": option.price_krw,
                "reason": reason,
            }
        )
    result: dict[str, Any] = {
        "considered": len(allocation.candidates.get(request_id, ())),
        "alternatives": alternatives,
    }
    if chosen is not None:
        view = views[chosen.slot_id]
        result["chosen"] = {
            "slot_id": str(view.id),
            "slot_code": view.code,
            "walk_m": chosen.walk_m,
            "price_krw": chosen.price_krw,
        }
    elif not allocation.candidates.get(request_id):
        result["reason"] = "no shared slot within walking distance fits the needs and is free for the whole time"
    else:
        result["reason"] = "every fitting slot is taken for part of that time"
    return result


async def _inventory(
    session: AsyncSession,
    points: list[tuple[float, float, float]],
    start: datetime,
    end: datetime,
    policy: BookingPolicy,
    frame: Frame,
    *,
    limit: int | None = None,
) -> tuple[list[Slot], dict[Hashable, SlotView], TariffPrices]:
    nearby = await repository.slots_near(session, points, limit=limit)
    views: dict[Hashable, SlotView] = {view.id: view for view, _ in nearby}
    ids = [view.id for view, _ in nearby]
    free = await repository.free_periods_many(session, ids, start, end, policy.timezone)
    book = await billing_price_book(session, {view.zone_id for view in views.values()}, start, end)
    places = {i: (view.zone_id, view.kind) for i, view in views.items()}
    prices = TariffPrices(origin=frame.origin, timezone=policy.timezone, book=book, places=places)
    return [_slot(views[i], free[i], frame) for i in ids], views, prices


@dataclass(frozen=True, slots=True)
class Instant:
    booking: BookingRow
    explanation: dict[str, Any]


async def book_instant(
    session: AsyncSession,
    *,
    driver: Actor,
    need: Need,
    policy: BookingPolicy,
    solving: Solving,
    now: datetime,
    before_booking: Callable[[uuid.UUID], Awaitable[None]] | None = None,
) -> Instant:
    """Match one driver now against current free inventory and book, in one request. A slot lost to a
    concurrent booking is excluded and the driver is matched again. `before_booking(slot_id)` runs on each slot
    matched, before it is booked: work that must not wait behind the booking's ledger entry (a valet's solve)."""
    policy.check_interval(need.start, need.end, now=now)
    normalize_plate(need.vehicle_plate)
    frame = Frame(need.lon, need.lat, need.start)
    [priority] = await _priorities(session, [(driver.id, need.needs_accessible)])
    radius = need.max_walk_m / solving.detour_factor
    slots, views, prices = await _inventory(
        session, [(need.lon, need.lat, radius)], need.start, need.end, policy, frame, limit=200
    )
    request = _request("instant", need, priority, frame)
    excluded: set[Hashable] = set()
    for _ in range(RACE_RETRIES):
        allocation = await _solve(solving, [s for s in slots if s.id not in excluded], [request], prices)
        explanation = explain("instant", allocation, views, {"instant": request})
        if not allocation.assignments:
            raise NoSlotAvailable(explanation.get("reason", "no slot is available"), extra={"explanation": explanation})
        slot_id = allocation.assignments[0].slot_id
        if before_booking is not None:
            await before_booking(cast(uuid.UUID, slot_id))
        try:
            row = await service.create_booking(
                session,
                driver=driver,
                slot_id=cast(uuid.UUID, slot_id),
                start=need.start,
                end=need.end,
                vehicle_plate=need.vehicle_plate,
                policy=policy,
                now=now,
            )
        except (SlotUnavailable, OutsideSharingWindow, SlotInactive):
            excluded.add(slot_id)  # lost a race with another booking: match again without that slot
            continue
        return Instant(row, explanation)
    raise NoSlotAvailable("the slots found were booked by others in the meantime; try again")


# ---------------------------------------------------------------- batch


async def request_later(
    session: AsyncSession, *, driver: Actor, need: Need, policy: BookingPolicy, now: datetime
) -> MatchRequest:
    """Queue a request for the batch worker."""
    policy.check_interval(need.start, need.end, now=now)
    request = MatchRequest(
        driver_id=driver.id,
        destination=geography_point(need.lon, need.lat),
        period=repository.half_open(need.start, need.end),
        max_walk_m=need.max_walk_m,
        needs_ev=need.needs_ev,
        needs_accessible=need.needs_accessible,
        vehicle_size=need.vehicle_size,
        vehicle_plate=normalize_plate(need.vehicle_plate),
        status=MatchStatus.PENDING,
        attempts=0,
        status_changed_at=now,
    )
    session.add(request)
    await session.flush()
    return request


def _need(match: MatchRequest, lon: float, lat: float) -> Need:
    assert match.period.lower is not None and match.period.upper is not None
    return Need(
        lon=lon,
        lat=lat,
        start=match.period.lower,
        end=match.period.upper,
        max_walk_m=match.max_walk_m,
        needs_ev=match.needs_ev,
        needs_accessible=match.needs_accessible,
        vehicle_size=SlotSize(match.vehicle_size),
        vehicle_plate=match.vehicle_plate,
    )


@dataclass(frozen=True, slots=True)
class BatchReport:
    considered: int
    matched: int
    lost_races: int
    refused: int
    unmatched: int
    expired: int
    status: str
    objective: int
    bound: int
    solve_s: float


async def run_batch(
    session: AsyncSession, *, policy: BookingPolicy, solving: Solving, now: datetime, limit: int = 5000
) -> BatchReport:
    """Match pending requests: expire those whose start passed, solve the rest together, book the assignments.
    A request whose slot was taken meanwhile (a race with an instant booking) stays pending for the next run."""
    expired = await session.execute(
        update(MatchRequest)
        .where(MatchRequest.status == MatchStatus.PENDING, func.lower(MatchRequest.period) <= now)
        .values(status=MatchStatus.EXPIRED, status_changed_at=now)
        .returning(MatchRequest.id)
    )
    expired_count = len(expired.all())
    rows = (
        await session.execute(
            select(MatchRequest, longitude(MatchRequest.destination), latitude(MatchRequest.destination))
            .where(MatchRequest.status == MatchStatus.PENDING)
            .order_by(func.lower(MatchRequest.period), MatchRequest.id)
            .limit(limit)
            .with_for_update(of=MatchRequest, skip_locked=True)
        )
    ).all()
    if not rows:
        return BatchReport(0, 0, 0, 0, 0, expired_count, "EMPTY", 0, 0, 0.0)
    needs = {match.id: _need(match, lon, lat) for match, lon, lat in rows}
    pending = {row[0].id: row[0] for row in rows}
    start = min(n.start for n in needs.values())
    end = max(n.end for n in needs.values())
    first = next(iter(needs.values()))
    frame = Frame(first.lon, first.lat, start)
    priorities = await _priorities(session, [(r.driver_id, r.needs_accessible) for r in pending.values()])
    requests: dict[Hashable, Request] = {
        request_id: _request(request_id, needs[request_id], priority, frame)
        for request_id, priority in zip(pending, priorities, strict=True)
    }
    points = [(n.lon, n.lat, n.max_walk_m / solving.detour_factor) for n in needs.values()]
    slots, views, prices = await _inventory(session, points, start, end, policy, frame)
    allocation = await _solve(solving, slots, list(requests.values()), prices)
    matched = lost = refused = 0
    assigned = allocation.by_request()
    for request_id, match in pending.items():
        match.attempts += 1
        match.explanation = explain(request_id, allocation, views, requests)
        assignment = assigned.get(request_id)
        if assignment is None:
            continue
        need = needs[request_id]
        try:
            async with session.begin_nested():  # each booking apart: one that fails takes nothing else with it
                row = await service.create_booking(
                    session,
                    driver=Actor(match.driver_id, role=Role.RESIDENT),
                    slot_id=cast(uuid.UUID, assignment.slot_id),
                    start=need.start,
                    end=need.end,
                    vehicle_plate=need.vehicle_plate,
                    policy=policy,
                    now=now,
                )
        except (SlotUnavailable, OutsideSharingWindow, SlotInactive):
            lost += 1
            match.explanation = {
                **match.explanation,
                "retry": "the slot was booked by someone else meanwhile; this request will be matched again",
            }
            continue
        except DomainError as refusal:  # the driver's: funds, a plate... it would fail again on the next run
            refused += 1
            match.status, match.status_changed_at = MatchStatus.REFUSED, now
            match.explanation = {**match.explanation, "refused": {"error": refusal.code, "detail": str(refusal)}}
            continue
        match.status, match.booking_id, match.status_changed_at = MatchStatus.MATCHED, row.booking.id, now
        matched += 1
    await session.flush()
    return BatchReport(
        considered=len(pending),
        matched=matched,
        lost_races=lost,
        refused=refused,
        unmatched=len(pending) - matched - refused,
        expired=expired_count,
        status=allocation.status,
        objective=allocation.objective,
        bound=allocation.bound,
        solve_s=round(allocation.solve_s, 3),
    )


async def get_request(session: AsyncSession, *, actor: Actor, request_id: uuid.UUID) -> MatchRequest:
    found = await session.get(MatchRequest, request_id, populate_existing=True)
    if found is None or not (actor.is_operator or found.driver_id == actor.id):
        raise MatchRequestNotFound(f"match request {request_id} not found")
    return found


async def list_requests(session: AsyncSession, *, actor: Actor, limit: int, offset: int) -> list[MatchRequest]:
    query = select(MatchRequest).order_by(MatchRequest.created_at.desc(), MatchRequest.id).limit(limit).offset(offset)
    if not actor.is_operator:
        query = query.where(MatchRequest.driver_id == actor.id)
    return list((await session.execute(query)).scalars())


async def cancel_request(session: AsyncSession, *, actor: Actor, request_id: uuid.UUID, now: datetime) -> MatchRequest:
    """Withdraw a pending request (a matched one is cancelled through its booking)."""
    found = await get_request(session, actor=actor, request_id=request_id)
    if found.status != MatchStatus.PENDING:
        raise InvalidTransition(
            f"only a pending request can be withdrawn; this one is {found.status}", extra={"status": found.status}
        )
    found.status, found.status_changed_at = MatchStatus.CANCELLED, now
    await session.flush()
    return found
