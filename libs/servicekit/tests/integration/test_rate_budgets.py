"""MongoRateBudgets on the real database: takes of one key that queue behind a write are
decided together (issue 18), exactly as if taken one by one, in far fewer writes; instances
sharing a budget never pass more than it allows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.ratelimit import Budget, MemoryRateBudgets, MongoRateBudgets

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
    await mongo_db["budgets"].insert_one({"_id": "other", "tat_ms": 5})
    waits = await asyncio.gather(*(budgets.take("k", t) for t in times))
    assert list(waits) == await sequential(budget, "k", times)
    assert counting.writes <= 3  # one per group (the first take goes alone)
    assert await mongo_db["budgets"].find_one({"_id": "other"}) == {"_id": "other", "tat_ms": 5}


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
