"""Who may moderate a stream: the one role rule used by stream-svc (moderation routes) and
chat-gateway (deleting messages, slow mode, the role in ``hello``).

* The owner is always ``owner`` (an owner cannot be banned from their own stream).
* A moderator is ``moderator`` only while not banned or timed out: a banned moderator has no
  moderator powers until the ban ends or is lifted (and stays a moderator for afterwards).
* Nobody lifts a ban on themselves, whatever their role.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Role", "can_lift_ban", "effective_role", "may_moderate"]

Role = Literal["viewer", "moderator", "owner"]


def effective_role(
    account_id: str, *, owner_id: str | None, is_moderator: bool, banned: bool
) -> Role:
    """The role ``account_id`` acts with now.

    Args:
        owner_id: the stream's owner.
        is_moderator: the account is on the stream's moderator list.
        banned: the account has an active ban or timeout in the stream now.
    """
    if owner_id is not None and account_id == owner_id:
        return "owner"
    if is_moderator and not banned:
        return "moderator"
    return "viewer"


def may_moderate(role: Role) -> bool:
    """Owner and (unbanned) moderators ban, unban, delete messages and set slow mode."""
    return role != "viewer"


def can_lift_ban(caller: str, target: str) -> bool:
    """``False`` when ``caller`` would lift their own ban or timeout: nobody may."""
    return caller != target
