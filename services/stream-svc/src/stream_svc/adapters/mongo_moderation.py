"""``stream_moderators``, ``stream_bans`` and ``moderation_actions`` in MongoDB.

The action log is the source of truth: each action is one inserted document that stages its
event (outbox). Moderators and bans are one document per ``(stream, account)``, updated
last-write-wins by the action's time, so applying actions again or out of order converges (the
service applies each action inline, and again from its own events as a repair).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import Envelope, Event
from contracts.common import compound_key
from servicekit.mongo import Doc, IndexSpec, from_ms, to_ms
from servicekit.outbox import stage_insert
from servicekit.writes import write_if_newer
from stream_svc.domain.model import Ban, ModerationAction, Moderator

MODERATORS = "stream_moderators"
BANS = "stream_bans"
ACTIONS = "moderation_actions"

INDEXES = [
    IndexSpec(MODERATORS, [("stream_id", 1), ("is_moderator", 1)]),
    IndexSpec(BANS, [("stream_id", 1), ("banned", 1)]),
    IndexSpec(ACTIONS, [("stream_id", 1), ("at_ms", -1)]),
]


def _key(stream_id: str, account_id: str) -> str:
    return compound_key(stream_id, account_id)


class MongoModeration:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._mods = db[MODERATORS]
        self._bans = db[BANS]
        self._actions = db[ACTIONS]

    async def log(self, action: ModerationAction, envelope: Envelope[Event] | None) -> bool:
        """Insert the action with its event staged (``None``: an action announced by the
        service that owns it, e.g. a pin); ``False`` if an action with its id is logged
        already (ids derive from the state they change: a concurrent repeat)."""
        doc = {
            "_id": action.action_id,
            "stream_id": action.stream_id,
            "action": action.action,
            "account_id": action.account_id,
            "by": action.by,
            "at_ms": to_ms(action.at),
            "expires_at": action.expires_at,
            "reason": action.reason,
            "detail": action.detail,
            "message_id": action.message_id,
            **stage_insert([envelope] if envelope is not None else []),
        }
        try:
            await self._actions.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def moderator_version(self, stream_id: str, account_id: str) -> int:
        """The time (epoch ms) of the last action applied to this moderator entry, 0 if none."""
        return await self._version(self._mods, _key(stream_id, account_id))

    async def ban_version(self, stream_id: str, account_id: str) -> int:
        """The time (epoch ms) of the last ban or unban applied to this account, 0 if none."""
        return await self._version(self._bans, _key(stream_id, account_id))

    async def _version(self, collection: Any, key: str) -> int:
        doc = await collection.find_one({"_id": key}, {"at_ms": 1})
        return int(doc.get("at_ms") or 0) if doc else 0

    async def history(
        self, stream_id: str, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[ModerationAction]:
        query: dict[str, Any] = {"stream_id": stream_id}
        if after is not None:
            at, action_id = after
            at_ms = to_ms(at)
            query["$or"] = [{"at_ms": {"$lt": at_ms}}, {"at_ms": at_ms, "_id": {"$lt": action_id}}]
        cursor = (
            self._actions.find(query, {"_outbox": 0})
            .sort([("at_ms", -1), ("_id", -1)])
            .limit(limit)
        )
        return [_action(d) async for d in cursor]

    async def logged(self, action_id: str) -> ModerationAction | None:
        """The logged action with this id, if any."""
        d = await self._actions.find_one({"_id": action_id}, {"_outbox": 0})
        return _action(d) if d is not None else None

    async def _last_write_wins(
        self, collection: AsyncCollection[Doc], key: str, at: datetime, values: Doc
    ) -> bool:
        """Set ``values`` unless a newer action already wrote this key; ``True`` if applied.
        Times are epoch ms (written by updates, see ``to_ms``); every document is created by
        this write, so it always has ``at_ms`` (see ``servicekit.writes``)."""
        return await write_if_newer(collection, key, clock="at_ms", stamp=to_ms(at), values=values)

    async def set_moderator(
        self, stream_id: str, account_id: str, *, is_moderator: bool, by: str, at: datetime
    ) -> bool:
        values = {
            "stream_id": stream_id,
            "account_id": account_id,
            "is_moderator": is_moderator,
            "by": by,
        }
        return await self._last_write_wins(self._mods, _key(stream_id, account_id), at, values)

    async def is_moderator(self, stream_id: str, account_id: str) -> bool:
        doc = await self._mods.find_one({"_id": _key(stream_id, account_id), "is_moderator": True})
        return doc is not None

    async def moderators(self, stream_id: str) -> list[Moderator]:
        cursor = self._mods.find({"stream_id": stream_id, "is_moderator": True}).sort("at_ms", 1)
        return [
            Moderator(d["stream_id"], d["account_id"], d["by"], from_ms(d["at_ms"]))
            async for d in cursor
        ]

    async def set_ban(
        self,
        stream_id: str,
        account_id: str,
        *,
        banned: bool,
        by: str,
        at: datetime,
        expires_at: datetime | None = None,
        reason: str | None = None,
    ) -> bool:
        values = {
            "stream_id": stream_id,
            "account_id": account_id,
            "banned": banned,
            "by": by,
            "expires_at_ms": to_ms(expires_at) if banned else None,
            "reason": reason if banned else None,
        }
        return await self._last_write_wins(self._bans, _key(stream_id, account_id), at, values)

    async def ban_of(self, stream_id: str, account_id: str) -> Ban | None:
        d = await self._bans.find_one({"_id": _key(stream_id, account_id), "banned": True})
        return _ban(d) if d is not None else None

    async def bans(self, stream_id: str, now: datetime) -> list[Ban]:
        cursor = self._bans.find({"stream_id": stream_id, "banned": True}).sort("at_ms", 1)
        return [b for b in [_ban(d) async for d in cursor] if b.active(now)]


def _action(d: Doc) -> ModerationAction:
    return ModerationAction(
        d["_id"],
        d["stream_id"],
        d["action"],
        d["account_id"],
        d["by"],
        from_ms(d["at_ms"]),
        d.get("expires_at"),
        d.get("reason"),
        d.get("detail"),
        d.get("message_id"),
    )


def _ban(d: Doc) -> Ban:
    return Ban(
        d["stream_id"],
        d["account_id"],
        d["by"],
        from_ms(d["at_ms"]),
        from_ms(d.get("expires_at_ms")),
        d.get("reason"),
    )
