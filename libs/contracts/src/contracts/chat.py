"""Chat and gifts: events published by chat-gateway and its REST bodies."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.common import AccountId, ApiModel, JsonInt, ResponseModel, StreamId
from contracts.envelope import Event

MAX_MESSAGE_CHARS = 500

# ---- events ------------------------------------------------------------------------------------


class ChatMessagePosted(Event):
    """A chat message was accepted and stored with its per-stream sequence number ``seq``.
    Every gateway instance fans it out to its connected viewers."""

    TYPE: ClassVar[str] = "chat.message_posted"

    stream_id: StreamId
    message_id: str
    seq: int = Field(ge=1)
    account_id: AccountId
    text: str
    client_msg_id: str | None = None
    posted_at: AwareDatetime


class PostedMessage(BaseModel):
    """One message of :class:`ChatMessagesPosted` (the fields of :class:`ChatMessagePosted`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    message_id: str
    seq: int = Field(ge=1)
    account_id: AccountId
    text: str
    client_msg_id: str | None = None
    posted_at: AwareDatetime


class ChatMessagesPosted(Event):
    """Chat messages of one stream accepted and stored together (one group commit, issue 18),
    ``messages`` in ``seq`` order: one broker message for many, so fan-out costs per write, not
    per message. Every gateway instance fans each out to its connected viewers, exactly as a
    :class:`ChatMessagePosted` (still what a write of a single message publishes)."""

    TYPE: ClassVar[str] = "chat.messages_posted"

    stream_id: StreamId
    messages: list[PostedMessage] = Field(min_length=1)


class ChatMessageDeleted(Event):
    """The owner or a moderator deleted a message; clients remove it."""

    TYPE: ClassVar[str] = "chat.message_deleted"

    stream_id: StreamId
    message_id: str
    seq: int = Field(ge=1)
    deleted_by: AccountId
    deleted_at: AwareDatetime


class ChatSlowModeChanged(Event):
    """Slow mode of a stream's chat changed: one message per ``interval_s`` per account
    (``0``: off). Moderators and the owner are exempt."""

    TYPE: ClassVar[str] = "chat.slow_mode_changed"

    stream_id: StreamId
    interval_s: int = Field(ge=0)
    set_by: AccountId
    at: AwareDatetime


class GiftSent(Event):
    """A viewer sent a gift to the streamer; stored in the ledger and charged once."""

    TYPE: ClassVar[str] = "gift.sent"

    gift_id: str
    stream_id: StreamId
    sender_id: AccountId
    recipient_id: AccountId
    gift_type: str
    amount: int = Field(ge=1)
    unit_price: int = Field(ge=0, description="price of one gift, in the catalog's minor units")
    total_price: int = Field(ge=0)
    sent_at: AwareDatetime
    # added by issue 21 (optional: events stored before it have none; readers then show the
    # gift alone, as a streak of its own, with the catalog's animation)
    animation: str | None = Field(default=None, description="animation id, from the catalog")
    tier: int | None = Field(default=None, ge=1, le=5, description="1 (small) to 5 (biggest)")
    display_ms: int | None = Field(default=None, ge=0, description="how long to show it, in ms")
    streak_id: str | None = Field(
        default=None, description="the combo streak this gift belongs to (see GiftFrame)"
    )
    streak_count: int | None = Field(
        default=None, ge=1, description="gifts in the streak so far, this one included"
    )


# ---- REST --------------------------------------------------------------------------------------


class SendLiveChatRequest(ApiModel):
    """``POST /live/{stream_id}/chats`` body (the original plan's shape). The message must be
    1–500 characters as users see them, by the user-text rule of :mod:`contracts.text`
    (NFC, bidi controls closed, trimmed, something visible, no control characters)."""

    message: str = Field(max_length=10_000)


class ChatMessage(ResponseModel):
    """One message in chat history."""

    message_id: str
    stream_id: StreamId
    seq: int
    account_id: AccountId
    text: str
    posted_at: AwareDatetime


class SendGiftRequest(ApiModel):
    """``POST /live/{stream_id}/gift`` body (the original plan's shape)."""

    gift_type: str = Field(min_length=1, max_length=64)
    amount: JsonInt = Field(ge=1, le=1000)


class GiftCatalogItem(ResponseModel):
    """One entry of ``GET /gifts/catalog``."""

    gift_type: str
    name: str
    unit_price: int
    currency: str = "coins"
    animation: str = Field(description="animation id a client plays (e.g. 'rose-float')")
    tier: int = Field(ge=1, le=5, description="1 (small) to 5 (biggest): the animation's size")
    display_ms: int = Field(ge=0, description="how long the animation is shown, in ms")
    streak_window_s: float = Field(
        description="the same sender sending this gift again within this many seconds of "
        "their last one continues the same combo streak"
    )


class GiftReceipt(ResponseModel):
    """``POST /live/{stream_id}/gift`` response; the same for a retried ``Idempotency-Key``."""

    gift_id: str
    stream_id: StreamId
    gift_type: str
    amount: int
    total_price: int
    sent_at: AwareDatetime
    streak_id: str | None = Field(
        default=None, description="the combo streak it joined (null for gifts sent before streaks)"
    )
    streak_count: int | None = Field(default=None, description="gifts in that streak so far")


class GiftSenderTotal(ResponseModel):
    """One sender's gifts to a stream: how many (the sum of ``amount``) and what they cost."""

    sender_id: AccountId
    gifts: int
    coins: int


class GiftSummary(ResponseModel):
    """``GET /live/{stream_id}/gifts/summary`` (the owner): gifts received, with totals per
    sender, biggest spender first (at most ``limit`` senders; the totals count every one)."""

    stream_id: StreamId
    gifts: int
    coins: int
    senders: list[GiftSenderTotal]


class PostedChatMessage(ResponseModel):
    """``POST /live/{stream_id}/chats`` response; ``duplicate`` when an ``Idempotency-Key`` was
    seen before (the original message is returned, nothing is posted twice)."""

    message_id: str
    seq: int
    duplicate: bool


#: The longest slow-mode interval (seconds).
MAX_SLOW_MODE_S = 3600


class SlowModeRequest(ApiModel):
    """``PUT /live/{stream_id}/chat/slow-mode`` body: one message per ``interval_s`` per viewer
    (``0`` turns it off)."""

    interval_s: JsonInt = Field(ge=0, le=MAX_SLOW_MODE_S)


class ChatConnectionView(ResponseModel):
    """One open chat connection and the gateway instance holding it."""

    account_id: AccountId
    instance: str
    connected_at: AwareDatetime


class ChatConnections(ResponseModel):
    """``GET /live/{stream_id}/chat/connections`` (owner or moderator)."""

    items: list[ChatConnectionView]
