"""The pinned message of a stream's chat (Twitch, YouTube and GetStream pins): owned by
chat-gateway (it owns the messages a pin shows), logged by stream-svc in the moderation log.

One pin per room at a time: a message of the room, or a short announcement text, optionally
until a time. It goes on unpin, at ``until``, or when the pinned message is deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.common import AccountId, ApiModel, IsoDatetime, StreamId
from contracts.envelope import Event
from contracts.text import user_text

__all__ = ["MAX_PIN_TEXT_CHARS", "ChatPinChanged", "PinRequest", "PinnedMessage"]

#: Longest announcement a pin may carry (characters as users count them).
MAX_PIN_TEXT_CHARS = 300


class PinnedMessage(BaseModel):
    """What a room shows pinned: in ``hello``, the ``pin`` frame and ``chat.pin_changed``.
    A pinned message carries its ``message_id``, ``seq`` and author (``account_id``); an
    announcement has ``null`` for the three. ``until``: when the pin goes (``null``: until
    unpinned)."""

    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)

    pin_id: str
    text: str
    message_id: str | None = None
    seq: int | None = None
    account_id: AccountId | None = None
    pinned_by: AccountId
    pinned_at: AwareDatetime
    until: AwareDatetime | None = None

    def shown_at(self, now: datetime) -> bool:
        """Whether the pin is still up at ``now``."""
        return self.until is None or self.until > now


class ChatPinChanged(Event):
    """The room's pin changed: ``pin`` is the new one, ``None`` when it was taken down (``cause``
    says why: ``unpinned`` by ``by``, or ``message_deleted``: the pinned message was deleted by
    ``by``). Newest ``at`` wins. Gateways show it; stream-svc logs it (moderation log)."""

    TYPE: ClassVar[str] = "chat.pin_changed"

    stream_id: StreamId
    pin: PinnedMessage | None = None
    previous: PinnedMessage | None = None
    cause: Literal["pinned", "unpinned", "message_deleted"]
    by: AccountId
    at: AwareDatetime


class PinRequest(ApiModel):
    """``PUT /live/{stream_id}/chat/pin`` (owner or moderator): pin a message of the room
    (``message_id``) or an announcement (``text``, 1-300 characters): exactly one of the two;
    ``until`` (ISO 8601, in the future) takes it down then."""

    message_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    text: Annotated[str, Field(max_length=3000), user_text(MAX_PIN_TEXT_CHARS)] | None = None
    until: IsoDatetime | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.message_id is None) == (self.text is None):
            raise ValueError("give exactly one of message_id and text")
        return self
