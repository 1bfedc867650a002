"""viewer-svc's consumers: the stream projection, bans and chat presence. Thin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import Envelope
from contracts.common import StreamStatus
from contracts.moderation import UserBanned, UserUnbanned
from contracts.stream import StreamCreated, StreamDeleted, StreamEnded, StreamStarted
from contracts.viewer import PresenceHeartbeat
from servicekit.consumer import EventDispatcher
from viewer_svc import handlers
from viewer_svc.deps import Deps

_STATUS: dict[str, StreamStatus] = {
    StreamStarted.TYPE: StreamStatus.ACTIVE,
    StreamEnded.TYPE: StreamStatus.ENDED,
    StreamDeleted.TYPE: StreamStatus.DELETED,
}


def build_dispatcher(deps: Callable[[], Deps]) -> EventDispatcher:
    events = EventDispatcher()

    @events.on(StreamCreated)
    async def created(env: Envelope[Any]) -> None:
        p: StreamCreated = env.payload
        await handlers.stream_described(p.stream_id, p.owner_id, p.playback_url, deps())

    @events.on(StreamStarted, StreamEnded, StreamDeleted)
    async def status(env: Envelope[Any]) -> None:
        p = env.payload
        if isinstance(p, StreamStarted):
            await handlers.stream_described(p.stream_id, p.owner_id, p.playback_url, deps())
        await handlers.stream_status(p.stream_id, _STATUS[env.event_type], deps())

    @events.on(UserBanned, UserUnbanned)
    async def bans(env: Envelope[Any]) -> None:
        p = env.payload
        banned = isinstance(p, UserBanned)
        await handlers.ban_changed(
            p.stream_id,
            p.account_id,
            banned=banned,
            at=p.at,
            expires_at=p.expires_at if banned else None,
            deps=deps(),
        )

    @events.on(PresenceHeartbeat)
    async def chat(env: Envelope[Any]) -> None:
        await handlers.chat_presence(env.payload, deps())

    return events
