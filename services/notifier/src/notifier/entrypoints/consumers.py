"""notifier's consumers: go-live triggers, stream owners, gifts, bans. Thin; the fan-out itself
runs in a background worker, so a big campaign never blocks other events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import Envelope
from contracts.chat import GiftSent
from contracts.moderation import UserBanned
from contracts.notification import NotificationCreated, NotificationsCreated
from contracts.stream import (
    StreamCreated,
    StreamDeleted,
    StreamEnded,
    StreamStarted,
    StreamUpdated,
)
from notifier import handlers
from notifier.deps import Deps
from notifier.inbox_watch import wake
from servicekit.consumer import EventDispatcher


def build_dispatcher(deps: Callable[[], Deps], wake: Callable[[], None]) -> EventDispatcher:
    events = EventDispatcher()

    @events.on(StreamCreated)
    async def created(env: Envelope[Any]) -> None:
        p: StreamCreated = env.payload
        await handlers.stream_known(p.stream_id, p.owner_id, p.title, deps())
        wake()

    @events.on(StreamStarted)
    async def started(env: Envelope[Any]) -> None:
        p: StreamStarted = env.payload
        await handlers.stream_known(p.stream_id, p.owner_id, p.title, deps())
        await handlers.went_live(p.stream_id, p.started_at, deps())
        wake()

    @events.on(StreamUpdated)
    async def updated(env: Envelope[Any]) -> None:
        p: StreamUpdated = env.payload
        await handlers.stream_known(p.stream_id, p.owner_id, p.title, deps())

    @events.on(StreamEnded, StreamDeleted)
    async def over(env: Envelope[Any]) -> None:
        await handlers.stream_over(env.payload.stream_id, deps())

    @events.on(GiftSent)
    async def gift(env: Envelope[Any]) -> None:
        p: GiftSent = env.payload
        await handlers.gift_sent(
            p.gift_id,
            p.stream_id,
            p.recipient_id,
            p.sender_id,
            p.gift_type,
            p.amount,
            p.sent_at,
            deps(),
        )

    @events.on(UserBanned)
    async def banned(env: Envelope[Any]) -> None:
        p: UserBanned = env.payload
        await handlers.user_banned(
            p.stream_id, p.account_id, p.at, p.expires_at, p.reason, deps(), ban_id=p.ban_id
        )

    return events


def inbox_dispatcher(deps: Callable[[], Deps]) -> EventDispatcher:
    """This instance's own queue: new notifications answer the unread-count long polls it
    holds for their accounts (``notifier.inbox_watch``)."""
    events = EventDispatcher()

    @events.on(NotificationCreated)
    async def created(env: Envelope[Any]) -> None:
        d = deps()
        await wake(d.watch, [env.payload.account_id], d.inbox.unread_counts)

    @events.on(NotificationsCreated)
    async def batch(env: Envelope[Any]) -> None:
        d = deps()
        await wake(d.watch, env.payload.account_ids, d.inbox.unread_counts)

    return events
