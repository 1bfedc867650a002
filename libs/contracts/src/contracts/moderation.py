"""Moderation: events published by stream-svc (moderators and bans, with audit)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field

from contracts.common import JSON_INTEGER, AccountId, ApiModel, ResponseModel, StreamId
from contracts.envelope import Event
from contracts.text import optional_text


class ModeratorAdded(Event):
    """The owner made ``account_id`` a moderator of the stream."""

    TYPE: ClassVar[str] = "moderation.moderator_added"

    stream_id: StreamId
    account_id: AccountId
    by: AccountId
    at: AwareDatetime


class ModeratorRemoved(Event):
    """The owner removed ``account_id`` from the stream's moderators."""

    TYPE: ClassVar[str] = "moderation.moderator_removed"

    stream_id: StreamId
    account_id: AccountId
    by: AccountId
    at: AwareDatetime


class UserBanned(Event):
    """``account_id`` may not watch or chat in the stream until ``expires_at`` (``None``: until
    unbanned). A ban with ``expires_at`` is a timeout. Chat gateways disconnect the account."""

    TYPE: ClassVar[str] = "moderation.user_banned"

    stream_id: StreamId
    account_id: AccountId
    by: AccountId
    at: AwareDatetime
    expires_at: AwareDatetime | None = None
    reason: str | None = None
    ban_id: str | None = Field(
        default=None,
        description="the ban (its moderation-log action id): a repeat of this event announces "
        "the same ban, so consumers notify once per ban_id (absent from older producers)",
    )


class UserUnbanned(Event):
    """The ban of ``account_id`` in the stream was lifted."""

    TYPE: ClassVar[str] = "moderation.user_unbanned"

    stream_id: StreamId
    account_id: AccountId
    by: AccountId
    at: AwareDatetime


# ---- REST --------------------------------------------------------------------------------------


class AddModeratorRequest(ApiModel):
    """``POST /live/{stream_id}/moderators``."""

    account_id: AccountId


class BanRequest(ApiModel):
    """``POST /live/{stream_id}/bans``: without ``duration_s`` the ban lasts until lifted;
    with it, it is a timeout."""

    account_id: AccountId
    duration_s: Annotated[int, Field(ge=1, le=365 * 24 * 3600), JSON_INTEGER] | None = None
    reason: Annotated[str, Field(max_length=5000), optional_text(500)] | None = (
        None  # the user-text rule (contracts.text); nothing visible -> None
    )


class ModeratorView(ResponseModel):
    account_id: AccountId
    added_by: AccountId
    added_at: AwareDatetime


class BanView(ResponseModel):
    account_id: AccountId
    by: AccountId
    at: AwareDatetime
    expires_at: AwareDatetime | None = None
    reason: str | None = None


class ModerationLogEntry(ResponseModel):
    """One entry of ``GET /live/{stream_id}/moderation-log``. ``action``: ``moderator_added``,
    ``moderator_removed``, ``user_banned``, ``user_unbanned`` (``account_id``: the account
    concerned); ``blocked_term_added``, ``blocked_term_removed`` (``detail``: the term),
    ``message_pinned``, ``message_unpinned`` (``detail``: the pinned text, ``message_id``: the
    pinned message if any, ``account_id``: its author, else who acted; ``reason``
    ``message_deleted`` when a pin went with its message)."""

    action_id: str
    action: str
    account_id: AccountId
    by: AccountId
    at: AwareDatetime
    expires_at: AwareDatetime | None = None
    reason: str | None = None
    detail: str | None = None
    message_id: str | None = None


class ModeratorChange(ResponseModel):
    """``POST /live/{stream_id}/moderators`` response (201 when added, 200 if already one);
    ``DELETE /live/{stream_id}/moderators/{account_id}`` answers 200 with ``changed: false``
    when the account was no moderator (204 when removed)."""

    account_id: AccountId
    moderator: bool
    changed: bool


class BanChange(BanView):
    """``POST /live/{stream_id}/bans`` response: 201 with ``changed: true`` for a new ban (or
    new terms); 200 with ``changed: false`` when the same ban (same duration, same reason) is
    already in force: then nothing is logged, announced or notified, and the ban in force is
    returned."""

    changed: bool


class BanLifted(ResponseModel):
    """``DELETE /live/{stream_id}/bans/{account_id}`` when the account was not banned: 200 with
    ``changed: false`` (nothing logged or announced). A lifted ban answers 204."""

    account_id: AccountId
    banned: bool
    changed: bool
