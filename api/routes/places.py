"""Zones and lots: where the service runs and how slots are grouped."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import Anyone, Operator
from api.deps import SessionDep
from api.idempotency import IdempotencyKeyHeader, create_once
from api.schemas.common import ErrorOut, Location, Page, page
from api.schemas.parking import LotIn, LotOut, ZoneOut
from geo.repository import list_zones
from parking import repository, service
from parking.models import Lot

router = APIRouter(tags=["zones and lots"])

Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
Offset = Annotated[int, Query(ge=0, le=100_000)]


@router.get("/zones", response_model=list[ZoneOut], summary="Service zones (GeoJSON)")
async def zones(actor: Anyone, session: SessionDep) -> list[ZoneOut]:
    return [ZoneOut(id=z.id, code=z.code, name=z.name, area=z.area) for z in await list_zones(session)]


def _lot_out(lot: Lot, lon: float, lat: float, slot_count: int) -> LotOut:
    return LotOut(
        id=lot.id,
        name=lot.name,
        kind=lot.kind,
        zone_id=lot.zone_id,
        owner_id=lot.owner_id,
        operator_id=lot.operator_id,
        location=Location(lon=lon, lat=lat),
        slot_count=slot_count,
    )


@router.get("/lots", response_model=Page[LotOut], summary="Parking lots")
async def lots(actor: Anyone, session: SessionDep, limit: Limit = 50, offset: Offset = 0) -> dict[str, object]:
    rows = await repository.list_lots(session, limit=limit + 1, offset=offset)
    return page([_lot_out(*row) for row in rows], limit=limit, offset=offset)


@router.post(
    "/lots",
    response_model=LotOut,
    status_code=201,
    responses={404: {"model": ErrorOut, "description": "`account_not_found` (the owner given)"}},
    summary="Register a lot (village enterprise staff, admin)",
)
async def create_lot(
    body: LotIn, actor: Operator, session: SessionDep, idempotency_key: IdempotencyKeyHeader = None
) -> LotOut:
    """A public lot (owned by the city, usually entrusted to the village enterprise as operator) or a private lot.
    The zone is found from the location; outside every zone is refused with `outside_service_area`."""

    async def work() -> LotOut:
        lot = await service.create_lot(
            session,
            name=body.name,
            kind=body.kind,
            lon=body.location.lon,
            lat=body.location.lat,
            owner_id=body.owner_id,
            operator_id=body.operator_id,
        )
        return _lot_out(lot, body.location.lon, body.location.lat, 0)

    return await create_once(  # type: ignore[return-value]
        session, actor=actor, key=idempotency_key, operation="POST /lots", payload=body, work=work
    )
