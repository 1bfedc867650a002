"""Slow-mode gates swept by other instances: whatever instance sweeps, whenever, with a clock
that differs from the poster's by less than the rate budgets' margin (a minute), a viewer waits
exactly as long as with gates that are never deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pymongo.asynchronous.database import AsyncDatabase

from chat_gateway.adapters.mongo import INDEXES, SLOW, ChatStore
from contracts.chat import MAX_SLOW_MODE_S
from servicekit.mongo import ensure_indexes, to_ms

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
#: Clocks of two gateways may differ by up to this much (the rate budgets' sweep margin).
SKEW_MS = 59_000

STEPS = st.lists(
    st.tuples(
        # ms since the previous post: soon after it, or about the longest interval later
        st.one_of(st.integers(0, 120_000), st.integers(3_540_000, 3_660_000)),
        st.sampled_from([1, 30, 600, MAX_SLOW_MODE_S]),  # the slow-mode interval (s)
        st.booleans(),  # another instance sweeps just before the post
        st.integers(-SKEW_MS, SKEW_MS),  # how far that instance's clock is ahead
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
@example(steps=[(0, MAX_SLOW_MODE_S, False, 0), (3_590_000, MAX_SLOW_MODE_S, True, 30_000)])
async def test_gate_sweeps_by_any_instance_never_change_a_decision(
    mongo_db: AsyncDatabase[dict[str, Any]], steps: list[tuple[int, int, bool, int]]
) -> None:
    await ensure_indexes(mongo_db, INDEXES)
    await mongo_db[SLOW].delete_many({})
    poster, sweeper = ChatStore(mongo_db), ChatStore(mongo_db)
    last: int | None = None  # the gate as if never deleted
    now = T0
    for gap_ms, interval_s, swept, skew_ms in steps:
        now += timedelta(milliseconds=gap_ms)
        if swept:
            await sweeper.sweep_gates(to_ms(now) + skew_ms)
        now_ms = to_ms(now)
        if last is None or last <= now_ms - interval_s * 1000:
            expected, last = 0.0, now_ms
        else:
            expected = max(0.1, (last + interval_s * 1000 - now_ms) / 1000)
        got = await poster.pass_slow_gate("s", "viewer", interval_s, now)
        assert got == expected, (now_ms, last, interval_s)
