"""chat-gateway's collections in MongoDB. Times written by updates are epoch ms.

* ``chat_messages``: one document per message, unique ``(stream_id, seq)`` and
  ``(stream_id, account_id, client_msg_id)`` (a resend returns the original);
* ``chat_seq``: the per-stream sequence counter;
* ``chat_stream_view``, ``chat_moderators``, ``chat_bans``: the projection (status, owner, slow
  mode, followers-only mode, viewer count; moderators and bans one document per account);
* ``chat_slow_gate``: last post per (stream, account) while slow mode is on (each instance
  deletes, at most once a minute, the gates older than the longest slow-mode interval and a
  minute for clocks that differ);
* ``gifts``: the ledger (unique per sender and Idempotency-Key), staging ``gift.sent``;
* ``chat_connections``: which accounts are connected to which instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chat_gateway.adapters.mongo_room_extras import BlockedTermsProjection, PinStore
from chat_gateway.domain.room import Ban, RoomState
from contracts import Envelope, Event
from contracts.chat import MAX_SLOW_MODE_S
from contracts.common import StreamStatus, compound_key
from servicekit.mongo import (
    CLOCK_MARGIN_MS,
    Doc,
    FieldDefault,
    IndexSpec,
    Sweeper,
    from_ms,
    to_ms,
)
from servicekit.outbox import stage_insert, stage_update
from servicekit.tasks import fail_future
from servicekit.writes import write_if_newer

MESSAGES, SEQ, VIEW, MODS, BANS = (
    "chat_messages",
    "chat_seq",
    "chat_stream_view",
    "chat_moderators",
    "chat_bans",
)
SLOW, GIFTS, CONNECTIONS = "chat_slow_gate", "gifts", "chat_connections"
#: How long a slow-mode gate is kept after a post (ms): the longest interval (a gate older than
#: that decides as one never written), and a minute more: the instance that sweeps may have a
#: clock ahead of the poster's (or a post may be decided a little after its ``now``).
GATE_KEPT_MS = MAX_SLOW_MODE_S * 1000 + CLOCK_MARGIN_MS
#: How often (seconds) an instance deletes such gates.
GATE_SWEEP_S = 60.0

log = logging.getLogger(__name__)

#: Every stream view is created with each clock its conditional writes compare (``rank`` -1: no
#: status seen yet; times 0: never set), so no filter has to accept a missing field.
VIEW_CREATED_WITH = {
    "rank": -1,
    "slow_at_ms": 0,
    "viewer_as_of_ms": 0,
    "followers_only_at_ms": 0,
}

INDEXES: list[IndexSpec | FieldDefault] = [
    *(FieldDefault(VIEW, name, value) for name, value in VIEW_CREATED_WITH.items()),
    IndexSpec(MESSAGES, [("stream_id", 1), ("seq", 1)], unique=True),
    IndexSpec(MESSAGES, [("stream_id", 1), ("account_id", 1), ("client_msg_id", 1)], unique=True),
    IndexSpec(MODS, [("stream_id", 1)]),
    IndexSpec(BANS, [("stream_id", 1)]),
    IndexSpec(CONNECTIONS, [("stream_id", 1)]),
    IndexSpec(CONNECTIONS, [("instance", 1)]),
    IndexSpec(SLOW, [("last_ms", 1)]),  # the sweep of gates no interval can close
]


def _key(stream_id: str, account_id: str) -> str:
    return compound_key(stream_id, account_id)


def _gap(stream_id: str, seq: int) -> Doc:
    return {
        "_id": f"gap:{stream_id}:{seq}",
        "stream_id": stream_id,
        "seq": seq,
        "account_id": "",
        "client_msg_id": f"gap:{seq}",
        "text": "",
        "deleted": True,
        "gap": True,
    }


class ChatStore:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._msgs = db[MESSAGES]
        self._seq = db[SEQ]
        self._slow = db[SLOW]
        self._gates = Sweeper(self._slow, "last_ms", GATE_KEPT_MS, every_s=GATE_SWEEP_S)
        self._lookups: dict[str, list[tuple[tuple[str, str], asyncio.Future[Doc | None]]]] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}

    async def reserve(self, stream_id: str, count: int) -> int:
        """Take the stream's next ``count`` sequence numbers in one atomic increment; returns
        the last of them (the range is ``last - count + 1 .. last``). Raises the driver's
        errors (``unavailable_dependency`` maps them)."""
        doc = await self._seq.find_one_and_update(
            {"_id": stream_id},
            {"$inc": {"seq": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["seq"]) if doc else count

    async def insert_batch(self, messages: Sequence[Doc]) -> int | None:
        """Store ``messages`` in order in one write, stopping at the first one a unique key
        refuses (its ``seq`` holds a gap marker, or its ``client_msg_id`` a message stored
        before: see :meth:`originals`); returns that one's index (those before it are stored,
        it and those after it are not), or ``None`` when every one was stored."""
        if not messages:
            return None
        try:
            await self._msgs.insert_many(list(messages))
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if len(errors) != 1 or errors[0].get("code") != 11000:
                raise
            return int(errors[0]["index"])
        return None

    async def originals(
        self, stream_id: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Doc]:
        """The messages stored for these ``(account_id, client_msg_id)`` keys, in one read."""
        if not keys:
            return {}
        wanted = set(keys)
        cursor = self._msgs.find(
            {"stream_id": stream_id, "client_msg_id": {"$in": sorted({c for _, c in keys})}}
        )
        return {
            (d["account_id"], d["client_msg_id"]): d
            async for d in cursor
            if (d["account_id"], d["client_msg_id"]) in wanted
        }

    async def current_seq(self, stream_id: str) -> int:
        doc = await self._seq.find_one({"_id": stream_id})
        return int(doc["seq"]) if doc else 0

    async def original(self, stream_id: str, account_id: str, client_msg_id: str) -> Doc | None:
        """The message stored for this ``client_msg_id`` (a resend's original), if any.
        Lookups of a stream asked while one of its reads is in flight share the next read
        (issue 18: one read per batch of posts, not one per post)."""
        key = (account_id, client_msg_id)
        future: asyncio.Future[Doc | None] = asyncio.get_running_loop().create_future()
        self._lookups.setdefault(stream_id, []).append((key, future))
        if stream_id not in self._readers:
            task = asyncio.get_running_loop().create_task(self._read_originals(stream_id))
            self._readers[stream_id] = task
        return await future

    async def _read_originals(self, stream_id: str) -> None:
        try:
            while waiting := self._lookups.pop(stream_id, None):
                try:
                    found = await self.originals(stream_id, [key for key, _ in waiting])
                except BaseException as exc:
                    for _, future in waiting:
                        fail_future(future, exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for key, future in waiting:
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            del self._readers[stream_id]

    async def insert_gap(self, stream_id: str, seq: int) -> None:
        """Fill a sequence number whose message could not be stored, so nobody waits for it."""
        await self.insert_gaps(stream_id, [seq])

    async def insert_gaps(self, stream_id: str, seqs: Sequence[int]) -> None:
        """Fill every number of ``seqs`` with a gap marker in one write; numbers whose message
        (or marker) is stored already are left as they are."""
        if not seqs:
            return
        try:
            await self._msgs.insert_many([_gap(stream_id, seq) for seq in seqs], ordered=False)
        except BulkWriteError as exc:  # duplicates are expected; the others were written
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def between(self, stream_id: str, lo: int, hi: int) -> list[Doc]:
        """Every message (deleted ones and gaps included) with ``lo <= seq <= hi``, in order."""
        cursor = self._msgs.find({"stream_id": stream_id, "seq": {"$gte": lo, "$lte": hi}}).sort(
            "seq", 1
        )
        return [d async for d in cursor]

    async def after(self, stream_id: str, seq: int, limit: int) -> list[Doc]:
        """Visible messages after ``seq``, oldest first."""
        cursor = self._msgs.find({"stream_id": stream_id, "seq": {"$gt": seq}, "deleted": False})
        return [d async for d in cursor.sort("seq", 1).limit(limit)]

    async def recent(self, stream_id: str, limit: int) -> list[Doc]:
        """The last ``limit`` visible messages, oldest first (none for ``limit`` 0)."""
        if limit <= 0:  # MongoDB reads limit(0) as "no limit"
            return []
        cursor = (
            self._msgs.find({"stream_id": stream_id, "deleted": False}).sort("seq", -1).limit(limit)
        )
        return list(reversed([d async for d in cursor]))

    async def history(self, stream_id: str, before_seq: int | None, limit: int) -> list[Doc]:
        """Visible messages, newest first, older than ``before_seq``."""
        query: dict[str, Any] = {"stream_id": stream_id, "deleted": False}
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        return [d async for d in self._msgs.find(query).sort("seq", -1).limit(limit)]

    async def deleted_ids(self, stream_id: str, lo: int, hi: int) -> list[Doc]:
        cursor = self._msgs.find(
            {
                "stream_id": stream_id,
                "seq": {"$gte": lo, "$lte": hi},
                "deleted": True,
                "gap": {"$ne": True},
            },
            {"seq": 1},
        )
        return [d async for d in cursor]

    async def get(self, stream_id: str, message_id: str) -> Doc | None:
        return await self._msgs.find_one({"_id": message_id, "stream_id": stream_id})

    async def delete(
        self, stream_id: str, message_id: str, by: str, envelope: Envelope[Event]
    ) -> bool:
        result = await self._msgs.update_one(
            {"_id": message_id, "stream_id": stream_id, "deleted": False},
            stage_update({"$set": {"deleted": True, "deleted_by": by}}, [envelope]),
        )
        return result.modified_count == 1

    async def pass_slow_gate(
        self, stream_id: str, account_id: str, interval_s: int, now: datetime
    ) -> float:
        """0 if the account may post now (and records it), else seconds to wait (across
        instances: the gate is one conditional write)."""
        now_ms = to_ms(now)
        self._gates.maybe(now_ms)
        try:
            await self._slow.update_one(
                {
                    "_id": _key(stream_id, account_id),
                    "last_ms": {"$lte": now_ms - interval_s * 1000},
                },
                {"$set": {"last_ms": now_ms}},
                upsert=True,
            )
        except DuplicateKeyError:
            doc = await self._slow.find_one({"_id": _key(stream_id, account_id)})
            last = int(doc["last_ms"]) if doc else now_ms
            return max(0.1, (last + interval_s * 1000 - now_ms) / 1000)
        return 0.0

    async def sweep_gates(self, now_ms: int) -> int:
        """Delete the slow-mode gates no interval can close any more (last post longer ago than
        the longest interval, by a minute's margin for clocks); returns how many."""
        return await self._gates.sweep(now_ms)


class ChatProjection:
    """The stream projection in MongoDB, same merge rules as :class:`RoomState`."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._view = db[VIEW]
        self._mods = db[MODS]
        self._bans = db[BANS]
        self.terms, self.pins = BlockedTermsProjection(db), PinStore(db)

    async def load(self, stream_id: str) -> RoomState:
        state = RoomState(stream_id)
        view = await self._view.find_one({"_id": stream_id}, {"_outbox": 0})
        if view is not None:
            state.owner_id = view.get("owner_id")
            state.status = StreamStatus(view.get("status", "idle"))
            state.slow_mode_s = int(view.get("slow_mode_s") or 0)
            state.slow_mode_at = from_ms(view.get("slow_at_ms") or None)
            state.followers_only = bool(view.get("followers_only"))
            state.min_follow_minutes = int(view.get("min_follow_minutes") or 0)
            state.followers_only_at = from_ms(view.get("followers_only_at_ms") or None)
            state.viewer_count = int(view.get("viewer_count") or 0)
            state.viewer_as_of = from_ms(view.get("viewer_as_of_ms") or None)
        async for d in self._mods.find({"stream_id": stream_id}):
            state.moderators[d["account_id"]] = (bool(d["is_moderator"]), from_ms(d["at_ms"]))
        async for d in self._bans.find({"stream_id": stream_id}):
            state.bans[d["account_id"]] = Ban(
                bool(d["banned"]),
                from_ms(d["at_ms"]),
                from_ms(d.get("expires_ms")),
                d.get("reason"),
            )
        state.blocklist = await self.terms.load(stream_id)
        state.pin = await self.pins.load(stream_id)
        return state

    async def describe(self, stream_id: str, owner_id: str) -> None:
        await self._view.update_one(
            {"_id": stream_id},
            {
                "$set": {"owner_id": owner_id},
                "$setOnInsert": {**VIEW_CREATED_WITH, "status": "idle", "rank": 0},
            },
            upsert=True,
        )

    async def advance(self, stream_id: str, status: StreamStatus) -> bool:
        return await write_if_newer(
            self._view,
            stream_id,
            clock="rank",
            stamp=status.rank,
            values={"status": status.value},
            created_with=VIEW_CREATED_WITH,
        )

    async def set_moderator(
        self, stream_id: str, account_id: str, is_moderator: bool, at: datetime
    ) -> bool:
        values = {"stream_id": stream_id, "account_id": account_id, "is_moderator": is_moderator}
        key = _key(stream_id, account_id)
        return await write_if_newer(self._mods, key, clock="at_ms", stamp=to_ms(at), values=values)

    async def set_ban(self, stream_id: str, account_id: str, ban: Ban) -> bool:
        values = {
            "stream_id": stream_id,
            "account_id": account_id,
            "banned": ban.banned,
            "expires_ms": to_ms(ban.expires_at),
            "reason": ban.reason,
        }
        key = _key(stream_id, account_id)
        return await write_if_newer(
            self._bans, key, clock="at_ms", stamp=to_ms(ban.at), values=values
        )

    async def set_slow_mode(
        self,
        stream_id: str,
        interval_s: int,
        at: datetime,
        envelopes: Sequence[Envelope[Event]] = (),
    ) -> bool:
        return await write_if_newer(
            self._view,
            stream_id,
            clock="slow_at_ms",
            stamp=to_ms(at),
            values={"slow_mode_s": interval_s},
            created_with=VIEW_CREATED_WITH,
            envelopes=envelopes,
        )

    async def set_followers_only(
        self,
        stream_id: str,
        enabled: bool,
        min_follow_minutes: int,
        at: datetime,
        envelopes: Sequence[Envelope[Event]] = (),
    ) -> bool:
        """Followers-only mode, last-write-wins by ``at`` (as slow mode)."""
        return await write_if_newer(
            self._view,
            stream_id,
            clock="followers_only_at_ms",
            stamp=to_ms(at),
            values={"followers_only": enabled, "min_follow_minutes": min_follow_minutes},
            created_with=VIEW_CREATED_WITH,
            envelopes=envelopes,
        )

    async def set_viewer_count(self, stream_id: str, count: int, as_of: datetime) -> bool:
        return await write_if_newer(
            self._view,
            stream_id,
            clock="viewer_as_of_ms",
            stamp=to_ms(as_of),
            values={"viewer_count": count},
            created_with=VIEW_CREATED_WITH,
        )


class GiftLedger:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[GIFTS]

    async def get(self, key: str) -> Doc | None:
        """The gift stored under ``key`` (sender and Idempotency-Key), if any."""
        return await self._col.find_one({"_id": key}, {"_outbox": 0})

    async def charge(self, key: str, gift: Doc, envelope: Envelope[Event]) -> tuple[Doc, bool]:
        """Store the gift once per ``key``; ``(gift, charged_now)``."""
        try:
            await self._col.insert_one({"_id": key, **gift, **stage_insert([envelope])})
        except DuplicateKeyError:
            existing = await self._col.find_one({"_id": key}, {"_outbox": 0})
            if existing is None:
                raise
            return existing, False
        return gift, True


class ConnectionRegistry:
    """Which accounts are connected to which instance. Connects and disconnects are written in
    the background, in batches every ``flush_s`` (one ``insert_many`` and one ``delete_many``):
    a connection storm does not put one database write per socket on the path chat posting
    uses, and a connect never waits for the database (issue 17). A connection that came and
    went between two flushes is never written. Readers see changes up to ``flush_s`` late."""

    def __init__(self, db: AsyncDatabase[Doc], *, flush_s: float = 0.5) -> None:
        self._col = db[CONNECTIONS]
        self._flush_s = flush_s
        self._adds: dict[str, Doc] = {}
        self._removes: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def add(
        self, conn_id: str, instance: str, stream_id: str, account_id: str, now: datetime
    ) -> None:
        """Record a connection (written with the next batch)."""
        self._adds[conn_id] = {
            "_id": conn_id,
            "instance": instance,
            "stream_id": stream_id,
            "account_id": account_id,
            "connected_at": now,
            "seen_ms": to_ms(now),
        }

    def remove(self, conn_id: str) -> None:
        """Forget a connection (with the next batch; at once if it was never written)."""
        if self._adds.pop(conn_id, None) is None:
            self._removes.add(conn_id)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the background writer after a last flush."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            try:
                await self.flush()
            except Exception as exc:
                log.warning("connection registry not written (retrying): %r", exc)

    async def flush(self) -> None:
        """Write what changed since the last flush; on failure it is kept for the next one."""
        adds, self._adds = self._adds, {}
        removes, self._removes = self._removes, set()
        try:
            if adds:
                try:
                    await self._col.insert_many(list(adds.values()), ordered=False)
                except BulkWriteError as exc:  # already written by an earlier attempt
                    if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                        raise
            if removes:
                await self._col.delete_many({"_id": {"$in": sorted(removes)}})
        except BaseException:
            for conn_id, doc in adds.items():  # keep for the next flush unless gone meanwhile
                if conn_id in self._removes:
                    self._removes.discard(conn_id)
                    removes.add(conn_id)
                else:
                    self._adds.setdefault(conn_id, doc)
            self._removes |= removes
            raise

    async def refresh(self, instance: str, now: datetime, stale_after_s: float) -> None:
        """Mark this instance's connections seen; forget those of instances that went away."""
        await self._col.update_many({"instance": instance}, {"$set": {"seen_ms": to_ms(now)}})
        await self._col.delete_many(
            {"seen_ms": {"$lt": to_ms(now - timedelta(seconds=stale_after_s))}}
        )

    async def of_stream(self, stream_id: str) -> list[Doc]:
        return [d async for d in self._col.find({"stream_id": stream_id}).sort("connected_at", 1)]
