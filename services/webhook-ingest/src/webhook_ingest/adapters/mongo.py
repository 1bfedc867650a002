"""The inbox in MongoDB: ``mux_webhook_events``, one document per Mux event id (``_id``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from contracts import Envelope, Event
from servicekit.broker import MUX
from servicekit.mongo import BatchInserter, Doc, IndexSpec
from servicekit.outbox import stage_insert
from webhook_ingest.domain.event import stored_event

COLLECTION = "mux_webhook_events"
#: ``received_at`` serves the replay's time windows and order. No index on ``type``: no query
#: of the service filters by it, and every index costs each delivery's write (a deployment that
#: has ``type_1_received_at_1`` from before may drop it).
INDEXES = [
    IndexSpec(COLLECTION, [("received_at", 1)]),
]


def inbox_document(event: dict[str, Any], envelope: Envelope[Event]) -> Doc:
    """The inbox's document for a (redacted) Mux event: the event without the ``data`` its
    envelope holds (:func:`webhook_ingest.domain.event.event_of` gives it whole), the
    ``envelope`` (kept for replays) and its publication staged by reference to it."""
    return {
        "_id": event["id"],
        "type": event["type"],
        "received_at": datetime.now(UTC),
        "event": stored_event(event),
        **stage_insert([envelope], exchange=MUX, routing_key=event["type"], keep_envelope=True),
    }


class MongoInbox:
    """Concurrent deliveries are stored with one write per group (group commit); each is
    answered only once its own document is stored. ``on_stored`` gets each group's stored
    documents (the relay publishes them without reading them back)."""

    def __init__(
        self,
        collection: AsyncCollection[Doc],
        *,
        on_stored: Callable[[list[Doc]], None] | None = None,
    ) -> None:
        self._col = collection
        # two groups in flight, gathered for at most 0.5 ms: with the HTTP path served directly
        # the service waited on the database, and this overlaps one group's write with the
        # next one's requests (webhook bench: 1,790 -> 1,960 deliveries/s on the stand-in)
        self._inserter = BatchInserter(
            collection, on_stored=on_stored, max_writes=2, max_wait_s=0.0005
        )

    async def store(self, event: dict[str, Any], envelope: Envelope[Event]) -> bool:
        return await self._inserter.insert(inbox_document(event, envelope))

    async def find(
        self,
        *,
        ids: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if ids:
            query["_id"] = {"$in": ids}
        window: dict[str, datetime] = {}
        if since is not None:
            window["$gte"] = since
        if until is not None:
            window["$lt"] = until
        if window:
            query["received_at"] = window
        cursor = self._col.find(query, {"envelope": 1, "type": 1, "received_at": 1})
        return [doc async for doc in cursor.sort([("received_at", 1), ("_id", 1)])]
