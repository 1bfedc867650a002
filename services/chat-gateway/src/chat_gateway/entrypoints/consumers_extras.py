"""Blocked terms (stream-svc's, projected) and pins (chat-gateway's own) in the two consumers
of :mod:`chat_gateway.entrypoints.consumers`: written to the projection first (idempotent,
last-write-wins), then offered to the room this instance holds, so a change reaches every
instance as fast as the fan-out does (well under the 1 s the issue asks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chat_gateway.adapters.mongo import ChatProjection
from chat_gateway.domain.blocklist import BlockedTerm
from chat_gateway.hub import Hub, Room
from chat_gateway.protocol import encode
from contracts import Envelope
from contracts.blocked_terms import BlockedTermAdded, BlockedTermRemoved
from contracts.pins import ChatPinChanged
from contracts.ws import PinFrame
from servicekit.consumer import EventDispatcher


def term_of(p: BlockedTermAdded | BlockedTermRemoved) -> BlockedTerm:
    if isinstance(p, BlockedTermAdded):
        return BlockedTerm(p.term_id, p.term, True, p.at, p.expires_at)
    return BlockedTerm(p.term_id, p.term, False, p.at)


def register_projection(events: EventDispatcher, projection: Callable[[], ChatProjection]) -> None:
    @events.on(BlockedTermAdded, BlockedTermRemoved)
    async def blocked_term(env: Envelope[Any]) -> None:
        await projection().terms.set(env.payload.stream_id, term_of(env.payload))


def register_fanout(
    events: EventDispatcher, hub: Callable[[], Hub], projection: Callable[[], ChatProjection]
) -> None:
    expiries: dict[str, asyncio.TimerHandle] = {}  # stream -> the pending "pin expired"

    @events.on(BlockedTermAdded, BlockedTermRemoved)
    async def blocked_term(env: Envelope[Any]) -> None:
        term = term_of(env.payload)
        await projection().terms.set(env.payload.stream_id, term)

        async def change(room: Room) -> None:
            room.state.blocklist.set(term)

        await hub().apply(env.payload.stream_id, change)

    @events.on(ChatPinChanged)
    async def pinned(env: Envelope[Any]) -> None:
        p: ChatPinChanged = env.payload

        async def change(room: Room) -> None:
            if not room.state.pin.set(p.pin, p.at):
                return
            if (old := expiries.pop(p.stream_id, None)) is not None:
                old.cancel()
            shown = room.state.pin.shown(datetime.now(UTC))
            hub().send(room, encode(PinFrame(pin=shown)))
            if shown is not None and shown.until is not None:
                delay = (shown.until - datetime.now(UTC)).total_seconds()
                expiries[p.stream_id] = asyncio.get_running_loop().call_later(
                    delay, _expire, room, shown.pin_id
                )

        def _expire(room: Room, pin_id: str) -> None:
            expiries.pop(room.stream_id, None)
            current = room.state.pin.current
            if current is not None and current.pin_id == pin_id:
                hub().send(room, encode(PinFrame(pin=None)))

        await hub().apply(p.stream_id, change)
