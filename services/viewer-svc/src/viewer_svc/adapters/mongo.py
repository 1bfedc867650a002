"""viewer-svc's collections in MongoDB.

``viewers``: one presence document per (stream, account, session), ``_id`` = the three; the
count is the number of distinct accounts. The viewer count is
*derived* (``distinct`` accounts), never kept in a counter that a crash between two writes could
leave wrong. ``viewer_counts``: per stream, whether the count changed since it was last
published, when it may be published next, and the peak. ``viewer_stream_view`` and
``viewer_bans``: the projection of stream-svc's events. Times written by updates are epoch ms.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.common import StreamStatus, compound_key
from servicekit.mongo import Doc, FieldDefault, IndexSpec, from_ms, to_ms
from servicekit.writes import write_if_newer
from viewer_svc.domain.model import BanView, StreamView

VIEWERS = "viewers"
COUNTS = "viewer_counts"
VIEWS = "viewer_stream_view"
BANS = "viewer_bans"

INDEXES: list[IndexSpec | FieldDefault] = [
    FieldDefault(COUNTS, "next_ms", 0),
    IndexSpec(VIEWERS, [("stream_id", 1)]),
    IndexSpec(VIEWERS, [("stream_id", 1), ("account_id", 1)]),
    IndexSpec(VIEWERS, [("last_seen_ms", 1)]),
    IndexSpec(COUNTS, [("changed", 1), ("next_ms", 1)]),
    IndexSpec(BANS, [("stream_id", 1), ("banned", 1)]),
]


def _key(stream_id: str, account_id: str) -> str:
    return compound_key(stream_id, account_id)


def _session_key(stream_id: str, account_id: str, session_id: str) -> str:
    if not session_id:  # a presence written before sessions existed (expired as such)
        return _key(stream_id, account_id)
    return compound_key(stream_id, account_id, session_id)


class MongoPresence:
    """One document per (stream, account, session), ``_id`` = the three. Whether a session
    was the account's first or last is read after the write (an indexed count of the account's
    sessions in the stream): two sessions of one account starting or ending in the same instant
    may announce ``viewer.joined``/``viewer.left`` twice or not at all; the count, derived from
    the documents, is exact whatever the order."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[VIEWERS]

    async def _sessions(self, stream_id: str, account_id: str) -> int:
        return await self._col.count_documents({"stream_id": stream_id, "account_id": account_id})

    async def touch(self, stream_id: str, account_id: str, session_id: str, now: datetime) -> bool:
        key = _session_key(stream_id, account_id, session_id)
        try:
            result = await self._col.update_one(
                {"_id": key},
                {
                    "$set": {"last_seen_ms": to_ms(now)},
                    "$setOnInsert": {
                        "stream_id": stream_id,
                        "account_id": account_id,
                        "session_id": session_id,
                        "joined_at": now,
                    },
                },
                upsert=True,
            )
        except DuplicateKeyError:  # a concurrent touch of the same session inserted it first
            await self._col.update_one({"_id": key}, {"$set": {"last_seen_ms": to_ms(now)}})
            return False
        if result.upserted_id is None:
            return False
        return await self._sessions(stream_id, account_id) == 1

    async def remove(self, stream_id: str, account_id: str, session_id: str) -> bool:
        result = await self._col.delete_one(
            {"_id": _session_key(stream_id, account_id, session_id)}
        )
        return result.deleted_count == 1 and await self._sessions(stream_id, account_id) == 0

    async def remove_account(self, stream_id: str, account_id: str) -> bool:
        result = await self._col.delete_many({"stream_id": stream_id, "account_id": account_id})
        return result.deleted_count > 0

    async def expired(self, cutoff: datetime, limit: int) -> list[tuple[str, str, str]]:
        cursor = self._col.find(
            {"last_seen_ms": {"$lt": to_ms(cutoff)}},
            {"stream_id": 1, "account_id": 1, "session_id": 1},
        )
        return [
            (d["stream_id"], d["account_id"], d.get("session_id", ""))
            async for d in cursor.limit(limit)
        ]

    async def remove_if_unseen_since(
        self, stream_id: str, account_id: str, session_id: str, cutoff: datetime
    ) -> bool:
        result = await self._col.delete_one(
            {
                "_id": _session_key(stream_id, account_id, session_id),
                "last_seen_ms": {"$lt": to_ms(cutoff)},
            }
        )
        return result.deleted_count == 1 and await self._sessions(stream_id, account_id) == 0

    async def remove_stream(self, stream_id: str) -> list[str]:
        accounts = sorted(
            {
                d["account_id"]
                async for d in self._col.find({"stream_id": stream_id}, {"account_id": 1})
            }
        )
        removed = []
        for account in accounts:  # one by one: each account's removal is announced once
            if await self.remove_account(stream_id, account):
                removed.append(account)
        return removed

    async def count(self, stream_id: str) -> int:
        return len(await self._col.distinct("account_id", {"stream_id": stream_id}))


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

    async def published(self, stream_id: str, count: int) -> int:
        # no upsert: the stream was just claimed, so its document exists (an upsert here would
        # create one without next_ms, and the stand-in drops $setOnInsert in find_one_and_update)
        doc = await self._col.find_one_and_update(
            {"_id": stream_id},
            {"$max": {"peak": count}, "$set": {"count": count}},
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["peak"]) if doc else count

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
