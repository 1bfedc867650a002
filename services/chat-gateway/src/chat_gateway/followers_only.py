"""Followers-only chat (Twitch's followers-only mode): who may post while it is on, and the
refusal that tells a viewer why and when they may post.

The owner and moderators are exempt (as on Twitch). A viewer posts once they have followed the
streamer for ``min_follow_minutes``; the follow comes from chat-gateway's own projection of
notifier's ``follow.*`` events (:mod:`chat_gateway.adapters.follows`), so a follow made a moment
ago counts as soon as its event has been consumed here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from chat_gateway.domain.room import RoomState

REASON = "followers_only"
#: HTTP status of the refusal: the account may not post (yet); following (and waiting) fixes it.
STATUS = 403


class Follows(Protocol):
    async def since(self, follower_id: str, followee_id: str) -> datetime | None: ...


def minutes_text(minutes: int) -> str:
    """``0`` -> ``""``, ``90`` -> ``"1 h 30 min"``, ``1440`` -> ``"1 day"``."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{mins} min"] if mins else []
    return " ".join(parts)


async def refusal(
    state: RoomState, account_id: str, now: datetime, follows: Follows
) -> tuple[str, datetime | None] | None:
    """``None`` if ``account_id`` may post in followers-only mode (or it is off), else the
    message and when they may post (``None``: they must follow first)."""
    if not state.followers_only or state.owner_id is None:
        return None
    if state.role(account_id, now) != "viewer":
        return None
    minimum = state.min_follow_minutes
    since = await follows.since(account_id, state.owner_id)
    wait = f" for {minutes_text(minimum)}" if minimum else ""
    if since is None:
        return f"followers-only chat: follow {state.owner_id}{wait} to chat", None
    may_post_at = since + timedelta(minutes=minimum)
    if may_post_at > now:
        return (
            f"followers-only chat: you may chat once you have followed{wait}, "
            f"at {may_post_at.isoformat(timespec='seconds')}",
            may_post_at,
        )
    return None
