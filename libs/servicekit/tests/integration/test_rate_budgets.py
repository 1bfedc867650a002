"""MongoRateBudgets on the real database: takes of one key that queue behind a write are
decided together (issue 18), exactly as if taken one by one, in far fewer writes; instances
sharing a budget never pass more than it allows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.ratelimit import (
    SWEEP_MARGIN_MS,
    Budget,
    MemoryRateBudgets,
    MongoRateBudgets,
)

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
T0 = 1_700_000_000_000


class CountingCollection:
    """The real collection, counting the writes made through it."""

    def __init__(self, col: AsyncCollection[Doc]) -> None:
        self.col, self.writes = col, 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.col, name)
        if name in ("update_one", "insert_one"):
            self.writes += 1
        return attr


async def sequential(budget: Budget, key: str, times: list[int]) -> list[float]:
    memory = MemoryRateBudgets(budget)
    return [await memory.take(key, t) for t in times]


@pytest.mark.parametrize(
    ("burst", "rate", "times"),
    [
        (5, 1.0, [T0] * 12),  # a burst beyond the budget at one instant
        (5, 1.0, [T0 + 7 * i for i in range(40)]),  # arrivals spread over a refill
        (20, 20.0, [T0 + (i // 10) * 400 for i in range(60)]),  # groups a refill apart
        (3, 0.5, [T0 + i * 1000 for i in range(10)]),  # slower than the refill
    ],
)
async def test_takes_decided_together_equal_takes_one_by_one(
    mongo_db: AsyncDatabase[Doc], burst: int, rate: float, times: list[int]
) -> None:
    budget = Budget(burst, rate)
    counting = CountingCollection(mongo_db["budgets"])
    budgets = MongoRateBudgets(counting, budget)  # type: ignore[arg-type]
    await mongo_db["budgets"].insert_one({"_id": "other", "tat_ms": T0 + 10**9})
    waits = await asyncio.gather(*(budgets.take("k", t) for t in times))
    assert list(waits) == await sequential(budget, "k", times)
    assert counting.writes <= 3  # one per group (the first take goes alone)
    assert await mongo_db["budgets"].find_one({"_id": "other"}) == {
        "_id": "other",
        "tat_ms": T0 + 10**9,
    }


async def test_instances_sharing_a_budget_never_pass_more_than_it_allows(
    mongo_db: AsyncDatabase[Doc],
) -> None:
    budget = Budget(10, 1.0)
    instances = [MongoRateBudgets(mongo_db["budgets"], budget) for _ in range(3)]
    for instance in instances:  # each remembers the tat it wrote last
        assert await instance.take("k", T0) == 0.0
    waits = await asyncio.gather(
        *(instances[i % 3].take("k", T0 + i) for i in range(30)),
    )
    assert sum(1 for w in waits if w == 0.0) == 10 - 3  # the burst, less the three taken first


async def test_a_sweep_deletes_exactly_the_budgets_whose_tat_passed_beyond_the_margin(
    mongo_db: AsyncDatabase[Doc],
) -> None:
    col = mongo_db["budgets"]
    now = T0
    await col.insert_many(
        [
            {"_id": "long-idle", "tat_ms": now - SWEEP_MARGIN_MS - 1},
            {"_id": "just-idle", "tat_ms": now - SWEEP_MARGIN_MS + 1},
            {"_id": "full-now", "tat_ms": now},
            {"_id": "spending", "tat_ms": now + 3_000},
            {"_id": "foreign", "other": 1},  # no tat: not a budget, never deleted
        ]
    )
    budgets = MongoRateBudgets(col, Budget(5, 1.0))
    assert await budgets.sweep(now) == 1
    left = sorted([d["_id"] async for d in col.find({})])
    assert left == ["foreign", "full-now", "just-idle", "spending"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    burst=st.integers(1, 6),
    rate=st.sampled_from([0.5, 1.0, 5.0, 20.0]),
    steps=st.lists(
        st.tuples(st.integers(0, 200_000), st.integers(1, 4), st.booleans()),
        min_size=1,
        max_size=12,
    ),
)
async def test_sweeps_never_change_a_decision(
    mongo_db: AsyncDatabase[Doc], burst: int, rate: float, steps: list[tuple[int, int, bool]]
) -> None:
    """Takes at any times, alone or decided together, with sweeps before, between and racing
    with them, decide exactly as one budget in memory that never forgets."""
    col = mongo_db["budgets"]
    await col.delete_many({})
    budget = Budget(burst, rate)
    budgets = MongoRateBudgets(col, budget, sweep_s=3600)
    memory = MemoryRateBudgets(budget)
    now = T0
    for gap_ms, together, sweep in steps:
        now += gap_ms
        expected = [await memory.take("k", now) for _ in range(together)]
        takes = [budgets.take("k", now) for _ in range(together)]
        results = await asyncio.gather(*([budgets.sweep(now)] if sweep else []), *takes)
        assert list(results[1:] if sweep else results) == expected


async def test_takes_start_a_sweep_at_most_once_a_period(mongo_db: AsyncDatabase[Doc]) -> None:
    col = mongo_db["budgets"]
    await col.insert_one({"_id": "idle", "tat_ms": T0 - SWEEP_MARGIN_MS - 1})
    deletes: list[Any] = []

    class Watched(CountingCollection):
        async def delete_many(self, query: Any) -> Any:
            deletes.append(query)
            return await self.col.delete_many(query)

    budgets = MongoRateBudgets(Watched(col), Budget(5, 1.0), sweep_s=3600)  # type: ignore[arg-type]
    for i in range(5):
        await budgets.take("k", T0 + i)
    await asyncio.sleep(0.05)
    assert deletes == [{"tat_ms": {"$lt": T0 - SWEEP_MARGIN_MS}}]
    assert await col.find_one({"_id": "idle"}) is None
