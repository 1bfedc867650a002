"""Per-instance, short-lived copies of what the join path reads.

A bounded staleness traded for fewer database round trips on the hottest route: the stream
view, the bans and the accounts counted in a join response are at most ``ttl_s`` old (1 s),
or up to twice that while a refresh runs in the background. A
ban therefore stops joins within a second (the ban event also ends the viewer's sessions at
once). A read that was in flight when an event forgot entries is answered but not kept, so a
copy read before the event never outlives it (the register/snapshot rule of
``servicekit.catchup`` in its smallest form: the only change here is "forget"). Presence itself
is never written per request: see ``domain/presence.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class TtlCache:
    def __init__(
        self, ttl_s: float, clock: Callable[[], float] = time.monotonic, max_items: int = 100_000
    ) -> None:
        self._ttl, self._clock, self._max = ttl_s, clock, max_items
        self._items: dict[object, tuple[float, object]] = {}
        self._forgotten = 0  # bumped by forget(): a read that overlapped it is not kept
        self._loading: dict[object, asyncio.Future[Any]] = {}

    async def get(self, key: object, load: Callable[[], Awaitable[T]]) -> T:
        """The cached value, or one load shared by every caller that asks while it runs (a
        burst of requests when an entry expires costs one database read, not one each). An
        entry expired less than ``ttl_s`` ago is still answered while one refresh runs in the
        background, so a request waits for the database only on a first read or after an
        event forgot the entry."""
        now = self._clock()
        hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[return-value]
        pending = self._loading.get(key)
        if pending is None:
            loading = self._load(key, now, self._forgotten, load)
            pending = self._loading[key] = asyncio.ensure_future(loading)
            pending.add_done_callback(_retrieved)
        if hit is not None and hit[0] + self._ttl > now:
            return hit[1]  # type: ignore[return-value]
        return await asyncio.shield(pending)  # type: ignore[no-any-return]

    async def _load(
        self, key: object, now: float, before: int, load: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            value = await load()
        finally:
            if self._loading.get(key) is asyncio.current_task():
                del self._loading[key]
        if before != self._forgotten:  # an event arrived while loading: the value may predate it
            return value
        if len(self._items) >= self._max:
            self._items.clear()
        self._items[key] = (now + self._ttl, value)
        return value

    def forget(self, predicate: Callable[[object], bool]) -> None:
        self._forgotten += 1
        self._loading.clear()  # a load under way may predate the event: later callers reload
        for key in [k for k in self._items if predicate(k)]:
            del self._items[key]


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A refresh nobody waited for may fail (the database is away): note it, keep the loop's
    log free of "exception never retrieved"."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("background refresh failed: %r", task.exception())


class HotPath:
    """The caches one instance keeps; ``None`` in ``Deps`` means none (unit tests)."""

    def __init__(self, ttl_s: float = 1.0) -> None:
        self.reads = TtlCache(ttl_s)

    def forget_stream(self, stream_id: str) -> None:
        self.reads.forget(lambda key: isinstance(key, tuple) and key[1] == stream_id)
