"""Gift streaks and per-sender totals in MongoDB (issue 21).

* ``gift_streaks``: one document per (stream, sender, gift type): the current combo streak's
  ``streak_id``, ``count`` (sum of ``amount``), ``last_ms`` (epoch ms of its last gift) and
  ``last_key`` (the ledger key of that gift), created with every field its filters compare;
  a streak lapsed a minute beyond its window is deleted (it decides as no streak: the next gift
  starts a new one; retries are answered by their claims).
* ``gift_streak_claims``: one document per ledger key (``_id``) that joined a streak, with the
  streak it got: a key counts in a streak once, whatever retries or reused keys race it
  (expires a day later).
* the totals per sender are read from the ``gifts`` ledger (``adapters/mongo.GiftLedger``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_gateway.adapters.mongo import GIFTS
from contracts.common import compound_key
from servicekit.mongo import CLOCK_MARGIN_MS, Doc, IndexSpec, Sweeper

log = logging.getLogger(__name__)

STREAKS = "gift_streaks"
CLAIMS = "gift_streak_claims"
#: How long a retry waits for its first try's streak (s) before showing a streak of its own.
CLAIM_WAIT_S = 2.0
#: Tries before a gift is shown as a streak of its own (each lost try means another gift of the
#: same sender and type changed the streak at the same moment).
ATTEMPTS = 5

GIFT_INDEXES: list[IndexSpec] = [
    IndexSpec(GIFTS, [("stream_id", 1)]),
    IndexSpec(STREAKS, [("last_ms", 1)]),  # the sweep of lapsed streaks
    IndexSpec(CLAIMS, [("at", 1)], ttl_s=24 * 3600),
]


@dataclass(frozen=True, slots=True)
class Streak:
    streak_id: str
    count: int


class GiftStreaks:
    """Decides which combo streak a gift joins, once, where the gift is stored."""

    def __init__(self, db: AsyncDatabase[Doc], *, window_s: float) -> None:
        self._col = db[STREAKS]
        self._claims = db[CLAIMS]
        self.window_s = window_s
        self._window_ms = int(window_s * 1000)
        self._sweeper = Sweeper(self._col, "last_ms", self._window_ms + CLOCK_MARGIN_MS)

    async def sweep(self, now_ms: int) -> int:
        """Delete the streaks lapsed more than ``CLOCK_MARGIN_MS`` (gateways' clocks may
        differ) beyond the window at ``now_ms``; returns how many."""
        return await self._sweeper.sweep(now_ms)

    async def join(
        self, *, stream_id: str, sender_id: str, gift_type: str, amount: int, key: str, at_ms: int
    ) -> Streak:
        """Add a gift (``amount`` units, ledger key ``key``, sent at ``at_ms``) to its sender's
        streak of ``gift_type`` on ``stream_id``: the current one when its last gift was at most
        the window before ``at_ms``, a new one otherwise.

        A ``key`` counts once: the first request to claim it joins the streak and records the
        result; any other request with it (a retry whose first try got this far, a concurrent
        retry, the same key reused with another body, on any instance) gets that result and
        counts nothing. A claim whose first try died before deciding is released on failure;
        if it never completes, the retry shows a streak of its own after ``CLAIM_WAIT_S``."""
        self._sweeper.maybe(at_ms)
        try:
            await self._claims.insert_one(
                {"_id": key, "at": datetime.now(UTC), "streak_id": "", "count": 0}
            )
        except DuplicateKeyError:
            return await self._claimed(key, amount)
        try:
            streak = await self._join(stream_id, sender_id, gift_type, amount, key, at_ms)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._claims.delete_one({"_id": key})
            raise
        await self._claims.update_one(
            {"_id": key}, {"$set": {"streak_id": streak.streak_id, "count": streak.count}}
        )
        return streak

    async def _claimed(self, key: str, amount: int) -> Streak:
        deadline = asyncio.get_running_loop().time() + CLAIM_WAIT_S
        while True:
            claim = await self._claims.find_one({"_id": key})
            if claim is not None and claim["streak_id"]:
                return Streak(claim["streak_id"], claim["count"])
            if claim is None or asyncio.get_running_loop().time() >= deadline:
                # released (the first try failed) or never completed: count nothing
                return Streak(f"st_{secrets.token_hex(8)}", amount)
            await asyncio.sleep(0.05)

    async def _join(
        self, stream_id: str, sender_id: str, gift_type: str, amount: int, key: str, at_ms: int
    ) -> Streak:
        _id = compound_key(stream_id, sender_id, gift_type)
        for _ in range(ATTEMPTS):
            doc = await self._col.find_one_and_update(
                {
                    "_id": _id,
                    "last_ms": {"$gte": at_ms - self._window_ms},
                    "last_key": {"$ne": key},
                },
                {"$inc": {"count": amount}, "$set": {"last_ms": at_ms, "last_key": key}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return Streak(doc["streak_id"], doc["count"])
            current = await self._col.find_one({"_id": _id})
            if current is not None and current["last_key"] == key:
                return Streak(current["streak_id"], current["count"])
            new_id = f"st_{secrets.token_hex(8)}"
            fresh: Doc = {
                "streak_id": new_id,
                "count": amount,
                "last_ms": at_ms,
                "last_key": key,
                "started_ms": at_ms,
            }
            if current is None:
                try:
                    await self._col.insert_one({"_id": _id, "stream_id": stream_id, **fresh})
                except DuplicateKeyError:
                    continue  # another gift started it meanwhile: join that one
                return Streak(new_id, amount)
            lapsed = await self._col.find_one_and_update(
                {"_id": _id, "last_ms": {"$lt": at_ms - self._window_ms}},
                {"$set": fresh},
                return_document=ReturnDocument.AFTER,
            )
            if lapsed is not None:
                return Streak(new_id, amount)
        log.warning(
            "gift streak of %s not decided after %d tries: a streak of its own", _id, ATTEMPTS
        )
        return Streak(f"st_{secrets.token_hex(8)}", amount)


@dataclass(frozen=True, slots=True)
class SenderTotal:
    sender_id: str
    gifts: int
    coins: int


class GiftTotals:
    """What a stream received, per sender, read from the gift ledger."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[GIFTS]

    async def per_sender(self, stream_id: str) -> list[SenderTotal]:
        """Every sender's gifts (sum of ``amount``) and coins, biggest spender first. (No "last
        sent" time: the stand-in answers ``$max`` of a date in ``$group`` with a JSON string.)"""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"stream_id": stream_id}},
            {
                "$group": {
                    "_id": "$sender_id",
                    "gifts": {"$sum": "$amount"},
                    "coins": {"$sum": "$total_price"},
                }
            },
        ]
        rows = [row async for row in await self._col.aggregate(pipeline)]
        totals = [SenderTotal(r["_id"], int(r["gifts"]), int(r["coins"])) for r in rows]
        totals.sort(key=lambda t: (-t.coins, -t.gifts, t.sender_id))
        return totals
