"""The read cache of the join path."""

from __future__ import annotations

import asyncio

from viewer_svc.cache import TtlCache


async def test_a_read_that_overlaps_an_event_is_not_kept() -> None:
    cache = TtlCache(ttl_s=60)
    gate = asyncio.Event()
    loads: list[str] = []

    async def slow_old() -> str:
        loads.append("old")
        await gate.wait()
        return "before the ban"

    async def fresh() -> str:
        loads.append("new")
        return "after the ban"

    reading = asyncio.create_task(cache.get(("bans", "s1"), slow_old))
    await asyncio.sleep(0)
    cache.forget(lambda key: isinstance(key, tuple) and key[1] == "s1")  # the ban event
    gate.set()
    assert await reading == "before the ban"
    assert await cache.get(("bans", "s1"), fresh) == "after the ban"
    assert loads == ["old", "new"]


async def test_callers_that_miss_together_share_one_load() -> None:
    cache = TtlCache(ttl_s=60)
    gate = asyncio.Event()
    loads: list[int] = []

    async def load() -> int:
        loads.append(1)
        await gate.wait()
        return 7

    readers = [asyncio.create_task(cache.get(("count", "s1"), load)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*readers) == [7] * 5
    assert loads == [1]
    assert await cache.get(("count", "s1"), load) == 7  # kept
    assert loads == [1]
