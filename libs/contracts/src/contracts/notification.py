"""Notifications: events published by notifier."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.common import AccountId, ApiModel, ResponseModel
from contracts.envelope import Event

NotificationKind = Literal["stream_live", "gift_received", "banned"]


class NotificationCreated(Event):
    """A notification was stored in ``account_id``'s inbox (for push channels)."""

    TYPE: ClassVar[str] = "notification.created"

    notification_id: str
    account_id: AccountId
    kind: NotificationKind
    title: str
    body: str
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: AwareDatetime


class NotificationsCreated(Event):
    """A batch of identical notifications was stored in each of ``account_ids``' inboxes (one
    per follower of a streamer going live), announced once per batch instead of once per
    follower. ``notification_ids[i]`` belongs to ``account_ids[i]``."""

    TYPE: ClassVar[str] = "notification.batch_created"

    kind: NotificationKind
    title: str
    body: str
    data: dict[str, Any] = Field(default_factory=dict)
    account_ids: list[AccountId]
    notification_ids: list[str]
    created_at: AwareDatetime


class FollowCreated(Event):
    """``follower_id`` now follows ``followee_id`` (notifier owns follows; chat-gateway keeps a
    projection of them for followers-only chat).

    ``version`` counts the changes of this (follower, followee) pair, starting at 1 and growing
    by one with every follow and unfollow: a consumer keeps the highest version it has seen, so
    a ``follow.removed`` that arrives before its ``follow.created`` is not undone by it.
    ``since``: when this follow began (what "followed for at least N minutes" counts from)."""

    TYPE: ClassVar[str] = "follow.created"

    follower_id: AccountId
    followee_id: AccountId
    since: AwareDatetime
    version: int = Field(ge=1)


class FollowRemoved(Event):
    """``follower_id`` stopped following ``followee_id``; ``version`` as in
    :class:`FollowCreated` (always higher than the follow it ends)."""

    TYPE: ClassVar[str] = "follow.removed"

    follower_id: AccountId
    followee_id: AccountId
    removed_at: AwareDatetime
    version: int = Field(ge=1)


# ---- REST --------------------------------------------------------------------------------------


class NotificationView(ResponseModel):
    """One notification in ``GET /notifications``."""

    notification_id: str
    kind: NotificationKind
    title: str
    body: str
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: AwareDatetime
    read: bool


class MarkReadRequest(ApiModel):
    """``POST /notifications/read``: either ``ids`` (yours) or ``all``."""

    ids: list[str] = Field(default_factory=list, max_length=500)
    all: bool = Field(default=False, strict=True)


class FollowResult(ResponseModel):
    """``PUT /users/{account_id}/follow`` response; ``changed`` is false on a repeat."""

    account_id: AccountId
    following: bool
    changed: bool


class FollowerCount(ResponseModel):
    """``GET /users/{account_id}/followers/count``."""

    account_id: AccountId
    followers: int


class FollowingEntry(ResponseModel):
    """One account in ``GET /me/following``."""

    account_id: AccountId
    since: AwareDatetime


class UnreadCount(ResponseModel):
    """``GET /notifications/unread-count``."""

    unread: int


class MarkReadResult(ResponseModel):
    """``POST /notifications/read`` response: how many notifications changed to read."""

    marked: int
