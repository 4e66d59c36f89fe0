"""Rebalancing and battery swaps: the areas' targets, and the crews' tours planned with OR-Tools."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Monitor, Operator
from api.deps import NowDep, SessionDep, StateDep
from api.routes.tasks import task_outs
from api.schemas.ops import AreaTargetOut, CrewPlanOut, TargetsOut
from ops import crew

router = APIRouter(tags=["tasks"])


@router.get("/rebalancing/targets", response_model=TargetsOut, summary="Each parking area's target and supply")
async def targets(actor: Monitor, state: StateDep, session: SessionDep, now: NowDep) -> TargetsOut:
    """Per parking area and vehicle type: the target for the hour the next tours end in (the mean of the trips that
    started there in that hour on past days of the same kind, rounded up, plus a reserve), the available charged
    vehicles there now, and the shortfall."""
    seen = await crew.snapshot(session, rules=state.crew, now=now, busy=set())
    return TargetsOut(
        hour=seen.hour,
        areas=[
            AreaTargetOut(
                geofence_id=t.geofence_id,
                name=t.name,
                vehicle_type=t.type_code,
                target=t.target,
                supply=t.supply,
                shortfall=max(0, t.target - t.supply),
            )
            for t in seen.targets()
        ],
    )


@router.post("/rebalancing/plan", response_model=CrewPlanOut, summary="Plan the crews' tours now")
async def plan(actor: Operator, state: StateDep, session: SessionDep, now: NowDep) -> CrewPlanOut:
    """Every crew member on shift who is not on a tour gets one: vehicles to take from where there are too many
    (or from outside every parking area) to areas short of their target, and flat vehicles to swap. Tours not yet
    started are replaced; tours under way are kept. The worker does this by itself every half hour."""
    planned = await crew.plan(session, rules=state.crew, pool=state.solver_pool, now=now)
    out = CrewPlanOut(
        crew_planned=planned.crew_planned,
        crew_on_tour=planned.crew_on_tour,
        tasks=await task_outs(session, planned.tasks),
        unmet_before=planned.score.unmet_before,
        unmet_after=planned.score.unmet_units,
        flat_before=planned.score.flat_before,
        flat_after=planned.score.flat_left,
        crew_hours=round(planned.score.crew_hours, 3),
        solve_ms=round(planned.solve_s * 1000),
    )
    await session.commit()
    return out
