"""viewer-svc's collections in MongoDB.

``viewer_presence``: one document per (stream, instance), that instance's presence sheet
(see ``domain/presence.py``), rewritten in batches; the viewer count is *derived* from the
sheets (distinct accounts with a live session), never kept in a counter. ``viewer_counts``: per
stream, whether the count changed since it was last published, when it may be published next,
the peak and the accounts last published. ``viewer_stream_view`` and
``viewer_bans``: the projection of stream-svc's events. Times written by updates are epoch ms.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from pymongo import DeleteOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from contracts.common import StreamStatus, compound_key
from servicekit.mongo import Doc, FieldDefault, IndexSpec, from_ms, to_ms
from servicekit.writes import write_if_newer
from viewer_svc.domain.model import BanView, StreamView
from viewer_svc.domain.presence import Sheet

PRESENCE = "viewer_presence"
COUNTS = "viewer_counts"
VIEWS = "viewer_stream_view"
BANS = "viewer_bans"

INDEXES: list[IndexSpec | FieldDefault] = [
    FieldDefault(COUNTS, "next_ms", 0),
    IndexSpec(PRESENCE, [("stream_id", 1)]),
    IndexSpec(PRESENCE, [("next_expiry_ms", 1)]),
    IndexSpec(COUNTS, [("changed", 1), ("next_ms", 1)]),
    IndexSpec(BANS, [("stream_id", 1), ("banned", 1)]),
]


def _key(stream_id: str, account_id: str) -> str:
    return compound_key(stream_id, account_id)


def _sheet_doc(sheet: Sheet, timeout_ms: int) -> Doc:
    """Parallel arrays of strings and ints (the stand-in stores arrays of sub-documents badly)."""
    seen, ended = sorted(sheet.seen.items()), sorted(sheet.ended.items())
    return {
        "stream_id": sheet.stream_id,
        "instance_id": sheet.instance_id,
        "seen_accounts": [a for (a, _), _ in seen],
        "seen_sessions": [s for (_, s), _ in seen],
        "seen_ms": [t for _, t in seen],
        "ended_accounts": [a for (a, _), _ in ended],
        "ended_sessions": [s for (_, s), _ in ended],
        "ended_ms": [t for _, t in ended],
        "next_expiry_ms": sheet.next_expiry_ms(timeout_ms),
        "rev": uuid4().hex,
    }


def _sheet(doc: Doc) -> Sheet:
    return Sheet(
        doc["stream_id"],
        doc["instance_id"],
        {
            (a, s): int(t)
            for a, s, t in zip(
                doc["seen_accounts"], doc["seen_sessions"], doc["seen_ms"], strict=True
            )
        },
        {
            (a, s): int(t)
            for a, s, t in zip(
                doc["ended_accounts"], doc["ended_sessions"], doc["ended_ms"], strict=True
            )
        },
        rev=doc.get("rev", ""),
    )


class MongoBoard:
    """One document per (stream, instance), ``_id`` = the two, rewritten whole by its instance
    (one bulk write per batch), read by every instance (``stream_id`` index: one document per
    instance holding viewers of the stream)."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[PRESENCE]

    async def write(self, sheets: list[Sheet], timeout_ms: int) -> None:
        ops: list[UpdateOne | DeleteOne] = [
            DeleteOne({"_id": compound_key(s.stream_id, s.instance_id)})
            if s.empty
            else UpdateOne(
                {"_id": compound_key(s.stream_id, s.instance_id)},
                {"$set": _sheet_doc(s, timeout_ms)},
                upsert=True,
            )
            for s in sheets
        ]
        if ops:
            await self._col.bulk_write(ops, ordered=False)

    async def read(self, stream_id: str) -> list[Sheet]:
        return [_sheet(d) async for d in self._col.find({"stream_id": stream_id})]

    async def overdue(self, before_ms: int, limit: int) -> list[Sheet]:
        cursor = self._col.find({"next_expiry_ms": {"$lt": before_ms}}).limit(limit)
        return [_sheet(d) async for d in cursor]

    async def replace_if_unchanged(self, sheet: Sheet, timeout_ms: int) -> bool:
        key = {"_id": compound_key(sheet.stream_id, sheet.instance_id), "rev": sheet.rev}
        if sheet.empty:
            return (await self._col.delete_one(key)).deleted_count == 1
        result = await self._col.update_one(key, {"$set": _sheet_doc(sheet, timeout_ms)})
        return result.modified_count == 1


class MongoCounts:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[COUNTS]

    async def mark_changed(self, stream_id: str) -> None:
        await self._col.update_one(
            {"_id": stream_id},
            {"$set": {"changed": True}, "$setOnInsert": {"next_ms": 0}},
            upsert=True,
        )

    async def mark_changed_many(self, stream_ids: set[str]) -> None:
        await self._col.bulk_write(
            [
                UpdateOne(
                    {"_id": s},
                    {"$set": {"changed": True}, "$setOnInsert": {"next_ms": 0}},
                    upsert=True,
                )
                for s in sorted(stream_ids)
            ],
            ordered=False,
        )

    async def claim_due(self, now: datetime, interval_s: float, limit: int) -> list[str]:
        # every document is created with next_ms (0: publish at once), so no $or/$exists here
        due: dict[str, Any] = {"changed": True, "next_ms": {"$lte": to_ms(now)}}
        candidates = [d["_id"] async for d in self._col.find(due, {"_id": 1}).limit(limit)]
        claimed = []
        next_ms = to_ms(now + timedelta(seconds=interval_s))
        for stream_id in candidates:
            won = await self._col.find_one_and_update(
                {**due, "_id": stream_id}, {"$set": {"changed": False, "next_ms": next_ms}}
            )
            if won is not None:
                claimed.append(stream_id)
        return claimed

    async def published(self, stream_id: str, accounts: list[str]) -> tuple[int, list[str]]:
        # no upsert: the stream was just claimed, so its document exists (an upsert here would
        # create one without next_ms, and the stand-in drops $setOnInsert in find_one_and_update)
        count = len(accounts)
        before = await self._col.find_one_and_update(
            {"_id": stream_id},
            {"$max": {"peak": count}, "$set": {"count": count, "accounts": accounts}},
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            return count, []
        return max(int(before.get("peak", 0)), count), list(before.get("accounts", []))

    async def unclaim(self, stream_id: str) -> None:
        await self._col.update_one({"_id": stream_id}, {"$set": {"changed": True, "next_ms": 0}})


class MongoProjection:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._views = db[VIEWS]
        self._bans = db[BANS]

    async def advance(self, stream_id: str, status: StreamStatus) -> bool:
        """Move the view forward to ``status``; ``False`` if it is already there or further."""
        return await write_if_newer(
            self._views, stream_id, clock="rank", stamp=status.rank, values={"status": status.value}
        )

    async def describe(self, stream_id: str, owner_id: str, playback_url: str | None) -> None:
        await self._views.update_one(
            {"_id": stream_id},
            {
                "$set": {"owner_id": owner_id, "playback_url": playback_url},
                "$setOnInsert": {"rank": 0, "status": StreamStatus.IDLE.value},
            },
            upsert=True,
        )

    async def get(self, stream_id: str) -> StreamView | None:
        doc = await self._views.find_one({"_id": stream_id})
        if doc is None:
            return None
        return StreamView(
            stream_id,
            StreamStatus(doc.get("status", "idle")),
            doc.get("owner_id"),
            doc.get("playback_url"),
        )

    async def set_ban(
        self,
        stream_id: str,
        account_id: str,
        *,
        banned: bool,
        at: datetime,
        expires_at: datetime | None,
    ) -> bool:
        values = {
            "banned": banned,
            "expires_ms": to_ms(expires_at),
            "stream_id": stream_id,
            "account_id": account_id,
        }
        key = _key(stream_id, account_id)
        return await write_if_newer(self._bans, key, clock="at_ms", stamp=to_ms(at), values=values)

    async def bans(self, stream_id: str) -> dict[str, BanView]:
        """Every account banned (now or until a time) from the stream."""
        cursor = self._bans.find({"stream_id": stream_id, "banned": True})
        return {d["account_id"]: BanView(True, from_ms(d.get("expires_ms"))) async for d in cursor}

    async def ban(self, stream_id: str, account_id: str) -> BanView | None:
        doc = await self._bans.find_one({"_id": _key(stream_id, account_id)})
        if doc is None:
            return None
        return BanView(bool(doc.get("banned")), from_ms(doc.get("expires_ms")))


def utcnow() -> datetime:
    return datetime.now(UTC)
