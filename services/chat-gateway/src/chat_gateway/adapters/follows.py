"""``chat_follows``: chat-gateway's projection of notifier's follows (``follow.created`` /
``follow.removed``), read by followers-only chat. notifier owns follows; this is a copy kept
from its events, never read from notifier's database.

One document per (follower, followee): ``following``, ``since_ms`` (when the current follow
began) and ``version`` (the pair's change counter from the events). A write applies only if its
version is newer than the stored one (``servicekit.writes.write_if_newer``), so redeliveries
change nothing and a ``follow.removed`` that overtakes its ``follow.created`` is not undone by it.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from contracts.common import compound_key
from servicekit.mongo import Doc, from_ms, to_ms
from servicekit.writes import write_if_newer

FOLLOWS = "chat_follows"


class FollowProjection:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._col = db[FOLLOWS]

    async def apply(
        self,
        follower_id: str,
        followee_id: str,
        *,
        following: bool,
        version: int,
        since: datetime | None,
    ) -> bool:
        """Record the pair's state at ``version``; ``False`` when a newer or equal version is
        stored already. ``since``: when the follow began (``None`` for a removal)."""
        values = {
            "follower_id": follower_id,
            "followee_id": followee_id,
            "following": 1 if following else 0,
            "since_ms": to_ms(since) if since is not None else 0,
        }
        return await write_if_newer(
            self._col,
            compound_key(follower_id, followee_id),
            clock="version",
            stamp=version,
            values=values,
        )

    async def since(self, follower_id: str, followee_id: str) -> datetime | None:
        """When ``follower_id``'s current follow of ``followee_id`` began; ``None`` if they
        do not follow (as far as the events seen so far tell)."""
        doc = await self._col.find_one({"_id": compound_key(follower_id, followee_id)})
        if doc is None or not doc["following"]:
            return None
        return from_ms(int(doc["since_ms"]))
