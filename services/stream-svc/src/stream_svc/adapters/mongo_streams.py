"""``live_streams``, ``create_requests`` and ``stream_usage`` in MongoDB.

A stream document holds the lifecycle facts (see ``domain.lifecycle``), the derived ``status``
(stored for queries), and a ``version`` for optimistic concurrency: every change is a
conditional update on the version the change was computed from, staging its events in the same
write (outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import Envelope, Event
from contracts.common import StreamStatus, compound_key
from servicekit import parsing
from servicekit.mongo import Doc, IndexSpec, from_ms, to_ms
from servicekit.outbox import stage_update
from servicekit.replay import FINGERPRINT
from stream_svc.domain.lifecycle import Facts
from stream_svc.domain.model import CREATING, LiveStream, UsagePoint

STREAMS = "live_streams"
CREATE_REQUESTS = "create_requests"
USAGE = "stream_usage"

INDEXES = [
    IndexSpec(STREAMS, [("status", 1), ("created_at", -1)]),
    IndexSpec(STREAMS, [("owner_id", 1), ("created_at", -1)]),
    IndexSpec(STREAMS, [("state", 1), ("created_at", 1)]),
    IndexSpec(STREAMS, [("mux_live_stream_id", 1)]),
    IndexSpec(STREAMS, [("status", 1), ("mux_reported_live", 1), ("last_mux_event_ms", 1)]),
    IndexSpec(CREATE_REQUESTS, [("at", 1)], ttl_s=24 * 3600),
    IndexSpec(USAGE, [("stream_id", 1), ("at", 1)]),
    IndexSpec(USAGE, [("owner_id", 1), ("at", 1)]),
]

_FACTS = [f.name for f in fields(Facts)]
_MUTABLE = [
    "viewer_count",
    "peak_viewer_count",
    "viewer_seconds",
    "viewer_seconds_folded",
    "archive_asset_id",
    "archive_asset_created",
    "archive_playback_id",
    "archive_duration_s",
]


#: what the owner can change after creation (PATCH) and the key (reset)
_DESCRIBED = ["title", "description", "thumbnail", "stream_key"]


def to_doc(stream: LiveStream) -> Doc:
    doc: Doc = {
        "_id": stream.stream_id,
        "owner_id": stream.owner_id,
        "title": stream.title,
        "description": stream.description,
        "thumbnail": stream.thumbnail,
        "created_at": stream.created_at,
        "state": stream.state,
        "mux_live_stream_id": stream.mux_live_stream_id,
        "playback_id": stream.playback_id,
        "stream_key": stream.stream_key,
        "version": stream.version,
    }
    doc.update(_derived(stream))
    return doc


def _derived(stream: LiveStream) -> Doc:
    """Fields every save rewrites. Times written by updates are epoch ms (see ``to_ms``)."""
    facts = stream.facts
    out: Doc = {f"{name}_ms": to_ms(getattr(facts, name)) for name in _FACTS}
    out.update(
        status=facts.status.value,
        started_at_ms=to_ms(facts.started_at),
        ended_at_ms=to_ms(facts.ended_at),
        viewer_count_as_of_ms=to_ms(stream.viewer_count_as_of),
        # two arrays of numbers, not an array of sub-documents (see DESIGN.md on the stand-in)
        count_sample_ms=[at for at, _ in stream.count_samples],
        count_sample_n=[n for _, n in stream.count_samples],
        # always written (0 / False before any report), so no filter needs $exists or null
        last_mux_event_ms=to_ms(stream.last_mux_event_at) or 0,
        mux_reported_live=facts.mux_active_at is not None,
    )
    out.update({name: getattr(stream, name) for name in _MUTABLE})
    return out


def from_doc(doc: Doc) -> LiveStream:
    return LiveStream(
        stream_id=doc["_id"],
        owner_id=doc["owner_id"],
        title=doc["title"],
        description=doc.get("description"),
        thumbnail=doc.get("thumbnail"),
        created_at=doc["created_at"],
        state=doc.get("state", "ready"),
        mux_live_stream_id=doc.get("mux_live_stream_id"),
        playback_id=doc.get("playback_id"),
        stream_key=doc.get("stream_key"),
        facts=Facts(**{name: from_ms(doc.get(f"{name}_ms")) for name in _FACTS}),
        viewer_count_as_of=from_ms(doc.get("viewer_count_as_of_ms")),
        last_mux_event_at=from_ms(doc.get("last_mux_event_ms") or None),
        count_samples=_samples(doc),
        version=doc.get("version", 0),
        **{name: doc[name] for name in _MUTABLE if doc.get(name) is not None},
    )


def _samples(doc: Doc) -> list[tuple[int, int]]:
    times, counts = doc.get("count_sample_ms") or [], doc.get("count_sample_n") or []
    if not times and doc.get("viewer_count_as_of_ms") is not None:  # written before the window
        return [(int(doc["viewer_count_as_of_ms"]), int(doc.get("viewer_count") or 0))]
    return [(int(t), int(n)) for t, n in zip(times, counts, strict=True)]


def encode_cursor(created_at: datetime, stream_id: str) -> str:
    return parsing.encode_cursor(created_at.isoformat(), stream_id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ``ValueError`` (:class:`~servicekit.parsing.Unparsable`) for a cursor we did not
    make."""
    created, stream_id = parsing.decode_cursor(cursor, str, str)
    return parsing.parse_aware_datetime(created), stream_id


class MongoStreams:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._streams = db[STREAMS]
        self._requests = db[CREATE_REQUESTS]
        self._usage = db[USAGE]

    # ---- creation ---------------------------------------------------------------------------

    async def claim_request(
        self, owner_id: str, key: str, stream_id: str, now: datetime, request_fp: str
    ) -> Doc | None:
        """Bind an Idempotency-Key to ``stream_id`` and the request's fingerprint; the claim
        stored before (``stream_id``, ``request_fp``), if any."""
        try:
            await self._requests.insert_one(
                {
                    "_id": compound_key(owner_id, key),
                    "stream_id": stream_id,
                    "at": now,
                    FINGERPRINT: request_fp,
                }
            )
        except DuplicateKeyError:
            return await self._requests.find_one({"_id": compound_key(owner_id, key)})
        return None

    async def release_request(self, owner_id: str, key: str) -> None:
        await self._requests.delete_one({"_id": compound_key(owner_id, key)})

    async def reserve(self, stream: LiveStream) -> None:
        await self._streams.insert_one(to_doc(stream))

    async def finish_create(self, stream: LiveStream, envelopes: Sequence[Envelope[Event]]) -> bool:
        update = {
            "$set": {
                "state": stream.state,
                "mux_live_stream_id": stream.mux_live_stream_id,
                "playback_id": stream.playback_id,
                "stream_key": stream.stream_key,
            }
        }
        result = await self._streams.update_one(
            {"_id": stream.stream_id, "state": CREATING}, stage_update(update, envelopes)
        )
        return result.modified_count == 1

    async def discard(self, stream_id: str) -> None:
        await self._streams.delete_one({"_id": stream_id, "state": CREATING})

    async def stale_reservations(self, before: datetime) -> list[LiveStream]:
        cursor = self._streams.find({"state": CREATING, "created_at": {"$lt": before}}).limit(100)
        return [from_doc(d) async for d in cursor]

    # ---- reads ------------------------------------------------------------------------------

    async def get(self, stream_id: str) -> LiveStream | None:
        doc = await self._streams.find_one({"_id": stream_id}, {"_outbox": 0})
        return from_doc(doc) if doc else None

    async def by_mux_live_stream_id(self, live_stream_id: str) -> LiveStream | None:
        """The stream backed by this Mux live stream (indexed; ``None`` for another app's)."""
        doc = await self._streams.find_one({"mux_live_stream_id": live_stream_id}, {"_outbox": 0})
        return from_doc(doc) if doc else None

    async def quiet_active(self, *, silent_since: datetime, limit: int) -> list[LiveStream]:
        cursor = self._streams.find(
            {
                "status": StreamStatus.ACTIVE.value,
                "mux_reported_live": True,
                "last_mux_event_ms": {"$lt": to_ms(silent_since)},
            },
            {"_outbox": 0},
        ).limit(limit)
        return [from_doc(d) async for d in cursor]

    async def page(
        self,
        *,
        statuses: Sequence[StreamStatus],
        owner_id: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[LiveStream]:
        query: dict[str, Any] = {
            "status": {"$in": [s.value for s in statuses]},
            "state": {"$ne": CREATING},
        }
        if owner_id is not None:
            query["owner_id"] = owner_id
        if after is not None:
            created, sid = after
            query["$or"] = [
                {"created_at": {"$lt": created}},
                {"created_at": created, "_id": {"$lt": sid}},
            ]
        cursor = (
            self._streams.find(query, {"_outbox": 0})
            .sort([("created_at", -1), ("_id", -1)])
            .limit(limit)
        )
        return [from_doc(d) async for d in cursor]

    async def of_owner(self, owner_id: str) -> list[LiveStream]:
        cursor = self._streams.find(
            {"owner_id": owner_id, "state": {"$ne": CREATING}}, {"_outbox": 0}
        )
        return [from_doc(d) async for d in cursor]

    # ---- changes ----------------------------------------------------------------------------

    async def save(
        self, stream: LiveStream, *, expected_version: int, envelopes: Sequence[Envelope[Event]]
    ) -> bool:
        """Write ``stream`` if nobody changed it since ``expected_version``; stage ``envelopes``."""
        values = {
            **_derived(stream),
            **{name: getattr(stream, name) for name in _MUTABLE},
            **{name: getattr(stream, name) for name in _DESCRIBED},
            "version": expected_version + 1,
        }
        result = await self._streams.update_one(
            {"_id": stream.stream_id, "version": expected_version},
            stage_update({"$set": values}, envelopes),
        )
        return result.modified_count == 1

    # ---- usage ------------------------------------------------------------------------------

    async def record_usage(self, key: str, point: UsagePoint) -> None:
        """Keep one report once (``key``: the Mux event id, or the count's stream and time)."""
        await self._usage.update_one(
            {"_id": key},
            {
                "$setOnInsert": {
                    "stream_id": point.stream_id,
                    "owner_id": point.owner_id,
                    "kind": point.kind,
                    "at": point.at,
                    "at_ms": to_ms(point.at),
                    "value": point.value,
                    "ref": point.ref,
                }
            },
            upsert=True,
        )

    async def usage_points(self, *, stream_ids: Sequence[str]) -> list[UsagePoint]:
        cursor = self._usage.find({"stream_id": {"$in": list(stream_ids)}})
        return [
            UsagePoint(
                d["stream_id"],
                d["owner_id"],
                d["kind"],
                from_ms(d["at_ms"]) if "at_ms" in d else d["at"],
                d.get("value"),
                d.get("ref"),
            )
            async for d in cursor
        ]
