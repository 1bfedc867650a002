"""``chat_rate``: the shared per-room, per-account rate budget (GCRA, see
:class:`chat_gateway.domain.limits.Budget`), one document per (stream, account) holding
``tat_ms``. Every decision is one conditional single-document write, right on MongoDB and on the
stand-in (no ``$or``, no pipeline update): instances racing for the last message of a budget
cannot both win it."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat_gateway.domain.limits import Budget
from servicekit.mongo import Doc, to_ms

RATE = "chat_rate"


class MongoRateBudgets:
    """:class:`chat_gateway.domain.limits.RateBudgets` in MongoDB."""

    def __init__(self, db: AsyncDatabase[Doc], budget: Budget) -> None:
        self._col = db[RATE]
        self.budget = budget

    async def take(self, stream_id: str, account_id: str, now: datetime) -> float:
        key, now_ms = f"{stream_id}\x1f{account_id}", to_ms(now)
        step, tolerance = self.budget.interval_ms, self.budget.tolerance_ms
        for _ in range(8):
            ahead = await self._col.update_one(  # tat in the future, within the tolerance
                {"_id": key, "tat_ms": {"$gt": now_ms, "$lte": now_ms + tolerance}},
                {"$inc": {"tat_ms": step}},
            )
            if ahead.modified_count:
                return 0.0
            try:  # tat in the past (or no document yet): start again from now
                await self._col.update_one(
                    {"_id": key, "tat_ms": {"$lte": now_ms}},
                    {"$set": {"tat_ms": now_ms + step}},
                    upsert=True,
                )
                return 0.0
            except DuplicateKeyError:
                pass
            doc = await self._col.find_one({"_id": key})
            if doc is None:
                continue
            _, wait = self.budget.decide(int(doc["tat_ms"]), now_ms)
            if wait > 0:
                return wait
        return step / 1000  # contention beyond reason: ask to retry shortly
