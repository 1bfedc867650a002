"""notifier's collections: ``follows``, ``notifications`` (the inbox), ``golive_campaigns``,
``notifier_streams`` (who owns which stream and whether it is over, from stream-svc's events)
and ``golive_sent`` (when each follower was last told that a streamer went live)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from contracts import Envelope, Event
from contracts.common import compound_key
from notifier.domain.model import Notification
from servicekit import tracing
from servicekit.mongo import Doc, FieldDefault, IndexSpec, to_ms
from servicekit.outbox import stage_insert, stage_update

FOLLOWS = "follows"
NOTIFICATIONS = "notifications"
CAMPAIGNS = "golive_campaigns"
STREAMS = "notifier_streams"
SENT = "golive_sent"

INDEXES: list[IndexSpec | FieldDefault] = [
    # follows stored before follows were announced: live ones, at version 1
    FieldDefault(FOLLOWS, "state", "following"),
    FieldDefault(FOLLOWS, "version", 1),
    IndexSpec(FOLLOWS, [("followee_id", 1), ("follower_id", 1)]),
    IndexSpec(FOLLOWS, [("follower_id", 1), ("followee_id", 1)]),
    IndexSpec(NOTIFICATIONS, [("account_id", 1), ("created_ms", -1)]),
    IndexSpec(NOTIFICATIONS, [("account_id", 1), ("read", 1)]),
    IndexSpec(CAMPAIGNS, [("state", 1), ("ready", 1)]),
]


def _doc(n: Notification) -> Doc:
    return {
        "_id": n.notification_id,
        "account_id": n.account_id,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "data": n.data,
        "created_at": n.created_at,
        "created_ms": to_ms(n.created_at),
        "read": False,
    }


class MongoInbox:
    """The in-app inbox: a :class:`~notifier.ports.Channel` and the inbox queries."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[NOTIFICATIONS]

    async def deliver(self, notifications: Sequence[Notification]) -> int:
        if not notifications:
            return 0
        try:
            result = await self._col.insert_many([_doc(n) for n in notifications], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            return int(exc.details.get("nInserted", 0))
        return len(result.inserted_ids)

    async def deliver_announced(
        self, notification: Notification, envelope: Envelope[Event]
    ) -> bool:
        """Store one notification with its ``notification.created`` staged in the same write."""
        try:
            await self._col.insert_one({**_doc(notification), **stage_insert([envelope])})
        except DuplicateKeyError:
            return False
        return True

    async def page(
        self, account_id: str, *, unread: bool, limit: int, after: tuple[int, str] | None
    ) -> list[Doc]:
        query: dict[str, Any] = {"account_id": account_id}
        if unread:
            query["read"] = False
        if after is not None:
            ms, nid = after
            query["$or"] = [{"created_ms": {"$lt": ms}}, {"created_ms": ms, "_id": {"$lt": nid}}]
        cursor = self._col.find(query, {"_outbox": 0}).sort([("created_ms", -1), ("_id", -1)])
        return [d async for d in cursor.limit(limit)]

    async def unread_count(self, account_id: str) -> int:
        return await self._col.count_documents({"account_id": account_id, "read": False})

    async def unread_counts(self, account_ids: Sequence[str]) -> dict[str, int]:
        """Unread count of each of ``account_ids`` (0 for none), in one query: one small
        document per unread notification of these accounts."""
        counts = dict.fromkeys(account_ids, 0)
        found = self._col.find(
            {"account_id": {"$in": list(account_ids)}, "read": False}, {"account_id": 1}
        )
        async for doc in found:
            counts[doc["account_id"]] += 1
        return counts

    async def mark_read(self, account_id: str, ids: Sequence[str] | None) -> int:
        query: dict[str, Any] = {"account_id": account_id, "read": False}
        if ids is not None:
            query["_id"] = {"$in": list(ids)}
        result = await self._col.update_many(query, {"$set": {"read": True}})
        return result.modified_count

    async def count_kind(self, kind: str) -> int:
        return await self._col.count_documents({"kind": kind})


#: ``follows.state`` of a follow that holds / that was removed (kept as a tombstone, so the
#: unfollow's event is staged in the same write and the pair's ``version`` keeps growing).
FOLLOWING, REMOVED = "following", "removed"
#: ``announce(version)``: the event a follow change stages, given the pair's new version.
Announce = Callable[[int], Envelope[Event]]


class MongoFollows:
    """One document per (follower, followee) ever followed: ``state`` (``following`` or
    ``removed``), ``version`` (1 at the first follow, +1 at every change), ``since`` /
    ``since_ms`` (when the current follow began). Each change stages its ``follow.created`` /
    ``follow.removed`` in the same write (outbox), conditional on the version read, so two
    concurrent changes cannot both apply."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[FOLLOWS]

    async def get(self, follower_id: str, followee_id: str) -> Doc | None:
        """The pair's document (any state), without staged events."""
        return await self._col.find_one(
            {"_id": compound_key(follower_id, followee_id)}, {"_outbox": 0}
        )

    async def follow(
        self, follower_id: str, followee_id: str, now: datetime, announce: Announce
    ) -> bool:
        """Start following; ``False`` if already following or another change got there first.
        ``announce(version)`` is the ``follow.created`` staged with it."""
        current = await self.get(follower_id, followee_id)
        if current is not None and current["state"] == FOLLOWING:
            return False
        if current is None:
            try:
                await self._col.insert_one(
                    {
                        "_id": compound_key(follower_id, followee_id),
                        "follower_id": follower_id,
                        "followee_id": followee_id,
                        "state": FOLLOWING,
                        "version": 1,
                        "since": now,
                        "since_ms": to_ms(now),
                        **stage_insert([announce(1)]),
                    }
                )
            except DuplicateKeyError:
                return False
            return True
        version = int(current["version"]) + 1
        result = await self._col.update_one(
            {"_id": current["_id"], "version": version - 1, "state": REMOVED},
            stage_update(
                {"$set": {"state": FOLLOWING, "version": version, "since_ms": to_ms(now)}},
                [announce(version)],
            ),
        )
        return result.modified_count == 1

    async def unfollow(self, follower_id: str, followee_id: str, announce: Announce) -> bool:
        """End the follow; ``False`` if not following (or it changed meanwhile).
        ``announce(version)`` is the ``follow.removed`` staged with it."""
        current = await self.get(follower_id, followee_id)
        if current is None or current["state"] != FOLLOWING:
            return False
        version = int(current["version"]) + 1
        result = await self._col.update_one(
            {"_id": current["_id"], "version": version - 1, "state": FOLLOWING},
            stage_update({"$set": {"state": REMOVED, "version": version}}, [announce(version)]),
        )
        return result.modified_count == 1

    async def live_after(self, after: str, limit: int) -> list[Doc]:
        """Live follows whose ``_id`` is after ``after``, in ``_id`` order (a backfill's pages)."""
        query = {"state": FOLLOWING, "_id": {"$gt": after}}
        return [d async for d in self._col.find(query, {"_outbox": 0}).sort("_id", 1).limit(limit)]

    async def announce_again(self, doc: Doc, announce: Envelope[Event]) -> bool:
        """Stage ``announce`` on this follow if it is still the same (state and version);
        ``False`` when it changed meanwhile (the change announced itself)."""
        result = await self._col.update_one(
            {"_id": doc["_id"], "version": doc["version"], "state": FOLLOWING},
            stage_update({"$set": {"state": FOLLOWING}}, [announce]),
        )
        return result.modified_count == 1

    async def follows(self, follower_id: str, followee_id: str) -> bool:
        """Whether ``follower_id`` follows ``followee_id`` now."""
        found = await self._col.find_one(
            {"_id": compound_key(follower_id, followee_id), "state": FOLLOWING}, {"_id": 1}
        )
        return found is not None

    async def following(self, follower_id: str, *, limit: int, after: str | None) -> list[Doc]:
        query: dict[str, Any] = {"follower_id": follower_id, "state": FOLLOWING}
        if after is not None:
            query["followee_id"] = {"$gt": after}
        cursor = self._col.find(query, {"_outbox": 0}).sort("followee_id", 1).limit(limit)
        return [d async for d in cursor]

    async def followers_count(self, followee_id: str) -> int:
        return await self._col.count_documents({"followee_id": followee_id, "state": FOLLOWING})

    async def followers_after(self, followee_id: str, cursor: str, limit: int) -> list[str]:
        query = {"followee_id": followee_id, "follower_id": {"$gt": cursor}, "state": FOLLOWING}
        found = self._col.find(query, {"follower_id": 1}).sort("follower_id", 1).limit(limit)
        return [d["follower_id"] async for d in found]


class MongoGoLiveSent:
    """One document per (streamer, follower): the stream whose go-live notification the
    follower was last given and when, for the window rule (at most one per streamer per
    follower per window)."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[SENT]

    async def claim(
        self,
        owner_id: str,
        followers: Sequence[str],
        stream_id: str,
        now: datetime,
        *,
        since: datetime,
    ) -> list[str]:
        """The followers that ``stream_id`` may tell it went live, claimed for it, in the order
        given: those never told about this owner, those last told before ``since``, and those
        already claimed for this very stream (a batch redone after a crash).

        Each claim is one atomic single-document write (an insert, or an update whose filter
        is ``{_id, at_ms: {$lt: since}}``), so campaigns of two streams of one owner running
        at once on two replicas never both win a follower: exactly one stream tells each.
        """
        if not followers:
            return []
        keys = {compound_key(owner_id, f): f for f in followers}
        now_ms = to_ms(now)
        docs = [
            {"_id": key, "follower_id": f, "stream_id": stream_id, "at_ms": now_ms}
            for key, f in keys.items()
        ]
        told_before: list[str] = []  # keys some stream claimed earlier
        try:
            await self._col.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            told_before = [docs[e["index"]]["_id"] for e in errors]
        ours = set(keys.values())
        if told_before:  # due again if claimed before the window (or by this very stream)
            await self._col.bulk_write(
                [
                    UpdateOne(
                        {"_id": key, "at_ms": {"$lt": to_ms(since)}},
                        {"$set": {"stream_id": stream_id, "at_ms": now_ms}},
                    )
                    for key in told_before
                ],
                ordered=False,
            )
            ours -= {
                d["follower_id"]
                async for d in self._col.find({"_id": {"$in": told_before}})
                if d["stream_id"] != stream_id
            }
        return [f for f in followers if f in ours]


class MongoCampaigns:
    """One go-live campaign per stream (``_id`` = stream id): created by whichever trigger comes
    first, ``ready`` once the owner is known, fanned out in batches from ``cursor`` (the last
    follower id done) under a lease, so a crashed worker's campaign resumes where it stopped."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[CAMPAIGNS]
        self._streams = db[STREAMS]

    async def trigger(self, stream_id: str, at: datetime) -> bool:
        """Record that the stream went live; ``False`` if it already had a campaign."""
        result = await self._col.update_one(
            {"_id": stream_id},
            {
                "$setOnInsert": {
                    "state": "pending",
                    "cursor": "",
                    "ready": False,
                    "triggered_at": at,
                    "lease_ms": 0,
                    "delivered": 0,
                    "trace": tracing.carrier(),  # the campaign continues the trigger's trace
                }
            },
            upsert=True,
        )
        created = result.upserted_id is not None
        if created:
            known = await self._streams.find_one({"_id": stream_id})
            if known is not None and known.get("over"):
                await self.cancel(stream_id)
            elif known is not None and known.get("owner_id"):
                await self._make_ready(stream_id, known["owner_id"], known.get("title", ""))
        return created

    async def stream_over(self, stream_id: str) -> None:
        """stream-svc ended or deleted the stream: remember it, cancel a campaign not yet sent
        (one under way stops at its next batch, see ``is_over``)."""
        await self._streams.update_one({"_id": stream_id}, {"$set": {"over": True}}, upsert=True)
        await self.cancel(stream_id)

    async def cancel(self, stream_id: str) -> None:
        await self._col.update_one(
            {"_id": stream_id, "state": "pending"}, {"$set": {"state": "cancelled", "lease_ms": 0}}
        )

    async def is_over(self, stream_id: str) -> bool:
        doc = await self._streams.find_one({"_id": stream_id})
        return bool(doc and doc.get("over"))

    async def describe(self, stream_id: str, owner_id: str, title: str) -> None:
        """Remember who owns the stream; a campaign waiting for it becomes ready."""
        await self._streams.update_one(
            {"_id": stream_id}, {"$set": {"owner_id": owner_id, "title": title}}, upsert=True
        )
        await self._make_ready(stream_id, owner_id, title)

    async def _make_ready(self, stream_id: str, owner_id: str, title: str) -> None:
        await self._col.update_one(
            {"_id": stream_id, "ready": False},
            {"$set": {"ready": True, "owner_id": owner_id, "title": title}},
        )

    async def title_of(self, stream_id: str) -> str | None:
        doc = await self._streams.find_one({"_id": stream_id})
        return str(doc.get("title")) if doc else None

    async def claim(self, now: datetime, lease_s: float) -> Doc | None:
        return await self._col.find_one_and_update(
            {"state": "pending", "ready": True, "lease_ms": {"$lt": to_ms(now)}},
            {"$set": {"lease_ms": to_ms(now + timedelta(seconds=lease_s))}},
            return_document=ReturnDocument.AFTER,
        )

    async def advance(
        self, stream_id: str, cursor: str, delivered: int, now: datetime, lease_s: float
    ) -> None:
        await self._col.update_one(
            {"_id": stream_id},
            {
                "$set": {"cursor": cursor, "lease_ms": to_ms(now + timedelta(seconds=lease_s))},
                "$inc": {"delivered": delivered},
            },
        )

    async def finish(self, stream_id: str) -> None:
        await self._col.update_one({"_id": stream_id}, {"$set": {"state": "done", "lease_ms": 0}})

    async def get(self, stream_id: str) -> Doc | None:
        return await self._col.find_one({"_id": stream_id})
