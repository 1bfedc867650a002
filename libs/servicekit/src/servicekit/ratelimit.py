"""Rate limits shared by every service that limits an account's actions (chat messages per
room in chat-gateway, follows in notifier), and per-instance abuse counters.

A budget is a token bucket kept as GCRA (the generic cell rate algorithm): one number per key,
the *theoretical arrival time*, so the whole state changes in one atomic single-document write
and every instance of a service shares it (:class:`MongoRateBudgets`). No ``$or`` and no
pipeline update: right on MongoDB and on the development stand-in (``scripts/MONGODB-STANDIN.md``).

A key's document decides nothing once its ``tat`` has passed (the bucket is full again, as for
a key never seen), so each instance deletes such documents, at most once a ``sweep_s``, in the
background of a take (:class:`servicekit.mongo.Sweeper`, on the index of
:func:`budget_indexes`): the collection holds the keys active lately, not every account that
ever posted in every room.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from servicekit.mongo import CLOCK_MARGIN_MS, Doc, IndexSpec, Sweeper
from servicekit.tasks import fail_future

__all__ = [
    "AbuseCounter",
    "Budget",
    "MemoryRateBudgets",
    "MongoRateBudgets",
    "RateBudgets",
    "budget_indexes",
]

#: A document is deleted once its ``tat`` is this far in the past (ms): instances' clocks may
#: differ by that much without one deleting a budget another still counts on.
SWEEP_MARGIN_MS = CLOCK_MARGIN_MS


def budget_indexes(collection: str) -> list[IndexSpec]:
    """The index the sweep of a :class:`MongoRateBudgets` collection deletes by."""
    return [IndexSpec(collection, [("tat_ms", 1)])]


@dataclass(frozen=True, slots=True)
class Budget:
    """A token bucket of ``burst`` actions refilled at ``rate`` per second, as GCRA: one stored
    number per key, the theoretical arrival time ``tat`` (epoch ms)."""

    burst: int
    rate: float

    @property
    def interval_ms(self) -> int:
        """Time one action costs (ms)."""
        return max(1, round(1000 / self.rate))

    @property
    def tolerance_ms(self) -> int:
        """How far ahead of now ``tat`` may be for an action to pass (ms)."""
        return (self.burst - 1) * self.interval_ms

    def decide(self, tat_ms: int | None, now_ms: int) -> tuple[int | None, float]:
        """``(new tat, 0)`` when an action passes now, else ``(None, seconds to wait)``."""
        tat = max(tat_ms if tat_ms is not None else now_ms, now_ms)
        if tat - now_ms > self.tolerance_ms:
            return None, (tat - now_ms - self.tolerance_ms) / 1000
        return tat + self.interval_ms, 0.0


class RateBudgets(Protocol):
    """Port: one rate budget per key (an account, or a room and an account)."""

    async def take(self, key: str, now_ms: int) -> float:
        """0 if an action may pass now (and spends it), else seconds until one may (send it as
        ``Retry-After``, rounded up)."""
        ...


class MemoryRateBudgets:
    """:class:`RateBudgets` in memory (unit tests, one instance)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.tat: dict[str, int] = {}

    async def take(self, key: str, now_ms: int) -> float:
        new_tat, wait = self.budget.decide(self.tat.get(key), now_ms)
        if new_tat is not None:
            self.tat[key] = new_tat
        return wait


class MongoRateBudgets:
    """:class:`RateBudgets` in a MongoDB collection, one document ``{_id: key, tat_ms}`` per
    key, shared by every instance. Every decision is one conditional single-document write:
    instances racing for the last action of a budget cannot both win it.

    Takes of one key asked while one of its writes is in flight are decided together (issue 18:
    a sender's burst costs one write, not one per message): exactly as if taken one by one in
    the order asked, then stored with one compare-and-set on ``tat`` (the value this instance
    last wrote for the key, else read first; retried after a read when another instance wrote
    meanwhile)."""

    def __init__(
        self, collection: AsyncCollection[Doc], budget: Budget, *, sweep_s: float = 60.0
    ) -> None:
        self._col = collection
        self.budget = budget
        self._waiting: dict[str, list[tuple[int, asyncio.Future[float]]]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        self._tat: dict[str, int] = {}  # the tat this instance last wrote, per key
        self._sweeper = Sweeper(collection, "tat_ms", SWEEP_MARGIN_MS, every_s=sweep_s)

    async def take(self, key: str, now_ms: int) -> float:
        self._sweeper.maybe(now_ms)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((now_ms, future))
        if key not in self._writers:
            self._writers[key] = asyncio.get_running_loop().create_task(self._decide(key))
        return await future

    async def sweep(self, now_ms: int) -> int:
        """Delete the documents whose ``tat`` passed more than :data:`SWEEP_MARGIN_MS` before
        ``now_ms`` (they decide as a key never seen); returns how many. A take racing with it is
        safe: its compare-and-set then misses and it reads again."""
        return await self._sweeper.sweep(now_ms)

    async def _decide(self, key: str) -> None:
        try:
            while group := self._waiting.pop(key, None):
                times = [now_ms for now_ms, _ in group]
                try:
                    if len(group) == 1 and key not in self._tat:
                        waits = [await self._take_one(key, times[0])]
                    else:
                        waits = await self._take_group(key, times)
                except BaseException as exc:
                    for _, future in group:
                        fail_future(future, exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), wait in zip(group, waits, strict=True):
                    if not future.done():
                        future.set_result(wait)
        finally:
            del self._writers[key]

    async def _take_group(self, key: str, times: list[int]) -> list[float]:
        """Decide ``times`` (arrival order) as if taken one by one, and store the outcome with
        one compare-and-set on ``tat`` (the value this instance wrote last, else read first)."""
        for _ in range(8):
            known = self._tat.pop(key, None)
            if known is None:
                doc = await self._col.find_one({"_id": key})
                known = int(doc["tat_ms"]) if doc else _MISSING
            tat = None if known == _MISSING else known
            waits = []
            for now_ms in times:
                after, wait = self.budget.decide(tat, now_ms)
                tat = after if after is not None else tat
                waits.append(wait)
            if tat is None or tat == known:
                return waits  # nothing spent
            if known == _MISSING:
                try:
                    await self._col.insert_one({"_id": key, "tat_ms": tat})
                except DuplicateKeyError:
                    continue
            elif not (
                await self._col.update_one({"_id": key, "tat_ms": known}, {"$set": {"tat_ms": tat}})
            ).modified_count:
                continue  # another instance spent from it meanwhile: read it again
            if len(self._tat) >= _TAT_CACHE:
                self._tat.clear()
            self._tat[key] = tat
            return waits
        return [self.budget.interval_ms / 1000] * len(times)  # contention beyond reason

    async def _take_one(self, key: str, now_ms: int) -> float:
        step, tolerance = self.budget.interval_ms, self.budget.tolerance_ms
        for _ in range(8):
            ahead = await self._col.update_one(  # tat in the future, within the tolerance
                {"_id": key, "tat_ms": {"$gt": now_ms, "$lte": now_ms + tolerance}},
                {"$inc": {"tat_ms": step}},
            )
            if ahead.modified_count:
                return 0.0
            try:  # tat in the past (or no document yet): start again from now
                await self._col.update_one(
                    {"_id": key, "tat_ms": {"$lte": now_ms}},
                    {"$set": {"tat_ms": now_ms + step}},
                    upsert=True,
                )
                return 0.0
            except DuplicateKeyError:
                pass
            doc = await self._col.find_one({"_id": key})
            if doc is None:
                continue
            _, wait = self.budget.decide(int(doc["tat_ms"]), now_ms)
            if wait > 0:
                return wait
        return step / 1000  # contention beyond reason: ask to retry shortly


#: ``tat`` of a key with no document yet
_MISSING = -1
#: Keys whose last written ``tat`` an instance remembers (then it forgets them all).
_TAT_CACHE = 10_000


@dataclass
class AbuseCounter:
    """Counts refusals; ``True`` from :meth:`refused` once ``limit`` fall within ``window_s``."""

    limit: int
    window_s: float
    clock: Callable[[], float] = time.monotonic
    times: deque[float] = field(default_factory=deque)

    def refused(self) -> bool:
        now = self.clock()
        self.times.append(now)
        while self.times and self.times[0] < now - self.window_s:
            self.times.popleft()
        return len(self.times) >= self.limit
