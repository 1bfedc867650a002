"""Gift streaks and per-sender totals in MongoDB (issue 21).

* ``gift_streaks``: one document per (stream, sender, gift type): the current combo streak's
  ``streak_id``, ``count`` (sum of ``amount``), ``last_ms`` (epoch ms of its last gift) and
  ``last_key`` (the ledger key of that gift), created with every field its filters compare.
* the totals per sender are read from the ``gifts`` ledger (``adapters/mongo.GiftLedger``).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_gateway.adapters.mongo import GIFTS
from contracts.common import compound_key
from servicekit.mongo import Doc, IndexSpec

log = logging.getLogger(__name__)

STREAKS = "gift_streaks"
#: Tries before a gift is shown as a streak of its own (each lost try means another gift of the
#: same sender and type changed the streak at the same moment).
ATTEMPTS = 5

GIFT_INDEXES: list[IndexSpec] = [IndexSpec(GIFTS, [("stream_id", 1)])]


@dataclass(frozen=True, slots=True)
class Streak:
    streak_id: str
    count: int


class GiftStreaks:
    """Decides which combo streak a gift joins, once, where the gift is stored."""

    def __init__(self, db: AsyncDatabase[Doc], *, window_s: float) -> None:
        self._col = db[STREAKS]
        self.window_s = window_s
        self._window_ms = int(window_s * 1000)

    async def join(
        self, *, stream_id: str, sender_id: str, gift_type: str, amount: int, key: str, at_ms: int
    ) -> Streak:
        """Add a gift (``amount`` units, ledger key ``key``, sent at ``at_ms``) to its sender's
        streak of ``gift_type`` on ``stream_id``: the current one when its last gift was at most
        the window before ``at_ms``, a new one otherwise. The same ``key`` twice in a row (a
        retry whose first try got this far) counts once."""
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
