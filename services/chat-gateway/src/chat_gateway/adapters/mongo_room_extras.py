"""Two more parts of a room's state in MongoDB, each written last-write-wins by its action's
time (epoch ms ``at_ms``, ``servicekit.writes``):

* ``chat_blocked_terms``: the projection of stream-svc's blocked terms, one document per
  (stream, term), ``active`` false once removed;
* ``chat_pins``: the room's pin, one document per stream (chat-gateway owns pins), staging
  ``chat.pin_changed`` in the same write (outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chat_gateway.domain.blocklist import BlockedTerm, Blocklist
from chat_gateway.domain.pin import PinSlot
from contracts import Envelope, Event
from contracts.common import compound_key
from contracts.pins import PinnedMessage
from servicekit.mongo import Doc, IndexSpec, from_ms, to_ms
from servicekit.writes import write_if_newer

TERMS, PINS = "chat_blocked_terms", "chat_pins"

INDEXES = [IndexSpec(TERMS, [("stream_id", 1)])]


class BlockedTermsProjection:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._terms = db[TERMS]

    async def load(self, stream_id: str) -> Blocklist:
        """Every term the stream ever had, in its latest state (removed ones included: a late
        older add must not revive them)."""
        blocklist = Blocklist()
        async for d in self._terms.find({"stream_id": stream_id}):
            blocklist.set(
                BlockedTerm(
                    d["term_id"],
                    d["term"],
                    bool(d["active"]),
                    from_ms(d["at_ms"]),
                    from_ms(d.get("expires_ms")),
                )
            )
        return blocklist

    async def set(self, stream_id: str, term: BlockedTerm) -> bool:
        values = {
            "stream_id": stream_id,
            "term_id": term.term_id,
            "term": term.term,
            "active": term.active,
            "expires_ms": to_ms(term.expires_at),
        }
        key = compound_key(stream_id, term.term_id)
        return await write_if_newer(
            self._terms, key, clock="at_ms", stamp=to_ms(term.at), values=values
        )


def _pin_fields(pin: PinnedMessage | None) -> dict[str, Any]:
    if pin is None:
        return {"up": False}
    return {
        "up": True,
        "pin_id": pin.pin_id,
        "text": pin.text,
        "message_id": pin.message_id,
        "seq": pin.seq,
        "account_id": pin.account_id,
        "pinned_by": pin.pinned_by,
        "pinned_at_ms": to_ms(pin.pinned_at),
        "until_ms": to_ms(pin.until),
    }


def _pin_of(d: Doc) -> PinnedMessage | None:
    if not d.get("up"):
        return None
    return PinnedMessage(
        pin_id=d["pin_id"],
        text=d["text"],
        message_id=d.get("message_id"),
        seq=d.get("seq"),
        account_id=d.get("account_id"),
        pinned_by=d["pinned_by"],
        pinned_at=from_ms(d["pinned_at_ms"]),
        until=from_ms(d.get("until_ms")),
    )


class PinStore:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._pins = db[PINS]

    async def load(self, stream_id: str) -> PinSlot:
        d = await self._pins.find_one({"_id": stream_id}, {"_outbox": 0})
        if d is None:
            return PinSlot()
        return PinSlot(_pin_of(d), from_ms(d["at_ms"]))

    async def set(
        self,
        stream_id: str,
        pin: PinnedMessage | None,
        at: datetime,
        envelopes: Sequence[Envelope[Event]] = (),
    ) -> bool:
        """Put ``pin`` up (``None``: take it down) unless a newer change was written; the
        envelopes are staged by the same write."""
        return await write_if_newer(
            self._pins,
            stream_id,
            clock="at_ms",
            stamp=to_ms(at),
            values=_pin_fields(pin),
            envelopes=envelopes,
        )
