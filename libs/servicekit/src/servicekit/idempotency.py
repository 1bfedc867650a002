"""Idempotent consumers: remember which events a consumer has processed.

``processed_events`` holds one document per ``(consumer, event_id)`` (the ``_id``), expired by a
TTL index. Without multi-document transactions the record cannot be written atomically with the
state change, so the order is: skip if recorded, run the handler, record. A crash between the
handler and the record runs the handler again on redelivery, so handlers must still converge
(upserts, conditional updates); the record stops the common case, a redelivered or duplicated
event, from repeating side effects such as notifications or counters.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from servicekit.mongo import Doc, IndexSpec

__all__ = [
    "MemoryProcessedEvents",
    "MongoProcessedEvents",
    "ProcessedEvents",
    "processed_events_indexes",
]

COLLECTION = "processed_events"


def processed_events_indexes(ttl_s: int) -> list[IndexSpec]:
    """Indexes of the ``processed_events`` collection (TTL on ``at``)."""
    return [IndexSpec(COLLECTION, [("at", 1)], ttl_s=ttl_s)]


class ProcessedEvents(Protocol):
    """Port: the set of events each consumer has already processed."""

    async def seen(self, consumer: str, event_id: uuid.UUID) -> bool: ...

    async def record(self, consumer: str, event_id: uuid.UUID) -> bool:
        """Record; ``False`` if it was already recorded."""
        ...

    async def run_once(
        self, consumer: str, event_id: uuid.UUID, fn: Callable[[], Awaitable[Any]]
    ) -> bool:
        """Run ``fn`` unless already recorded, then record; ``True`` if ``fn`` ran."""
        ...


class _RunOnce:
    async def seen(self, consumer: str, event_id: uuid.UUID) -> bool:
        raise NotImplementedError

    async def record(self, consumer: str, event_id: uuid.UUID) -> bool:
        raise NotImplementedError

    async def run_once(
        self, consumer: str, event_id: uuid.UUID, fn: Callable[[], Awaitable[Any]]
    ) -> bool:
        if await self.seen(consumer, event_id):
            return False
        await fn()
        await self.record(consumer, event_id)
        return True


class MongoProcessedEvents(_RunOnce):
    """:class:`ProcessedEvents` in a MongoDB collection (unique by ``_id``, TTL on ``at``)."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self._col = collection

    @staticmethod
    def _key(consumer: str, event_id: uuid.UUID) -> str:
        return f"{consumer}:{event_id}"

    async def seen(self, consumer: str, event_id: uuid.UUID) -> bool:
        return (
            await self._col.find_one({"_id": self._key(consumer, event_id)}, {"_id": 1}) is not None
        )

    async def record(self, consumer: str, event_id: uuid.UUID) -> bool:
        try:
            await self._col.insert_one(
                {"_id": self._key(consumer, event_id), "at": datetime.now(UTC)}
            )
        except DuplicateKeyError:
            return False
        return True


class MemoryProcessedEvents(_RunOnce):
    """In-memory :class:`ProcessedEvents` for unit tests."""

    def __init__(self) -> None:
        self.keys: set[tuple[str, uuid.UUID]] = set()

    async def seen(self, consumer: str, event_id: uuid.UUID) -> bool:
        return (consumer, event_id) in self.keys

    async def record(self, consumer: str, event_id: uuid.UUID) -> bool:
        if (consumer, event_id) in self.keys:
            return False
        self.keys.add((consumer, event_id))
        return True
