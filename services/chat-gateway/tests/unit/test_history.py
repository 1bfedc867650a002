"""Connects to one room share one history read (issue 17: a connection storm read the history
once per socket from the database chat posting uses)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chat_gateway.history import SharedRecent


def reader(log: list[tuple[str, int]], fail: bool = False) -> Any:
    async def read(stream_id: str, limit: int) -> list[dict[str, Any]]:
        log.append((stream_id, limit))
        await asyncio.sleep(0.01)
        if fail:
            raise RuntimeError("boom")
        return [{"seq": len(log)}]

    return read


async def test_concurrent_connects_share_one_read() -> None:
    log: list[tuple[str, int]] = []
    shared = SharedRecent(reader(log), window_s=0.01)
    results = await asyncio.gather(*(shared.recent("s", 50) for _ in range(100)))
    assert log == [("s", 50)]
    assert all(r == [{"seq": 1}] for r in results)


async def test_a_caller_after_the_read_started_gets_a_read_of_its_own() -> None:
    """Its read must start after it joined the room, or a message between would be lost."""
    log: list[tuple[str, int]] = []
    shared = SharedRecent(reader(log), window_s=0.01)
    first = asyncio.create_task(shared.recent("s", 50))
    await asyncio.sleep(0.015)  # the first read has started
    second = await shared.recent("s", 50)
    assert await first == [{"seq": 1}]
    assert second == [{"seq": 2}]
    assert shared.reads == 2


async def test_rooms_and_sizes_are_read_separately() -> None:
    log: list[tuple[str, int]] = []
    shared = SharedRecent(reader(log), window_s=0.01)
    await asyncio.gather(shared.recent("a", 50), shared.recent("b", 50), shared.recent("a", 10))
    assert sorted(log) == [("a", 10), ("a", 50), ("b", 50)]


async def test_a_failed_read_fails_every_caller_that_shared_it() -> None:
    shared = SharedRecent(reader([], fail=True), window_s=0.01)
    results = await asyncio.gather(
        *(shared.recent("s", 5) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError):
        await shared.recent("s", 5)
