"""Notifications: events published by notifier."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, Field

from contracts.common import AccountId
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
