"""The slot search uses the spatial index (EXPLAIN on a district-sized table)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from parking import repository
from parking.repository import SlotFilters
from sim.pilot import CENTRE
from tests.conftest import NOW
from tests.factories import make_account, make_zone

SLOTS = 20_000


async def test_search_plan_uses_the_gist_index(session: AsyncSession):
    await make_zone(session, half_side_m=15_000)
    owner = await make_account(session)
    zone_id = (await session.execute(text("SELECT id FROM zones ORDER BY created_at DESC LIMIT 1"))).scalar_one()
    # 20,000 slots scattered over about 20 km x 20 km around the village
    await session.execute(
        text(
            "INSERT INTO slots (id, code, kind, zone_id, owner_id, location, ev_charger, accessible, size, active) "
            "SELECT gen_random_uuid(), 'bulk-' || n, 'private_individual', :zone, :owner, "
            "ST_SetSRID(ST_MakePoint(126.78 + (random() - 0.5) * 0.22, 37.52 + (random() - 0.5) * 0.18), 4326)"
            "::geography, "
            "false, false, 'regular', true FROM generate_series(1, :n) n"
        ),
        {"zone": zone_id, "owner": owner.id, "n": SLOTS},
    )
    await session.execute(text("ANALYZE slots"))
    start = NOW + timedelta(hours=3)
    query, values = repository.free_slots_query(
        lon=CENTRE[0],
        lat=CENTRE[1],
        radius_m=400,
        start=start,
        end=start + timedelta(hours=2),
        timezone="Asia/Seoul",
        filters=SlotFilters(),
        limit=20,
        offset=0,
    )
    compiled = query.params(values).compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    raw = await (await session.connection()).get_raw_connection()
    plan = await raw.driver_connection.fetchval(f"EXPLAIN (FORMAT JSON) {compiled.string}")
    nodes = list(_nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]))
    on_slots = [(n["Node Type"], n.get("Index Name")) for n in nodes if n.get("Relation Name") == "slots"]
    assert on_slots, nodes
    assert ("Seq Scan", None) not in on_slots, on_slots
    assert any(n.get("Index Name") == "idx_slots_location" for n in nodes), on_slots


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
