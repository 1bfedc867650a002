"""WebSocket frames of ``WS /ws/live/{stream_id}`` (chat-gateway).

Every frame is a JSON object with a ``type``; client and server frames are each a pydantic
discriminated union, decoded with :data:`client_frame_adapter` / :data:`server_frame_adapter`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from contracts.common import AccountId, StreamStatus
from contracts.followers import MAX_FOLLOW_MINUTES
from contracts.pins import PinnedMessage


class Frame(BaseModel):
    """Base of all frames."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
    )


# ---- client -> server -------------------------------------------------------------------------


class ChatSend(Frame):
    """Post a chat message (the plan's ``SendLiveChatRequest { message }``, as over REST).
    ``client_msg_id`` makes a resend safe: the same id with the same message is a replay (the
    original ack), with another message it is refused (``idempotency_key_reused``)."""

    type: Literal["chat.send"] = "chat.send"
    client_msg_id: str = Field(min_length=1, max_length=64)
    message: str = Field(max_length=10_000)


class ChatDelete(Frame):
    """Owner or moderator: delete a message by id."""

    type: Literal["chat.delete"] = "chat.delete"
    message_id: str = Field(min_length=1, max_length=64)


class SlowModeSet(Frame):
    """Owner or moderator: set slow mode (``0`` turns it off)."""

    type: Literal["slow_mode.set"] = "slow_mode.set"
    interval_s: int = Field(ge=0, le=3600)


class FollowersOnlySet(Frame):
    """Owner or moderator: turn followers-only chat on (viewers must have followed the
    streamer for at least ``min_follow_minutes``, 0 to 129,600 = 3 months) or off."""

    type: Literal["followers_only.set"] = "followers_only.set"
    enabled: bool = Field(strict=True)
    min_follow_minutes: int = Field(default=0, ge=0, le=MAX_FOLLOW_MINUTES, strict=True)


class Ping(Frame):
    """Application-level ping; answered by ``pong`` with the same nonce."""

    type: Literal["ping"] = "ping"
    nonce: str | None = Field(default=None, max_length=64)


ClientFrame = Annotated[
    ChatSend | ChatDelete | SlowModeSet | FollowersOnlySet | Ping, Field(discriminator="type")
]
client_frame_adapter: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


# ---- server -> client -------------------------------------------------------------------------


class ChatMessageFrame(Frame):
    """A chat message, live or replayed; ``seq`` is gap-free per stream."""

    type: Literal["chat.message"] = "chat.message"
    message_id: str
    seq: int
    account_id: AccountId
    text: str
    posted_at: AwareDatetime


class Hello(Frame):
    """First frame after connect: the room's state and the most recent (or missed) messages."""

    type: Literal["hello"] = "hello"
    stream_id: str
    status: StreamStatus
    viewer_count: int
    slow_mode_s: int = 0
    followers_only: bool = False
    min_follow_minutes: int = Field(
        default=0, description="followers-only chat: minutes a viewer must have followed"
    )
    last_seq: int = Field(description="newest sequence number in the room when this was sent")
    messages: list[ChatMessageFrame] = []
    role: Literal["viewer", "moderator", "owner"] = "viewer"
    reset: bool = Field(
        default=False,
        description="true when more messages were missed than a resume replays, or when "
        "`last_seq` asked for is beyond the room's newest (a cursor this room never reached): "
        "`messages` are then the most recent ones and `last_seq` is the room's real cursor",
    )
    pin: PinnedMessage | None = Field(
        default=None, description="the room's pinned message or announcement, if one is up"
    )


class ChatAck(Frame):
    """Your ``chat.send`` was stored as ``seq``."""

    type: Literal["chat.ack"] = "chat.ack"
    client_msg_id: str
    message_id: str
    seq: int


class ChatError(Frame):
    """Your frame was refused; ``reason`` is a code, ``message`` says why (``blocked_term``:
    the message contains a term blocked in this chat; it was not posted).

    ``followers_only`` refusals also carry ``min_follow_minutes`` and ``may_post_at``: when
    the viewer's follow will be old enough, or ``null`` when they do not follow yet."""

    type: Literal["chat.error"] = "chat.error"
    reason: str
    message: str
    client_msg_id: str | None = None
    retry_after_s: float | None = None
    min_follow_minutes: int | None = None
    may_post_at: AwareDatetime | None = None


class ChatMessageDeletedFrame(Frame):
    """Remove this message from the view."""

    type: Literal["chat.message_deleted"] = "chat.message_deleted"
    message_id: str
    seq: int


class GiftFrame(Frame):
    """Someone sent a gift in the room, with what a client needs to animate it.

    ``animation``, ``tier`` and ``display_ms`` come by value (from the catalog when the gift was
    stored). A **combo streak**: the same sender sending the same gift again within the
    catalog's ``streak_window_s`` of their previous one continues that streak; ``streak_id``
    names it and ``streak_count`` is the number of gifts in it so far (the sum of ``amount``),
    decided once where the gift is stored, so every client on every instance shows the same
    streak. A client shows one counter per ``streak_id`` and keeps the highest count seen."""

    type: Literal["gift"] = "gift"
    gift_id: str
    sender_id: AccountId
    gift_type: str
    amount: int
    sent_at: AwareDatetime
    animation: str
    tier: int = Field(ge=1, le=5)
    display_ms: int = Field(ge=0)
    streak_id: str
    streak_count: int = Field(ge=1)


class ViewerCountFrame(Frame):
    """The room's viewer count changed."""

    type: Literal["viewer_count"] = "viewer_count"
    viewer_count: int


class StreamStatusFrame(Frame):
    """The stream's status changed; when ``ended`` chat is read-only."""

    type: Literal["stream_status"] = "stream_status"
    status: StreamStatus


class StreamUpdatedFrame(Frame):
    """The owner changed the stream's title, description or thumbnail."""

    type: Literal["stream_updated"] = "stream_updated"
    title: str
    description: str | None = None
    thumbnail_url: str | None = None


class ModerationFrame(Frame):
    """Something happened to *you*: banned, timed out, or unbanned."""

    type: Literal["moderation"] = "moderation"
    action: Literal["banned", "timed_out", "unbanned"]
    expires_at: AwareDatetime | None = None
    reason: str | None = None


class SlowModeFrame(Frame):
    """Slow mode changed (``0``: off)."""

    type: Literal["slow_mode"] = "slow_mode"
    interval_s: int


class PinFrame(Frame):
    """The room's pin changed: show ``pin`` (``null``: take the pin down: unpinned, expired
    or its message deleted). Clients also take it down themselves at ``pin.until``."""

    type: Literal["pin"] = "pin"
    pin: PinnedMessage | None = None


class FollowersOnlyFrame(Frame):
    """Followers-only chat changed (``enabled`` false: anyone may post)."""

    type: Literal["followers_only"] = "followers_only"
    enabled: bool
    min_follow_minutes: int


class Pong(Frame):
    """Answer to ``ping``."""

    type: Literal["pong"] = "pong"
    nonce: str | None = None


ServerFrame = Annotated[
    Hello
    | ChatMessageFrame
    | ChatAck
    | ChatError
    | ChatMessageDeletedFrame
    | GiftFrame
    | ViewerCountFrame
    | StreamStatusFrame
    | StreamUpdatedFrame
    | ModerationFrame
    | SlowModeFrame
    | PinFrame
    | FollowersOnlyFrame
    | Pong,
    Field(discriminator="type"),
]
server_frame_adapter: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)
