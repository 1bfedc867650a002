"""Followers-only chat (Twitch's "followers-only mode"): the room mode's event and REST body.

The mode is set by the owner or a moderator; while it is on, a viewer posts only after
following the streamer for at least ``min_follow_minutes`` (0 = any follower). The owner and
moderators are exempt. Twitch's range is the same: 0 minutes to 3 months
(`Update Chat Settings`, ``follower_mode_duration``, https://dev.twitch.tv/docs/api/reference/#update-chat-settings).
The WebSocket frames are in :mod:`contracts.ws` (``followers_only.set``, ``followers_only``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from contracts.common import AccountId, ApiModel, JsonInt, StreamId
from contracts.envelope import Event

#: The longest minimum follow age: 3 months of 30 days, in minutes (Twitch's maximum).
MAX_FOLLOW_MINUTES = 129_600


class ChatFollowersOnlyChanged(Event):
    """Followers-only mode of a stream's chat changed. ``enabled`` false: anyone may post;
    ``min_follow_minutes`` is kept as set (0 when off)."""

    TYPE: ClassVar[str] = "chat.followers_only_changed"

    stream_id: StreamId
    enabled: bool
    min_follow_minutes: int = Field(ge=0, le=MAX_FOLLOW_MINUTES)
    set_by: AccountId
    at: AwareDatetime


class FollowersOnlyRequest(ApiModel):
    """``PUT /live/{stream_id}/chat/followers-only`` body: ``enabled`` turns the mode on or
    off; ``min_follow_minutes`` (0 to 129,600 = 3 months) is how long a viewer must have
    followed the streamer before posting."""

    enabled: bool = Field(strict=True)
    min_follow_minutes: JsonInt = Field(default=0, ge=0, le=MAX_FOLLOW_MINUTES)
