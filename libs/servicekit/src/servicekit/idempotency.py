"""Idempotent consumers: each event is processed once per consumer.

``processed_events`` holds one document per ``(consumer, event_id)`` (the ``_id``), expired by a
TTL index on ``at`` (the claim time). A consumer *claims* the event before running its handler
(an insert that the unique ``_id`` lets only one copy win), then marks it ``done``. So
duplicates delivered at the same time, to one instance or to competing instances, run the
handler once.

* handler fails: the claim is released, the message is requeued and retried;
* the claimant died mid-way: its claim has a lease; once the lease is over another copy takes the
  event over. Until then a copy raises :class:`EventInProgress` and is retried later.

Without multi-document transactions the ``done`` mark cannot be written atomically with the
state change: a crash between the two runs the handler again after the lease. Handlers must
still converge (upserts, conditional updates); the claim stops the common case, a redelivered or
duplicated event, from repeating side effects such as notifications or counters.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from servicekit.mongo import Doc, IndexSpec, to_ms

__all__ = [
    "EventInProgress",
    "MemoryProcessedEvents",
    "MongoProcessedEvents",
    "ProcessedEvents",
    "processed_events_indexes",
]

COLLECTION = "processed_events"
RUNNING, DONE = "running", "done"


class EventInProgress(Exception):
    """Another copy of this event is being processed right now; retry later."""


def processed_events_indexes(ttl_s: int) -> list[IndexSpec]:
    """Indexes of the ``processed_events`` collection (TTL on ``at``)."""
    return [IndexSpec(COLLECTION, [("at", 1)], ttl_s=ttl_s)]


class ProcessedEvents(Protocol):
    """Port: which events each consumer has processed."""

    async def run_once(
        self, consumer: str, event_id: uuid.UUID, fn: Callable[[], Awaitable[Any]]
    ) -> bool:
        """Run ``fn`` unless this consumer already processed ``event_id``; ``True`` if it ran.

        Raises:
            EventInProgress: another copy holds the event (retry later).
        """
        ...


class _Claims:
    """Claim/finish/release on some store; subclasses provide the three primitives."""

    lease_s: float

    async def _claim(self, key: str, now: datetime) -> bool:
        raise NotImplementedError

    async def _finish(self, key: str, now: datetime) -> None:
        raise NotImplementedError

    async def _release(self, key: str) -> None:
        raise NotImplementedError

    async def run_once(
        self, consumer: str, event_id: uuid.UUID, fn: Callable[[], Awaitable[Any]]
    ) -> bool:
        key = f"{consumer}:{event_id}"
        if not await self._claim(key, datetime.now(UTC)):
            return False
        try:
            await fn()
        except BaseException:
            await self._release(key)
            raise
        await self._finish(key, datetime.now(UTC))
        return True


class MongoProcessedEvents(_Claims):
    """:class:`ProcessedEvents` in a MongoDB collection."""

    def __init__(self, collection: AsyncCollection[Doc], *, lease_s: float = 15.0) -> None:
        self._col = collection
        self.lease_s = lease_s

    async def _claim(self, key: str, now: datetime) -> bool:
        lease = to_ms(now + timedelta(seconds=self.lease_s))
        try:
            await self._col.insert_one(
                {"_id": key, "state": RUNNING, "lease_until_ms": lease, "at": now}
            )
        except DuplicateKeyError:
            pass
        else:
            return True
        taken = await self._col.find_one_and_update(
            {"_id": key, "state": RUNNING, "lease_until_ms": {"$lt": to_ms(now)}},
            {"$set": {"lease_until_ms": lease}},
            return_document=ReturnDocument.AFTER,
        )
        if taken is not None:
            return True
        existing = await self._col.find_one({"_id": key}, {"state": 1})
        if existing is None:  # released between our insert and read: try once more
            return await self._claim(key, now)
        if existing.get("state") == DONE:
            return False
        raise EventInProgress(key)

    async def _finish(self, key: str, now: datetime) -> None:
        # "at" (the TTL field, a date) stays the claim time: only inserts write dates here
        await self._col.update_one({"_id": key}, {"$set": {"state": DONE, "done_ms": to_ms(now)}})

    async def _release(self, key: str) -> None:
        await self._col.delete_one({"_id": key, "state": RUNNING})


class MemoryProcessedEvents(_Claims):
    """In-memory :class:`ProcessedEvents` for unit tests (same claim semantics)."""

    def __init__(self, *, lease_s: float = 15.0) -> None:
        self.lease_s = lease_s
        self.claims: dict[str, tuple[str, datetime]] = {}

    async def _claim(self, key: str, now: datetime) -> bool:
        current = self.claims.get(key)
        if current is None or (current[0] == RUNNING and current[1] < now):
            self.claims[key] = (RUNNING, now + timedelta(seconds=self.lease_s))
            return True
        if current[0] == DONE:
            return False
        raise EventInProgress(key)

    async def _finish(self, key: str, now: datetime) -> None:
        self.claims[key] = (DONE, now)

    async def _release(self, key: str) -> None:
        if self.claims.get(key, (DONE,))[0] == RUNNING:
            del self.claims[key]

    def done(self) -> set[str]:
        """Keys processed to completion."""
        return {k for k, (state, _) in self.claims.items() if state == DONE}
