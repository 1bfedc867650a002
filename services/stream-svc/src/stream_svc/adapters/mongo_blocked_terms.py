"""``stream_blocked_terms`` in MongoDB: one document per (stream, term), written last-write-wins
by the action's time (epoch ms ``at_ms``); ``active`` false once removed. The action log
(``moderation_actions``, :mod:`stream_svc.adapters.mongo_moderation`) stages the events."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from contracts.common import compound_key
from servicekit.mongo import Doc, IndexSpec, from_ms, to_ms
from servicekit.writes import write_if_newer
from stream_svc.domain.model import BlockedTerm

TERMS = "stream_blocked_terms"

INDEXES = [IndexSpec(TERMS, [("stream_id", 1), ("active", 1)])]


def _key(stream_id: str, term_id: str) -> str:
    return compound_key(stream_id, term_id)


class MongoBlockedTerms:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._terms = db[TERMS]

    async def version(self, stream_id: str, term_id: str) -> int:
        """The time (epoch ms) of the last action applied to this term, 0 if none."""
        doc = await self._terms.find_one({"_id": _key(stream_id, term_id)}, {"at_ms": 1})
        return int(doc.get("at_ms") or 0) if doc else 0

    async def get(self, stream_id: str, term_id: str) -> BlockedTerm | None:
        """The term if it is blocked (expired or not)."""
        d = await self._terms.find_one({"_id": _key(stream_id, term_id), "active": True})
        return _term(d) if d is not None else None

    async def of_stream(self, stream_id: str, now: datetime) -> list[BlockedTerm]:
        """The stream's blocked terms in force at ``now``, oldest first."""
        cursor = self._terms.find({"stream_id": stream_id, "active": True}).sort("at_ms", 1)
        return [t for t in [_term(d) async for d in cursor] if t.active(now)]

    async def set(self, term: BlockedTerm, *, active: bool) -> bool:
        """Apply an add (``active``) or a removal, unless a newer action wrote this term."""
        values = {
            "stream_id": term.stream_id,
            "term_id": term.term_id,
            "term": term.term,
            "active": active,
            "by": term.by,
            "expires_at_ms": to_ms(term.expires_at) if active else None,
        }
        return await write_if_newer(
            self._terms,
            _key(term.stream_id, term.term_id),
            clock="at_ms",
            stamp=to_ms(term.at),
            values=values,
        )


def _term(d: Doc) -> BlockedTerm:
    return BlockedTerm(
        d["stream_id"],
        d["term_id"],
        d["term"],
        d["by"],
        from_ms(d["at_ms"]),
        from_ms(d.get("expires_at_ms")),
    )
