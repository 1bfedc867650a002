"""Polling helpers for asynchronous outcomes (no fixed sleeps in tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["eventually"]


async def eventually(
    probe: Callable[[], T | Awaitable[T]], *, within: float = 10.0, interval: float = 0.05
) -> T:
    """Call ``probe`` until it returns something truthy; return it. Fails after ``within`` s.

    ``probe`` may be a plain function or a coroutine function.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: T | None = None
    while True:
        result = probe()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        last = result  # type: ignore[assignment]
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s (last value: {last!r})")
        await asyncio.sleep(interval)
