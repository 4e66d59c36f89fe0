"""The SQL function slot_windows against a brute-force reference on a 15-minute grid, on random cases."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parking import repository
from parking.models import ExceptionKind, SharingException, SharingRule
from parking.policy import MINUTES_PER_DAY
from tests.conftest import KST, NOW
from tests.factories import make_slot, make_zone

STEP = timedelta(minutes=15)
CASES = 300


def _reference_covered(rules, exceptions, start: datetime, end: datetime) -> bool:  # type: ignore[no-untyped-def]
    """Is every 15-minute step of [start, end) inside a weekly window or an extra, and outside every blackout?"""
    t = start
    while t < end:
        local = t.astimezone(KST)
        in_window = False
        for weekdays, start_minute, end_minute in rules:
            for back in (0, 1):  # the window may have started the previous day
                day = (local - timedelta(days=back)).replace(hour=0, minute=0)
                if day.isoweekday() in weekdays:
                    opens = day + timedelta(minutes=start_minute)
                    closes = day + timedelta(minutes=end_minute)
                    in_window |= opens <= local < closes
        for kind, ex_start, ex_end in exceptions:
            if kind == ExceptionKind.EXTRA and ex_start <= t < ex_end:
                in_window = True
        blacked_out = any(k == ExceptionKind.BLACKOUT and s <= t < e for k, s, e in exceptions)
        if not in_window or blacked_out:
            return False
        t += STEP
    return True


async def test_slot_windows_matches_reference(session: AsyncSession):
    rng = random.Random(7)
    await make_zone(session)
    slot_id = await make_slot(session, windows=[], now=NOW)
    base = NOW.replace(hour=0)
    mismatches = []
    outcomes = {True: 0, False: 0}
    for case in range(CASES):
        rules = []
        for _ in range(rng.randint(0, 3)):
            weekdays = sorted(rng.sample(range(1, 8), rng.randint(1, 7)))
            start_minute = rng.randrange(0, MINUTES_PER_DAY, 15)
            end_minute = start_minute + rng.randrange(15, MINUTES_PER_DAY + 1, 15)
            rules.append((weekdays, start_minute, end_minute))
        exceptions = []
        for _ in range(rng.randint(0, 2)):
            ex_start = base + STEP * rng.randrange(0, 4 * 24 * 4)
            exceptions.append((rng.choice(list(ExceptionKind)), ex_start, ex_start + STEP * rng.randint(1, 48)))
        start = base + STEP * rng.randrange(0, 4 * 24 * 3)
        end = start + STEP * rng.randint(1, 4 * 12)

        async with session.begin_nested() as savepoint:
            for weekdays, start_minute, end_minute in rules:
                session.add(
                    SharingRule(slot_id=slot_id, weekdays=weekdays, start_minute=start_minute, end_minute=end_minute)
                )
            for kind, ex_start, ex_end in exceptions:
                session.add(
                    SharingException(slot_id=slot_id, kind=kind, period=repository.half_open(ex_start, ex_end), note="")
                )
            await session.flush()
            got = await repository.windows_contain(session, slot_id, start, end, "Asia/Seoul")
            await savepoint.rollback()
        expected = _reference_covered(rules, exceptions, start, end)
        outcomes[expected] += 1
        if got != expected:
            mismatches.append((case, rules, exceptions, start, end, got, expected))
    assert mismatches == []
    assert min(outcomes.values()) >= 20, outcomes  # both answers are exercised
