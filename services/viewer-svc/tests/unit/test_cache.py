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


async def test_a_recently_expired_entry_is_answered_while_one_refresh_runs() -> None:
    now = [0.0]
    cache = TtlCache(ttl_s=1.0, clock=lambda: now[0])
    gate = asyncio.Event()
    values = iter(["v1", "v2"])

    async def load() -> str:
        if loads:
            await gate.wait()
        loads.append(1)
        return next(values)

    loads: list[int] = []
    assert await cache.get("k", load) == "v1"
    now[0] = 1.5  # expired half a ttl ago: stale answers, one refresh in the background
    assert [await cache.get("k", load) for _ in range(3)] == ["v1"] * 3
    gate.set()
    await asyncio.sleep(0.01)
    assert await cache.get("k", load) == "v2"
    assert loads == [1, 1]
    now[0] = 10.0  # long expired: the caller waits for the load
    values = iter(["v3"])
    assert await cache.get("k", load) == "v3"
