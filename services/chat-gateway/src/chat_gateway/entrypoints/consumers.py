"""Two consumers per instance.

* **projection** (the service's durable queue, instances compete): stream-svc's and viewer-svc's
  events into ``chat_stream_view``/``chat_moderators``/``chat_bans``, notifier's follows into
  ``chat_follows``, idempotent and order-tolerant. New connections load room state from there.
* **fan-out** (this instance's exclusive, auto-deleted queue): every chat, gift, moderation,
  stream and count event, pushed into the rooms this instance holds: frames to clients, cached
  room state updated, banned accounts disconnected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chat_gateway.adapters.follows import FollowProjection
from chat_gateway.adapters.mongo import ChatProjection
from chat_gateway.domain.room import Ban
from chat_gateway.entrypoints import consumers_extras
from chat_gateway.gifts import gift_frame
from chat_gateway.hub import Hub, Room
from chat_gateway.protocol import BANNED, encode
from contracts import Envelope
from contracts.chat import (
    ChatMessageDeleted,
    ChatMessagePosted,
    ChatMessagesPosted,
    ChatSlowModeChanged,
    GiftSent,
)
from contracts.common import StreamStatus
from contracts.followers import ChatFollowersOnlyChanged
from contracts.moderation import ModeratorAdded, ModeratorRemoved, UserBanned, UserUnbanned
from contracts.notification import FollowCreated, FollowRemoved
from contracts.stream import (
    StreamCreated,
    StreamDeleted,
    StreamEnded,
    StreamStarted,
    StreamUpdated,
)
from contracts.viewer import ViewerCountChanged
from contracts.ws import (
    ChatMessageDeletedFrame,
    ChatMessageFrame,
    FollowersOnlyFrame,
    ModerationFrame,
    SlowModeFrame,
    StreamStatusFrame,
    StreamUpdatedFrame,
    ViewerCountFrame,
)
from servicekit.consumer import EventDispatcher

STATUS_OF = {
    StreamStarted.TYPE: StreamStatus.ACTIVE,
    StreamEnded.TYPE: StreamStatus.ENDED,
    StreamDeleted.TYPE: StreamStatus.DELETED,
}
STREAM_EVENTS = (StreamCreated, StreamStarted, StreamEnded, StreamDeleted)
MODERATION = (ModeratorAdded, ModeratorRemoved, UserBanned, UserUnbanned)


def ban_of(p: UserBanned | UserUnbanned) -> Ban:
    if isinstance(p, UserBanned):
        return Ban(True, p.at, p.expires_at, p.reason)
    return Ban(False, p.at)


def projection_dispatcher(
    projection: Callable[[], ChatProjection], follows: Callable[[], FollowProjection]
) -> EventDispatcher:
    events = EventDispatcher()

    @events.on(*STREAM_EVENTS)
    async def stream(env: Envelope[Any]) -> None:
        p = env.payload
        if isinstance(p, StreamCreated | StreamStarted):
            await projection().describe(p.stream_id, p.owner_id)
        if env.event_type in STATUS_OF:
            await projection().advance(p.stream_id, STATUS_OF[env.event_type])

    @events.on(*MODERATION)
    async def moderation(env: Envelope[Any]) -> None:
        p = env.payload
        if isinstance(p, ModeratorAdded | ModeratorRemoved):
            await projection().set_moderator(
                p.stream_id, p.account_id, isinstance(p, ModeratorAdded), p.at
            )
        else:
            await projection().set_ban(p.stream_id, p.account_id, ban_of(p))

    @events.on(ViewerCountChanged)
    async def count(env: Envelope[Any]) -> None:
        p: ViewerCountChanged = env.payload
        await projection().set_viewer_count(p.stream_id, p.viewer_count, p.as_of)

    consumers_extras.register_projection(events, projection)

    @events.on(FollowCreated, FollowRemoved)
    async def follow(env: Envelope[Any]) -> None:
        """notifier's follows, for followers-only chat (newest ``version`` wins)."""
        p: FollowCreated | FollowRemoved = env.payload
        created = isinstance(p, FollowCreated)
        await follows().apply(
            p.follower_id,
            p.followee_id,
            following=created,
            version=p.version,
            since=p.since if isinstance(p, FollowCreated) else None,
        )

    return events


def fanout_dispatcher(
    hub: Callable[[], Hub], projection: Callable[[], ChatProjection]
) -> EventDispatcher:
    """Events into the rooms this instance holds. A change of room state (status, moderators,
    bans, slow mode) is first written to the projection (idempotent, last-write-wins), then
    offered to the room: a room that loads meanwhile buffers it and replays it onto its snapshot
    (servicekit.catchup), a room that loads later reads it from the database. No order loses it.
    """
    events = EventDispatcher()

    async def to_room(stream_id: str, change: Callable[[Room], None]) -> None:
        async def run(room: Room) -> None:
            change(room)

        await hub().apply(stream_id, run)

    @events.on(ChatMessagePosted)
    async def posted(env: Envelope[Any]) -> None:
        p: ChatMessagePosted = env.payload
        frame = ChatMessageFrame(
            message_id=p.message_id,
            seq=p.seq,
            account_id=p.account_id,
            text=p.text,
            posted_at=p.posted_at,
        )
        await to_room(p.stream_id, lambda room: hub().deliver(room, p.seq, encode(frame)))

    @events.on(ChatMessagesPosted)
    async def posted_together(env: Envelope[Any]) -> None:
        p: ChatMessagesPosted = env.payload
        frames = [
            (
                m.seq,
                encode(
                    ChatMessageFrame(
                        message_id=m.message_id,
                        seq=m.seq,
                        account_id=m.account_id,
                        text=m.text,
                        posted_at=m.posted_at,
                    )
                ),
            )
            for m in p.messages
        ]

        def deliver(room: Room) -> None:
            for seq, text in frames:
                hub().deliver(room, seq, text)

        await to_room(p.stream_id, deliver)

    @events.on(ChatMessageDeleted)
    async def deleted(env: Envelope[Any]) -> None:
        p: ChatMessageDeleted = env.payload
        frame = encode(ChatMessageDeletedFrame(message_id=p.message_id, seq=p.seq))
        await to_room(p.stream_id, lambda room: hub().send(room, frame))

    @events.on(GiftSent)
    async def gift(env: Envelope[Any]) -> None:
        p: GiftSent = env.payload
        frame = encode(gift_frame(p))
        await to_room(p.stream_id, lambda room: hub().send(room, frame))

    @events.on(ChatSlowModeChanged)
    async def slow(env: Envelope[Any]) -> None:
        p: ChatSlowModeChanged = env.payload
        await projection().set_slow_mode(p.stream_id, p.interval_s, p.at)

        def change(room: Room) -> None:
            if room.state.set_slow_mode(p.interval_s, p.at):
                hub().send(room, encode(SlowModeFrame(interval_s=p.interval_s)))

        await to_room(p.stream_id, change)

    @events.on(ChatFollowersOnlyChanged)
    async def followers_only(env: Envelope[Any]) -> None:
        p: ChatFollowersOnlyChanged = env.payload
        await projection().set_followers_only(p.stream_id, p.enabled, p.min_follow_minutes, p.at)

        def change(room: Room) -> None:
            if room.state.set_followers_only(p.enabled, p.min_follow_minutes, p.at):
                frame = FollowersOnlyFrame(
                    enabled=p.enabled, min_follow_minutes=p.min_follow_minutes
                )
                hub().send(room, encode(frame))

        await to_room(p.stream_id, change)

    @events.on(ViewerCountChanged)
    async def count(env: Envelope[Any]) -> None:
        p: ViewerCountChanged = env.payload

        def change(room: Room) -> None:
            if room.state.set_viewer_count(p.viewer_count, p.as_of):
                hub().send(room, encode(ViewerCountFrame(viewer_count=p.viewer_count)))

        await to_room(p.stream_id, change)

    @events.on(*STREAM_EVENTS)
    async def stream(env: Envelope[Any]) -> None:
        p = env.payload
        status = STATUS_OF.get(env.event_type)
        if isinstance(p, StreamCreated | StreamStarted):
            await projection().describe(p.stream_id, p.owner_id)
        if status is not None:
            await projection().advance(p.stream_id, status)

        def change(room: Room) -> None:
            if isinstance(p, StreamCreated | StreamStarted):
                room.state.owner_id = p.owner_id
            if status is not None and room.state.advance(status):
                hub().send(room, encode(StreamStatusFrame(status=status)))

        await to_room(p.stream_id, change)

    @events.on(StreamUpdated)
    async def updated(env: Envelope[Any]) -> None:
        """The owner changed the title/description/thumbnail: tell the room (Owncast announces
        a title change the same way), newest change only."""
        p: StreamUpdated = env.payload
        frame = encode(
            StreamUpdatedFrame(
                title=p.title, description=p.description, thumbnail_url=p.thumbnail_url
            )
        )

        def change(room: Room) -> None:
            if room.described is not None and p.order <= room.described:
                return
            room.described = p.order
            hub().send(room, frame)

        await to_room(p.stream_id, change)

    @events.on(*MODERATION)
    async def moderation(env: Envelope[Any]) -> None:
        p = env.payload
        if isinstance(p, ModeratorAdded | ModeratorRemoved):
            added = isinstance(p, ModeratorAdded)
            await projection().set_moderator(p.stream_id, p.account_id, added, p.at)

            def moderator(room: Room) -> None:
                room.state.set_moderator(p.account_id, added, p.at)
                hub().refresh_roles(room)

            await to_room(p.stream_id, moderator)
            return
        ban = ban_of(p)
        await projection().set_ban(p.stream_id, p.account_id, ban)

        async def banned(room: Room) -> None:
            if not room.state.set_ban(p.account_id, ban) or not ban.active(datetime.now(UTC)):
                hub().refresh_roles(room)
                return
            hub().refresh_roles(room)
            action = "timed_out" if ban.expires_at else "banned"
            frame = encode(
                ModerationFrame(action=action, expires_at=ban.expires_at, reason=ban.reason)
            )
            await hub().close_account(
                room, p.account_id, BANNED, f"you were {action.replace('_', ' ')}", frame
            )

        await hub().apply(p.stream_id, banned)

    consumers_extras.register_fanout(events, hub, projection)
    return events
