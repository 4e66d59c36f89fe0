"""Happiness cars (행복카): contracts and the primary user's time, bookings of the idle time, pick-up and return,
condition reports and photos, rebooking offers; and carpools."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response

from accounts.actor import Actor
from api.auth import Anyone, Driver, Operator, Photographer
from api.deps import Limit, NowDep, Offset, SessionDep, StateDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.cars import (
    CarBookingIn,
    CarBookingOut,
    CarContractIn,
    CarContractOut,
    CarExceptionOut,
    CarInvoiceOut,
    CarpoolIn,
    CarpoolOut,
    CarReturnIn,
    CarSpanIn,
    CarWindowsIn,
    ConditionIn,
    ConditionReportOut,
    FreeCarOut,
    MonthIn,
    PartyOut,
    PhotoOut,
    RatingIn,
    RebookingOfferOut,
    SeatOut,
    SpanOut,
)
from api.schemas.common import ErrorOut, Instant, Latitude, Location, Longitude, Page, page
from api.schemas.parking import WeeklyWindowIO
from api.state import AppState
from cars import bookings, carpools, contracts, photos, rebooking, reports, repository
from cars import search as car_search
from cars.errors import InvalidPhoto
from cars.models import CarBooking, CarContract, Carpool, ConditionReport, ExceptionKind, RebookingOffer, SeatStatus
from cars.rules import CarRules, period_of
from core.errors import NotFound
from core.storage import sniff
from parking.policy import WeeklyWindow

router = APIRouter(tags=["happiness cars"])
carpool_router = APIRouter(tags=["carpools"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}
CHANGES: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}}
PAYS: dict[int | str, dict[str, Any]] = {
    **CHANGES,
    402: {"model": ErrorOut, "description": "insufficient_funds: the wallet cannot cover it"},
}


def _rules(state: AppState) -> CarRules:
    return CarRules.from_settings(state.settings)


def _windows(body: list[WeeklyWindowIO]) -> list[WeeklyWindow]:
    return [WeeklyWindow.parse(list(w.weekdays), w.start, w.end) for w in body]


async def _contract_out(session: SessionDep, contract: CarContract, state: AppState, now: datetime) -> CarContractOut:
    terms = await repository.terms(session, contract)
    week = terms.guaranteed(now, now + timedelta(days=7), state.settings.local_timezone)
    return CarContractOut(
        id=contract.id,
        car_id=contract.car_id,
        primary_id=contract.primary_id,
        home_slot_id=contract.home_slot_id,
        monthly_fee_krw=contract.monthly_fee_krw,
        release_credit_krw_per_hour=contract.release_credit_krw_per_hour,
        starts_at=contract.starts_at,
        ends_at=contract.ends_at,
        status=contract.status,
        windows=[WeeklyWindowIO.of(w) for w in terms.windows],
        exceptions=[
            CarExceptionOut(
                id=e.id,
                kind=e.kind,
                start=e.period.lower,
                end=e.period.upper,
                credit_krw=e.credit_krw,
            )
            for e in await repository.exceptions_of(session, contract.id)
        ],
        guaranteed_next_7_days=[SpanOut(start=s, end=e) for s, e in week],
    )


# ---------------------------------------------------------------- contracts


@router.post(
    "/cars/contracts",
    response_model=CarContractOut,
    status_code=201,
    responses={**CHANGES, 422: {"model": ErrorOut}},
    summary="Contract a happiness car to a primary user",
)
async def create_contract(
    body: CarContractIn,
    actor: Operator,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """The village enterprise contracts a car (type `car`, no other active contract: else 422 `not_a_car`) to a
    primary user, with its home slot (held for the car for the whole contract: 409 `slot_unavailable` when it is
    booked), the monthly fee and the primary user's guaranteed weekly windows (Seoul time). Everything else in the
    contract is shared with other residents."""
    rules = _rules(state)

    async def work() -> CarContractOut:
        contract = await contracts.create_contract(
            session,
            car_id=body.car_id,
            primary_id=body.primary_id,
            home_slot_id=body.home_slot_id,
            monthly_fee_krw=body.monthly_fee_krw,
            release_credit_krw_per_hour=(
                body.release_credit_krw_per_hour
                if body.release_credit_krw_per_hour is not None
                else state.settings.car_release_credit_krw_per_hour
            ),
            starts_on=body.starts_on,
            ends_on=body.ends_on,
            windows=_windows(body.windows),
            rules=rules,
            now=now,
        )
        return await _contract_out(session, contract, state, now)

    return await create_once(
        session, actor=actor, key=idempotency_key, operation="POST /cars/contracts", payload=body, work=work
    )


@router.get("/cars/contracts", response_model=Page[CarContractOut], summary="Happiness-car contracts")
async def list_contracts(
    actor: Anyone, state: StateDep, session: SessionDep, now: NowDep, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """The operators see every contract; a resident their own (as primary user)."""
    found = await repository.contracts(session, actor=actor, limit=limit + 1, offset=offset)
    return page([await _contract_out(session, c, state, now) for c in found], limit=limit, offset=offset)


@router.get(
    "/cars/contracts/{contract_id:uuid}", response_model=CarContractOut, responses=NOT_FOUND, summary="A contract"
)
async def get_contract(
    contract_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> CarContractOut:
    """With its windows, extra windows and releases, and the primary user's time in the coming week."""
    contract = await repository.contract_for(session, actor=actor, contract_id=contract_id)
    return await _contract_out(session, contract, state, now)


@router.put(
    "/cars/contracts/{contract_id:uuid}/windows",
    response_model=CarContractOut,
    responses={**CHANGES, 422: {"model": ErrorOut}},
    summary="Change the primary user's weekly windows",
)
async def replace_windows(
    contract_id: uuid.UUID, body: CarWindowsIn, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> CarContractOut:
    """Refused whole (409 `car_windows_conflict_with_bookings`, listing them) when the new windows, with the buffer,
    would take time other residents have booked. The primary user narrows their windows; widening them is the
    village enterprise's to approve (409 `car_windows_need_approval`: an operator makes the change), since time added
    and then released would earn release credit the contract never promised."""
    await contracts.replace_windows(
        session, actor=actor, contract_id=contract_id, windows=_windows(body.windows), rules=_rules(state), now=now
    )
    contract = await repository.contract_for(session, actor=actor, contract_id=contract_id)
    out = await _contract_out(session, contract, state, now)
    await session.commit()
    return out


async def _exception(
    kind: ExceptionKind,
    contract_id: uuid.UUID,
    body: CarSpanIn,
    actor: Any,
    state: AppState,
    session: SessionDep,
    now: datetime,
) -> CarContractOut:
    await contracts.add_exception(
        session,
        actor=actor,
        contract_id=contract_id,
        kind=kind,
        start=body.start,
        end=body.end,
        rules=_rules(state),
        now=now,
    )
    contract = await repository.contract_for(session, actor=actor, contract_id=contract_id)
    out = await _contract_out(session, contract, state, now)
    await session.commit()
    return out


@router.post(
    "/cars/contracts/{contract_id:uuid}/extra-windows",
    response_model=CarContractOut,
    status_code=201,
    responses={**CHANGES, 403: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Add a one-off window for the primary user",
)
async def add_extra_window(
    contract_id: uuid.UUID, body: CarSpanIn, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> CarContractOut:
    """The primary user needs the car once more: refused (409) when it would take another resident's booking."""
    return await _exception(ExceptionKind.EXTRA, contract_id, body, actor, state, session, now)


@router.post(
    "/cars/contracts/{contract_id:uuid}/releases",
    response_model=CarContractOut,
    status_code=201,
    responses={**CHANGES, 403: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Release part of the primary user's time for a day",
)
async def release_window(
    contract_id: uuid.UUID, body: CarSpanIn, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> CarContractOut:
    """The primary user does not need the car then: others may book it, and the month's invoice credits the
    contract's `release_credit_krw_per_hour` for each hour. It must lie within their guaranteed time (422) and
    outside a booking of their own (409)."""
    return await _exception(ExceptionKind.RELEASED, contract_id, body, actor, state, session, now)


@router.post(
    "/cars/contracts/{contract_id:uuid}/invoices",
    response_model=CarInvoiceOut,
    status_code=201,
    responses={**PAYS, 422: {"model": ErrorOut}},
    summary="Invoice a month of a contract",
)
async def invoice(
    contract_id: uuid.UUID, body: MonthIn, actor: Operator, state: StateDep, session: SessionDep, now: NowDep
) -> CarInvoiceOut:
    """Once per finished month (asking again returns the same invoice): the fee prorated to the days under
    contract, less the month's release credits, charged to the primary user's wallet, split and on the ledger."""
    year, number = (int(part) for part in body.month.split("-"))
    bill = await contracts.invoice(
        session, contract_id=contract_id, month=date(year, number, 1), rules=_rules(state), now=now
    )
    out = CarInvoiceOut(
        id=bill.id, month=bill.month, fee_krw=bill.fee_krw, credit_krw=bill.credit_krw, amount_krw=bill.amount_krw
    )
    await session.commit()
    return out


@router.post(
    "/cars/contracts/{contract_id:uuid}/end",
    response_model=CarContractOut,
    responses=CHANGES,
    summary="End a contract now",
)
async def end_contract(
    contract_id: uuid.UUID, actor: Operator, state: StateDep, session: SessionDep, now: NowDep
) -> CarContractOut:
    """Later bookings of the car are cancelled and released, the home slot freed; refused (409) while the car is
    out on a booking."""
    contract = await contracts.end_contract(session, actor=actor, contract_id=contract_id, now=now)
    out = await _contract_out(session, contract, state, now)
    await session.commit()
    return out


# ---------------------------------------------------------------- finding and booking a car


@router.get("/cars/search", response_model=list[FreeCarOut], responses={422: {"model": ErrorOut}}, summary="Cars free")
async def search(
    actor: Anyone,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    lon: Annotated[Longitude, Query()],
    lat: Annotated[Latitude, Query()],
    start: Annotated[Instant, Query()],
    end: Annotated[Instant, Query()],
    radius_m: Annotated[int, Query(ge=50, le=5000, description="of the home slot from the point")] = 1000,
) -> list[FreeCarOut]:
    """Happiness cars whose home slot is near the point and that are free for the whole of [start, end): clear of
    other bookings and their buffers, and of the primary user's time (for you: inside it too, when it is yours),
    nearest first, each with the quote that booking it holds."""
    rules = _rules(state)
    rules.policy.check_interval(start, end, now=now)
    found = await car_search.free_cars(
        session, lon=lon, lat=lat, radius_m=radius_m, start=start, end=end, rules=rules, driver=actor
    )
    return [
        FreeCarOut(
            car_id=f.car.id,
            label=f.car.label,
            battery_pct=f.car.battery_pct,
            lon=f.lon,
            lat=f.lat,
            distance_m=round(f.distance_m, 1),
            quote_krw=f.quote_krw,
        )
        for f in found
    ]


def _booking_out(booking: CarBooking) -> CarBookingOut:
    start, end = period_of(booking)
    km = None
    if booking.odometer_end_m is not None and booking.odometer_start_m is not None:
        km = round((booking.odometer_end_m - booking.odometer_start_m) / 1000, 1)
    assert booking.blocked.upper is not None
    return CarBookingOut(
        id=booking.id,
        car_id=booking.car_id,
        contract_id=booking.contract_id,
        driver_id=booking.driver_id,
        start=start,
        end=end,
        blocked_until=booking.blocked.upper,
        status=booking.status,
        primary_time=booking.primary_time,
        quote_krw=booking.quote_krw,
        quote_lines=booking.quote_lines,
        trip_id=booking.trip_id,
        picked_up_at=booking.picked_up_at,
        returned_at=booking.returned_at,
        cancelled_at=booking.cancelled_at,
        km=km,
        charged_krw=booking.charged_krw,
        charge_lines=booking.charge_lines,
    )


@router.post(
    "/cars/bookings",
    response_model=CarBookingOut,
    status_code=201,
    responses={**PAYS, 422: {"model": ErrorOut}},
    summary="Book a happiness car",
)
async def book(
    body: CarBookingIn,
    actor: Driver,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    """Book the car for [start, end): in its shared time (409 `primary_time` when it touches the primary user's
    guaranteed time, with the buffer; the primary user may book inside it), clear of other bookings and the buffer
    after each (409 `car_unavailable`: PostgreSQL's exclusion constraint decides races). The quote (time by the
    zone's car tariff and band, plus `MAEUL_CAR_ESTIMATE_KM` km) is held on your wallet (402 when it cannot)."""

    async def work() -> CarBookingOut:
        booking = await bookings.book(
            session, driver=actor, car_id=body.car_id, start=body.start, end=body.end, rules=_rules(state), now=now
        )
        return _booking_out(booking)

    return await create_once(
        session, actor=actor, key=idempotency_key, operation="POST /cars/bookings", payload=body, work=work
    )


@router.get("/cars/bookings", response_model=Page[CarBookingOut], summary="Car bookings")
async def list_bookings(
    actor: Anyone,
    session: SessionDep,
    car_id: uuid.UUID | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Yours, the latest first; the operators see all."""
    found = await repository.bookings(session, actor=actor, car_id=car_id, limit=limit + 1, offset=offset)
    return page([_booking_out(b) for b in found], limit=limit, offset=offset)


@router.get(
    "/cars/bookings/{booking_id:uuid}", response_model=CarBookingOut, responses=NOT_FOUND, summary="A car booking"
)
async def get_booking(booking_id: uuid.UUID, actor: Anyone, session: SessionDep) -> CarBookingOut:
    return _booking_out(await repository.booking_for(session, actor=actor, booking_id=booking_id))


@router.post(
    "/cars/bookings/{booking_id:uuid}/cancel", response_model=CarBookingOut, responses=CHANGES, summary="Cancel"
)
async def cancel(
    booking_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> CarBookingOut:
    """Free until `MAEUL_CANCELLATION_FREE_MINUTES` before the start; later, `MAEUL_CANCELLATION_FEE_BP` of the
    quote."""
    booking = await bookings.cancel(session, actor=actor, booking_id=booking_id, rules=_rules(state), now=now)
    out = _booking_out(booking)
    await session.commit()
    return out


@router.post(
    "/cars/bookings/{booking_id:uuid}/pick-up",
    response_model=CarBookingOut,
    responses=CHANGES,
    summary="Pick the car up",
)
async def pick_up(
    booking_id: uuid.UUID, body: ConditionIn, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> CarBookingOut:
    """At its home slot, from `MAEUL_EARLY_CHECK_IN_MINUTES` before the start until `MAEUL_NO_SHOW_GRACE_MINUTES`
    after it: the trip starts (MDS `trip_start`), with the condition found (a checklist, a note, photo keys). 409
    `car_not_back` while the booking before has not returned it."""
    booking = await bookings.pick_up(
        session,
        actor=actor,
        booking_id=booking_id,
        checklist=body.checklist,
        note=body.note,
        photos=body.photos,
        rules=_rules(state),
        now=now,
    )
    out = _booking_out(booking)
    await session.commit()
    return out


@router.post(
    "/cars/bookings/{booking_id:uuid}/return",
    response_model=CarBookingOut,
    responses={**PAYS, 403: {"model": ErrorOut}},
    summary="Return the car",
)
async def return_car(
    booking_id: uuid.UUID, body: CarReturnIn, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> CarBookingOut:
    """At its home slot (its last fresh position within `MAEUL_CAR_RETURN_RADIUS_M`: else 409 `car_not_home`; with
    its device silent an operator returns it, entering the odometer and battery). The fare's lines: the booked time
    (and any late time) by tariff and band, the km at `MAEUL_CAR_PER_KM_KRW`, and the late-return, low-battery and
    cleaning fees; captured from the hold (the rest from the wallet), split, and the trip completed (MDS
    `trip_end`) on the ledger."""
    booking = await bookings.return_car(
        session,
        actor=actor,
        booking_id=booking_id,
        checklist=body.checklist,
        note=body.note,
        photos=body.photos,
        odometer_km=body.odometer_km,
        battery_pct=body.battery_pct,
        rules=_rules(state),
        now=now,
    )
    out = _booking_out(booking)
    await session.commit()
    return out


# ---------------------------------------------------------------- condition reports and photos


@router.post(
    "/cars/photos",
    response_model=PhotoOut,
    status_code=201,
    responses={
        422: {"model": ErrorOut, "description": "invalid_photo: not a JPEG or PNG, or too large"},
        429: {"model": ErrorOut, "description": "photo_quota_exceeded (with `Retry-After`)"},
    },
    summary="Upload a photo for a condition report",
)
async def upload_photo(
    actor: Photographer,
    state: StateDep,
    session: SessionDep,
    now: NowDep,
    file: Annotated[UploadFile, File(description="a JPEG or PNG")],
) -> PhotoOut:
    """Kept through the storage boundary (a local directory by default); name the returned key in a pick-up's or
    return's `photos` within a day (a photo no report names is removed then). Drivers and the crew upload, at most
    `MAEUL_PHOTOS_PER_DAY` a day each (429 `photo_quota_exceeded`). The bytes decide the type, not the claim."""
    data = await file.read(state.settings.photo_max_bytes + 1)
    if len(data) > state.settings.photo_max_bytes:
        raise InvalidPhoto(f"a photo may be at most {state.settings.photo_max_bytes:,} bytes")
    kind = sniff(data)
    if kind is None:
        raise InvalidPhoto("a photo is a JPEG or a PNG")
    await photos.take_turn(state.redis, account_id=actor.id, per_day=state.settings.photos_per_day, now=now)
    key = await state.photos.put(data, content_type=kind)
    await photos.record(session, key=key, account_id=actor.id, size=len(data), now=now)
    await session.commit()
    return PhotoOut(key=key, bytes=len(data))


@router.get(
    "/cars/photos/{key}",
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 404: {"model": ErrorOut}},
    response_class=Response,
    summary="A condition-report photo",
)
async def get_photo(key: str, actor: Operator, state: StateDep) -> Response:
    found = await state.photos.get(key)
    if found is None:
        raise NotFound(f"no photo {key}")
    data, content_type = found
    return Response(data, media_type=content_type)


def _report_out(report: ConditionReport) -> ConditionReportOut:
    return ConditionReportOut(
        id=report.id,
        booking_id=report.booking_id,
        stage=report.stage,
        checklist=report.checklist,
        note=report.note,
        photos=report.photos,
        needs_attention=report.needs_attention,
        created_at=report.created_at,
        handled_at=report.handled_at,
    )


@router.get("/cars/condition-reports", response_model=Page[ConditionReportOut], summary="The condition reports' queue")
async def condition_reports(
    actor: Operator,
    session: SessionDep,
    needs_attention: bool | None = None,
    handled: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The latest first; `needs_attention=true&handled=false` is the operators' queue (a failed checklist item or
    a note)."""
    found = await repository.condition_reports(
        session, needs_attention=needs_attention, handled=handled, limit=limit + 1, offset=offset
    )
    return page([_report_out(r) for r in found], limit=limit, offset=offset)


@router.post(
    "/cars/condition-reports/{report_id:uuid}/handled",
    response_model=ConditionReportOut,
    responses=NOT_FOUND,
    summary="Mark a condition report handled",
)
async def handle_report(report_id: uuid.UUID, actor: Operator, session: SessionDep, now: NowDep) -> ConditionReportOut:
    report = await reports.handle_report(session, actor=actor, report_id=report_id, now=now)
    out = _report_out(report)
    await session.commit()
    return out


# ---------------------------------------------------------------- rebooking offers


def _offer_out(offer: RebookingOffer) -> RebookingOfferOut:
    return RebookingOfferOut(
        id=offer.id,
        booking_id=offer.booking_id,
        alternative_car_id=offer.alternative_car_id,
        status=offer.status,
        created_at=offer.created_at,
    )


@router.get("/cars/offers", response_model=list[RebookingOfferOut], summary="Rebooking offers")
async def offers(actor: Anyone, session: SessionDep) -> list[RebookingOfferOut]:
    """Offers made to you because the car of your booking is late (operators: all), the latest first."""
    return [_offer_out(offer) for offer, _ in await repository.offers(session, actor=actor)]


@router.post(
    "/cars/offers/{offer_id:uuid}/accept",
    response_model=CarBookingOut,
    responses=PAYS,
    summary="Take the other car",
)
async def accept_offer(
    offer_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> CarBookingOut:
    """Your booking moves to the offered car (the old one is cancelled free, the new one quoted and held)."""
    _, booking = await rebooking.settle_offer(
        session, actor=actor, offer_id=offer_id, accept=True, rules=_rules(state), now=now
    )
    out = _booking_out(booking)
    await session.commit()
    return out


@router.post(
    "/cars/offers/{offer_id:uuid}/refund",
    response_model=CarBookingOut,
    responses=CHANGES,
    summary="Take the refund",
)
async def refund_offer(
    offer_id: uuid.UUID, actor: Anyone, state: StateDep, session: SessionDep, now: NowDep
) -> CarBookingOut:
    """Your booking is cancelled with no fee and everything held released."""
    _, booking = await rebooking.settle_offer(
        session, actor=actor, offer_id=offer_id, accept=False, rules=_rules(state), now=now
    )
    out = _booking_out(booking)
    await session.commit()
    return out


# ---------------------------------------------------------------- carpools


def _party(party: carpools.Party, *, insider: bool) -> PartyOut:
    """Who rides with whom is for those in the carpool (and the operators): anyone else sees a display name only."""
    account_id = party.account_id if insider else None
    return PartyOut(account_id=account_id, display_name=party.display_name, rating=party.rating)


async def _carpool_out(session: SessionDep, carpool: Carpool, viewer: Actor) -> CarpoolOut:
    """The driver (and operators) see every seat; a rider their own; everyone only display names."""
    seats = await carpools.seats_of(session, carpool.id)
    people = await carpools.parties(session, [carpool.driver_id, *(s.rider_id for s in seats)])
    taken = sum(s.status in (SeatStatus.ACCEPTED, SeatStatus.RIDDEN) for s in seats)
    sees_all = viewer.id == carpool.driver_id or viewer.is_operator
    shown = seats if sees_all else [s for s in seats if s.rider_id == viewer.id]
    insider = sees_all or bool(shown)
    origin_lon, origin_lat, to_lon, to_lat = await carpools.ends_of(session, carpool.id)
    return CarpoolOut(
        id=carpool.id,
        driver=_party(people[carpool.driver_id], insider=insider),
        origin=Location(lon=origin_lon, lat=origin_lat),
        destination=Location(lon=to_lon, lat=to_lat),
        depart_from=carpool.depart_from,
        depart_until=carpool.depart_until,
        seats=carpool.seats,
        seats_taken=taken,
        cost_krw=carpool.cost_krw,
        share_now_krw=carpools.share(carpool.cost_krw, max(1, taken)),
        status=carpool.status,
        seats_detail=[
            SeatOut(id=s.id, rider=_party(people[s.rider_id], insider=True), status=s.status, share_krw=s.share_krw)
            for s in shown
        ],
    )


@carpool_router.post(
    "/carpools",
    response_model=CarpoolOut,
    status_code=201,
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Offer seats on a car trip",
)
async def offer_carpool(body: CarpoolIn, actor: Driver, session: SessionDep, now: NowDep) -> CarpoolOut:
    """On a trip within a car booking of yours (404 otherwise), departing in [depart_from, depart_until): `seats`
    seats, `cost_krw` to share (at most the booking's quote). Each accepted rider will pay cost / (riders + 1)."""
    carpool = await carpools.offer(
        session,
        driver=actor,
        booking_id=body.booking_id,
        origin=(body.origin.lon, body.origin.lat),
        destination=(body.destination.lon, body.destination.lat),
        depart_from=body.depart_from,
        depart_until=body.depart_until,
        seats=body.seats,
        cost_krw=body.cost_krw,
        now=now,
    )
    out = await _carpool_out(session, carpool, actor)
    await session.commit()
    return out


@carpool_router.get("/carpools", response_model=Page[CarpoolOut], summary="Open carpools")
async def list_carpools(
    actor: Anyone, session: SessionDep, now: NowDep, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    """Carpools still open for seats, the soonest departure first."""
    found = await carpools.open_carpools(session, now=now, limit=limit + 1, offset=offset)
    return page([await _carpool_out(session, c, actor) for c in found], limit=limit, offset=offset)


@carpool_router.get("/carpools/{carpool_id:uuid}", response_model=CarpoolOut, responses=NOT_FOUND, summary="A carpool")
async def get_carpool(carpool_id: uuid.UUID, actor: Anyone, session: SessionDep) -> CarpoolOut:
    return await _carpool_out(session, await carpools.carpool_for(session, carpool_id), actor)


@carpool_router.post(
    "/carpools/{carpool_id:uuid}/seats",
    response_model=CarpoolOut,
    status_code=201,
    responses={**CHANGES, 422: {"model": ErrorOut}},
    summary="Ask for a seat",
)
async def ask_seat(carpool_id: uuid.UUID, actor: Driver, session: SessionDep, now: NowDep) -> CarpoolOut:
    """Once per carpool; the driver accepts or declines."""
    await carpools.ask(session, rider=actor, carpool_id=carpool_id, now=now)
    out = await _carpool_out(session, await carpools.carpool_for(session, carpool_id), actor)
    await session.commit()
    return out


@carpool_router.delete(
    "/carpools/{carpool_id:uuid}/seats/mine",
    response_model=CarpoolOut,
    responses=CHANGES,
    summary="Give up your seat",
)
async def leave_seat(carpool_id: uuid.UUID, actor: Driver, session: SessionDep, now: NowDep) -> CarpoolOut:
    """Before the carpool completes; what was held for it is released."""
    await carpools.leave(session, rider=actor, carpool_id=carpool_id, now=now)
    out = await _carpool_out(session, await carpools.carpool_for(session, carpool_id), actor)
    await session.commit()
    return out


async def _answer(
    carpool_id: uuid.UUID, seat_id: uuid.UUID, actor: Actor, session: SessionDep, now: datetime, *, accept: bool
) -> CarpoolOut:
    await carpools.answer(session, driver=actor, carpool_id=carpool_id, seat_id=seat_id, accept=accept, now=now)
    out = await _carpool_out(session, await carpools.carpool_for(session, carpool_id), actor)
    await session.commit()
    return out


@carpool_router.post(
    "/carpools/{carpool_id:uuid}/seats/{seat_id:uuid}/accept",
    response_model=CarpoolOut,
    responses={**PAYS, 403: {"model": ErrorOut}},
    summary="Accept a seat request",
)
async def accept_seat(
    carpool_id: uuid.UUID, seat_id: uuid.UUID, actor: Driver, session: SessionDep, now: NowDep
) -> CarpoolOut:
    """The rider's largest possible share (cost / 2) is held on their wallet (402 when it cannot be); 409
    `carpool_full` when every seat is taken."""
    return await _answer(carpool_id, seat_id, actor, session, now, accept=True)


@carpool_router.post(
    "/carpools/{carpool_id:uuid}/seats/{seat_id:uuid}/decline",
    response_model=CarpoolOut,
    responses={**CHANGES, 403: {"model": ErrorOut}},
    summary="Decline a seat request",
)
async def decline_seat(
    carpool_id: uuid.UUID, seat_id: uuid.UUID, actor: Driver, session: SessionDep, now: NowDep
) -> CarpoolOut:
    return await _answer(carpool_id, seat_id, actor, session, now, accept=False)


@carpool_router.post(
    "/carpools/{carpool_id:uuid}/cancel",
    response_model=CarpoolOut,
    responses={**CHANGES, 403: {"model": ErrorOut}},
    summary="Call a carpool off",
)
async def cancel_carpool(carpool_id: uuid.UUID, actor: Anyone, session: SessionDep, now: NowDep) -> CarpoolOut:
    """Every seat is released, with what was held for it."""
    carpool = await carpools.cancel(session, driver=actor, carpool_id=carpool_id, now=now)
    out = await _carpool_out(session, carpool, actor)
    await session.commit()
    return out


@carpool_router.post(
    "/carpools/{carpool_id:uuid}/complete",
    response_model=CarpoolOut,
    responses={**CHANGES, 403: {"model": ErrorOut}},
    summary="Complete a carpool: the riders pay their shares",
)
async def complete_carpool(carpool_id: uuid.UUID, actor: Driver, session: SessionDep, now: NowDep) -> CarpoolOut:
    """Each accepted rider pays cost / (riders + 1) into the driver's wallet (journal and ledger); the rest of what
    was held is released."""
    carpool = await carpools.complete(session, driver=actor, carpool_id=carpool_id, now=now)
    out = await _carpool_out(session, carpool, actor)
    await session.commit()
    return out


@carpool_router.post(
    "/carpools/{carpool_id:uuid}/ratings",
    response_model=PartyOut,
    status_code=201,
    responses={**CHANGES, 403: {"model": ErrorOut}},
    summary="Rate the driver or a rider",
)
async def rate(carpool_id: uuid.UUID, body: RatingIn, actor: Driver, session: SessionDep, now: NowDep) -> PartyOut:
    """After a completed carpool: the driver each rider, a rider the driver, once; the answer is the rated person as
    others see them (their mean rating)."""
    await carpools.rate(
        session,
        rater=actor,
        carpool_id=carpool_id,
        rated_id=body.rated_id,
        score=body.score,
        comment=body.comment,
        now=now,
    )
    out = _party((await carpools.parties(session, [body.rated_id]))[body.rated_id], insider=True)  # rode together
    await session.commit()
    return out
