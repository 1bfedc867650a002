"""What stream-svc consumes: Mux live stream and asset webhooks, viewer counts, its own
moderation events (projection repair), and chat-gateway's pin changes (logged in the moderation
log). Thin: envelope -> handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import Envelope
from contracts.blocked_terms import BlockedTermAdded, BlockedTermRemoved
from contracts.moderation import ModeratorAdded, ModeratorRemoved, UserBanned, UserUnbanned
from contracts.pins import ChatPinChanged
from contracts.stream import StreamEnded
from contracts.viewer import ViewerCountChanged
from contracts.webhook import MuxWebhookReceived
from servicekit.consumer import EventDispatcher
from stream_svc.deps import Deps
from stream_svc.handlers.blocked_terms import apply_term_event
from stream_svc.handlers.events import apply_moderation, apply_mux_event, apply_viewer_count
from stream_svc.handlers.pins import log_pin_change
from stream_svc.handlers.streams import stop_stream_key


def build_dispatcher(deps: Callable[[], Deps]) -> EventDispatcher:
    events = EventDispatcher()

    @events.on_mux("video.live_stream.*", "video.asset.*")
    async def on_mux(env: Envelope[Any]) -> None:
        payload: MuxWebhookReceived = env.payload
        await apply_mux_event(payload, deps())

    @events.on(StreamEnded)
    async def on_ended(env: Envelope[Any]) -> None:
        await stop_stream_key(env.payload.stream_id, deps())

    @events.on(ViewerCountChanged)
    async def on_count(env: Envelope[Any]) -> None:
        await apply_viewer_count(env.payload, deps())

    @events.on(ModeratorAdded, ModeratorRemoved, UserBanned, UserUnbanned)
    async def on_moderation(env: Envelope[Any]) -> None:
        await apply_moderation(env.payload, deps())

    @events.on(BlockedTermAdded, BlockedTermRemoved)
    async def on_blocked_term(env: Envelope[Any]) -> None:
        await apply_term_event(env.payload, deps())

    @events.on(ChatPinChanged)
    async def on_pin(env: Envelope[Any]) -> None:
        await log_pin_change(env.payload, env.event_id, deps())

    return events
