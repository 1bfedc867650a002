"""Per-instance, short-lived copies of what the join path reads, and a write throttle.

Each is a bounded staleness traded for fewer database round trips on the hottest route:

* stream view, bans and the count shown in a join response: at most ``ttl_s`` old (1 s). A
  ban therefore stops joins within a second (the ban event also removes the viewer at once).
  A read that was in flight when an event forgot entries is answered but not kept, so a copy
  read before the event never outlives it (the register/snapshot rule of
  ``servicekit.catchup`` in its smallest form: the only change here is "forget");
* a heartbeat or repeated join within ``touch_every_s`` (5 s) of the last write of the same
  presence writes nothing: the presence timeout (30 s) is far longer;
* streams whose count changed are collected in memory and marked in the database by the
  count loop (every quarter interval) instead of once per join.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class TtlCache:
    def __init__(
        self, ttl_s: float, clock: Callable[[], float] = time.monotonic, max_items: int = 100_000
    ) -> None:
        self._ttl, self._clock, self._max = ttl_s, clock, max_items
        self._items: dict[object, tuple[float, object]] = {}
        self._forgotten = 0  # bumped by forget(): a read that overlapped it is not kept

    async def get(self, key: object, load: Callable[[], Awaitable[T]]) -> T:
        now = self._clock()
        hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[return-value]
        before = self._forgotten
        value = await load()
        if before != self._forgotten:  # an event arrived while loading: the value may predate it
            return value
        if len(self._items) >= self._max:
            self._items.clear()
        self._items[key] = (now + self._ttl, value)
        return value

    def forget(self, predicate: Callable[[object], bool]) -> None:
        self._forgotten += 1
        for key in [k for k in self._items if predicate(k)]:
            del self._items[key]


class TouchThrottle:
    def __init__(
        self, every_s: float, clock: Callable[[], float] = time.monotonic, max_items: int = 200_000
    ) -> None:
        self._every, self._clock, self._max = every_s, clock, max_items
        self._last: dict[tuple[str, str, str], float] = {}

    def due(self, stream_id: str, account_id: str, session_id: str) -> bool:
        last = self._last.get((stream_id, account_id, session_id))
        return last is None or self._clock() - last >= self._every

    def touched(self, stream_id: str, account_id: str, session_id: str) -> None:
        if len(self._last) >= self._max:
            self._last.clear()
        self._last[(stream_id, account_id, session_id)] = self._clock()

    def forget(
        self, stream_id: str, account_id: str | None = None, session_id: str | None = None
    ) -> None:
        """Forget one session, every session of an account, or the whole stream."""
        for key in [
            k
            for k in self._last
            if k[0] == stream_id
            and (account_id is None or k[1] == account_id)
            and (session_id is None or k[2] == session_id)
        ]:
            del self._last[key]


class HotPath:
    """The caches one instance keeps; ``None`` in ``Deps`` means none (unit tests)."""

    def __init__(self, ttl_s: float = 1.0, touch_every_s: float = 5.0) -> None:
        self.reads = TtlCache(ttl_s)
        self.touches = TouchThrottle(touch_every_s)
        self.changed: set[str] = set()

    def forget_stream(self, stream_id: str) -> None:
        self.reads.forget(lambda key: isinstance(key, tuple) and key[1] == stream_id)
        self.touches.forget(stream_id)
