"""Moderators and bans, each action logged and announced (outbox) before it is applied.

Rules: only the owner adds or removes moderators. The owner and moderators ban, time out
(a ban with a duration) and unban. Nobody bans themselves or the owner; a moderator cannot ban
another moderator (the owner can: the moderator stays a moderator but cannot watch or chat until
unbanned). Adding a moderator who is already one, or unbanning someone not banned, is a no-op
that is neither logged nor announced. Who acts as a moderator is the shared rule of
:mod:`contracts.roles`: a banned or timed-out moderator has no moderator powers while the ban
lasts, and nobody lifts their own ban.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.moderation import ModeratorAdded, ModeratorRemoved, UserBanned, UserUnbanned
from contracts.roles import Role, can_lift_ban, effective_role, may_moderate
from stream_svc.adapters.mongo_moderation import ACTIONS
from stream_svc.deps import Deps
from stream_svc.domain.errors import Forbidden, Invalid
from stream_svc.domain.model import ModerationAction
from stream_svc.handlers.announce import envelope
from stream_svc.handlers.streams import owned_stream, visible_stream


@dataclass(frozen=True, slots=True)
class BanRequest:
    account_id: str
    duration_s: int | None = None
    reason: str | None = None


async def _log(action: ModerationAction, payload: object, deps: Deps) -> None:
    await deps.moderation.log(action, envelope(payload))  # type: ignore[arg-type]
    deps.kick(ACTIONS, action.action_id)


def _action(
    stream_id: str,
    kind: str,
    account_id: str,
    by: str,
    at: datetime,
    expires_at: datetime | None = None,
    reason: str | None = None,
) -> ModerationAction:
    return ModerationAction(
        f"ma_{secrets.token_hex(10)}", stream_id, kind, account_id, by, at, expires_at, reason
    )


async def add_moderator(stream_id: str, account_id: str, caller: str, deps: Deps) -> bool:
    """Owner only; ``False`` when already a moderator."""
    stream = await owned_stream(stream_id, caller, deps)
    if account_id == stream.owner_id:
        raise Invalid("the owner moderates their own stream already")
    if await deps.moderation.is_moderator(stream_id, account_id):
        return False
    now = deps.clock()
    action = _action(stream_id, "moderator_added", account_id, caller, now)
    await _log(
        action, ModeratorAdded(stream_id=stream_id, account_id=account_id, by=caller, at=now), deps
    )
    await deps.moderation.set_moderator(stream_id, account_id, is_moderator=True, by=caller, at=now)
    return True


async def remove_moderator(stream_id: str, account_id: str, caller: str, deps: Deps) -> bool:
    """Owner only; ``False`` when not a moderator."""
    await owned_stream(stream_id, caller, deps)
    if not await deps.moderation.is_moderator(stream_id, account_id):
        return False
    now = deps.clock()
    action = _action(stream_id, "moderator_removed", account_id, caller, now)
    await _log(
        action,
        ModeratorRemoved(stream_id=stream_id, account_id=account_id, by=caller, at=now),
        deps,
    )
    await deps.moderation.set_moderator(
        stream_id, account_id, is_moderator=False, by=caller, at=now
    )
    return True


async def require_moderator(stream_id: str, caller: str, deps: Deps) -> str:
    """The stream's owner id, if ``caller`` acts as owner or moderator now (contracts.roles: a
    banned or timed-out moderator has no moderator powers); else ``Forbidden``."""
    stream = await visible_stream(stream_id, deps)
    role: Role = "owner"
    if caller != stream.owner_id:
        ban = await deps.moderation.ban_of(stream_id, caller)
        role = effective_role(
            caller,
            owner_id=stream.owner_id,
            is_moderator=await deps.moderation.is_moderator(stream_id, caller),
            banned=ban is not None and ban.active(deps.clock()),
        )
    if not may_moderate(role):
        raise Forbidden("only the owner or a moderator who is not banned or timed out may do this")
    return stream.owner_id


async def ban(stream_id: str, request: BanRequest, caller: str, deps: Deps) -> ModerationAction:
    owner = await require_moderator(stream_id, caller, deps)
    target = request.account_id
    if target == caller:
        raise Invalid("you cannot ban yourself")
    if target == owner:
        raise Invalid("the owner cannot be banned from their own stream")
    if caller != owner and await deps.moderation.is_moderator(stream_id, target):
        raise Forbidden("only the owner can ban a moderator")
    now = deps.clock()
    expires = now + timedelta(seconds=request.duration_s) if request.duration_s else None
    action = _action(stream_id, "user_banned", target, caller, now, expires, request.reason)
    await _log(
        action,
        UserBanned(
            stream_id=stream_id,
            account_id=target,
            by=caller,
            at=now,
            expires_at=expires,
            reason=request.reason,
        ),
        deps,
    )
    await deps.moderation.set_ban(
        stream_id, target, banned=True, by=caller, at=now, expires_at=expires, reason=request.reason
    )
    return action


async def unban(stream_id: str, account_id: str, caller: str, deps: Deps) -> bool:
    """Lift a ban or timeout; ``False`` when none is active. Nobody lifts their own."""
    if not can_lift_ban(caller, account_id):
        raise Forbidden("you cannot lift your own ban or timeout")
    await require_moderator(stream_id, caller, deps)
    now = deps.clock()
    current = await deps.moderation.ban_of(stream_id, account_id)
    if current is None or not current.active(now):
        return False
    action = _action(stream_id, "user_unbanned", account_id, caller, now)
    await _log(
        action, UserUnbanned(stream_id=stream_id, account_id=account_id, by=caller, at=now), deps
    )
    await deps.moderation.set_ban(stream_id, account_id, banned=False, by=caller, at=now)
    return True
