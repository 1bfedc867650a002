"""Notifications and go-live campaigns (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.common import compound_key
from contracts.notification import NotificationKind


@dataclass(frozen=True, slots=True)
class Notification:
    """One inbox entry. ``notification_id`` is deterministic (kind, subject, account), so storing
    the same notification twice is a no-op: exactly once per (account, stream) by construction."""

    notification_id: str
    account_id: str
    kind: NotificationKind
    title: str
    body: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    read: bool = False


def notification_id(kind: str, subject: str, account_id: str) -> str:
    return compound_key(kind, subject, account_id, sep=":")


def go_live(
    stream_id: str, owner_id: str, title: str, follower_id: str, now: datetime
) -> Notification:
    return Notification(
        notification_id=notification_id("stream_live", stream_id, follower_id),
        account_id=follower_id,
        kind="stream_live",
        title=f"{owner_id} is live",
        body=title,
        created_at=now,
        data={"stream_id": stream_id, "owner_id": owner_id},
    )


def gift_received(
    gift_id: str,
    stream_id: str,
    recipient_id: str,
    sender_id: str,
    gift_type: str,
    amount: int,
    now: datetime,
) -> Notification:
    plural = "s" if amount != 1 else ""
    return Notification(
        notification_id=notification_id("gift_received", gift_id, recipient_id),
        account_id=recipient_id,
        kind="gift_received",
        title=f"{sender_id} sent you {amount} {gift_type}{plural}",
        body=f"in your stream {stream_id}",
        created_at=now,
        data={
            "gift_id": gift_id,
            "stream_id": stream_id,
            "sender_id": sender_id,
            "gift_type": gift_type,
            "amount": amount,
        },
    )


def banned(
    stream_id: str,
    account_id: str,
    title: str | None,
    at: datetime,
    expires_at: datetime | None,
    reason: str | None,
    ban_id: str | None = None,
) -> Notification:
    """The "you were banned" notification, one per ban. Its id derives from the fact announced,
    the ban (``ban_id``, its moderation-log action id), so every repeat of the announcement is
    the same notification; events from producers without ``ban_id`` fall back to its time."""
    what = "timed out in" if expires_at else "banned from"
    subject = ban_id or f"{stream_id}@{int(at.timestamp() * 1000)}"
    return Notification(
        notification_id=notification_id("banned", subject, account_id),
        account_id=account_id,
        kind="banned",
        title=f"You were {what} {title or 'a stream'}",
        body=reason or "",
        created_at=at,
        data={"stream_id": stream_id, "expires_at": expires_at.isoformat() if expires_at else None},
    )


class SelfFollow(ValueError):
    """Following yourself is refused."""


class FollowRateLimited(Exception):
    """Too many follows too fast; ``retry_after_s`` until the next one is allowed."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many follows; retry in {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s
