"""Recent history for connecting clients, read once for many (issue 17: during a connection
storm every connect read the history from the database that chat posting uses).

Connects to one room that arrive within ``window_s`` of each other share one read. A read starts
only after every caller that shares it has asked, and callers join the room before they ask, so
a message delivered in between is either in the read or held for the caller (the hub's
syncing mode): sharing loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")
ReadRecent = Callable[[str, int], Coroutine[Any, Any, list[T]]]


class SharedRecent(Generic[T]):
    """``recent(stream_id, limit)`` coalesced per ``(stream_id, limit)``; ``read`` returns what
    every caller gets (message frames, built once for all of them)."""

    def __init__(self, read: ReadRecent[T], *, window_s: float = 0.02) -> None:
        self._read = read
        self._window = window_s
        self._open: dict[tuple[str, int], asyncio.Future[list[T]]] = {}
        self.reads = 0  # database reads made (for tests and metrics)

    async def recent(self, stream_id: str, limit: int) -> list[T]:
        """The last ``limit`` visible messages of the stream, oldest first (do not modify)."""
        key = (stream_id, limit)
        shared = self._open.get(key)
        if shared is None:
            loop = asyncio.get_running_loop()
            shared = self._open[key] = loop.create_future()
            loop.call_later(self._window, self._start, key, shared)
        return await asyncio.shield(shared)

    def _start(self, key: tuple[str, int], shared: asyncio.Future[list[T]]) -> None:
        if self._open.get(key) is shared:
            del self._open[key]  # later callers start a read of their own
        self.reads += 1
        task: asyncio.Task[list[T]] = asyncio.get_running_loop().create_task(self._read(*key))

        def done(t: asyncio.Task[list[T]]) -> None:
            if shared.done():
                return
            if t.cancelled():
                shared.cancel()
            elif t.exception() is not None:
                shared.set_exception(t.exception())  # type: ignore[arg-type]
                shared.exception()  # retrieved: the callers re-raise it
            else:
                shared.set_result(t.result())

        task.add_done_callback(done)
