"""Moderators and bans, each action logged and announced (outbox) before it is applied.

Rules: only the owner adds or removes moderators. The owner and moderators ban, time out
(a ban with a duration) and unban. Nobody bans themselves or the owner; a moderator cannot ban
another moderator (the owner can: the moderator stays a moderator but cannot watch or chat until
unbanned). Who acts as a moderator is the shared rule of :mod:`contracts.roles`: a banned or
timed-out moderator has no moderator powers while the ban lasts, and nobody lifts their own ban.

A command that changes nothing is a no-op that is neither logged nor announced (so nobody is
notified): adding a moderator who is already one, removing one who is not, unbanning someone
not banned, and banning someone already banned on the same terms (see :func:`same_terms`).
Concurrent repeats are single too: an action's id derives from the state it changes (the
entry's last action time), so of two requests that saw the same state only one is logged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.common import compound_key
from contracts.moderation import ModeratorAdded, ModeratorRemoved, UserBanned, UserUnbanned
from contracts.roles import Role, can_lift_ban, effective_role, may_moderate
from servicekit.mongo import from_ms, to_ms
from stream_svc.adapters.mongo_moderation import ACTIONS
from stream_svc.deps import Deps
from stream_svc.domain.errors import Forbidden, Invalid
from stream_svc.domain.model import Ban, ModerationAction
from stream_svc.handlers.announce import envelope
from stream_svc.handlers.streams import owned_stream, visible_stream


@dataclass(frozen=True, slots=True)
class BanRequest:
    account_id: str
    duration_s: int | None = None
    reason: str | None = None


async def log_action(action: ModerationAction, payload: object, deps: Deps) -> bool:
    """Log and announce ``action``; ``False`` when a concurrent repeat logged it first."""
    if not await deps.moderation.log(action, envelope(payload)):  # type: ignore[arg-type]
        return False
    deps.kick(ACTIONS, action.action_id)
    return True


def _action(
    stream_id: str,
    kind: str,
    account_id: str,
    by: str,
    at: datetime,
    version: int,
    expires_at: datetime | None = None,
    reason: str | None = None,
) -> ModerationAction:
    """The action, its id derived from what it changes: (stream, account, kind, ``version``:
    the entry's last action time)."""
    key = compound_key(stream_id, account_id, kind, str(version))
    action_id = f"ma_{hashlib.sha256(key.encode()).hexdigest()[:20]}"
    return ModerationAction(action_id, stream_id, kind, account_id, by, at, expires_at, reason)


async def add_moderator(stream_id: str, account_id: str, caller: str, deps: Deps) -> bool:
    """Owner only; ``False`` when already a moderator."""
    stream = await owned_stream(stream_id, caller, deps)
    if account_id == stream.owner_id:
        raise Invalid("the owner moderates their own stream already")
    version = await deps.moderation.moderator_version(stream_id, account_id)
    if await deps.moderation.is_moderator(stream_id, account_id):
        return False
    now = deps.clock()
    action = _action(stream_id, "moderator_added", account_id, caller, now, version)
    added = ModeratorAdded(stream_id=stream_id, account_id=account_id, by=caller, at=now)
    if not await log_action(action, added, deps):
        return False
    await deps.moderation.set_moderator(stream_id, account_id, is_moderator=True, by=caller, at=now)
    return True


async def remove_moderator(stream_id: str, account_id: str, caller: str, deps: Deps) -> bool:
    """Owner only; ``False`` when not a moderator."""
    await owned_stream(stream_id, caller, deps)
    version = await deps.moderation.moderator_version(stream_id, account_id)
    if not await deps.moderation.is_moderator(stream_id, account_id):
        return False
    now = deps.clock()
    action = _action(stream_id, "moderator_removed", account_id, caller, now, version)
    removed = ModeratorRemoved(stream_id=stream_id, account_id=account_id, by=caller, at=now)
    if not await log_action(action, removed, deps):
        return False
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


def same_terms(current: Ban, request: BanRequest) -> bool:
    """Whether ``request`` asks for the ban already in force: the same reason, and both
    permanent or both a timeout of the same duration (a repeated timeout does not extend it;
    a different duration or reason is a new ban)."""
    if current.reason != request.reason:
        return False
    if current.expires_at is None or request.duration_s is None:
        return current.expires_at is None and request.duration_s is None
    return round((current.expires_at - current.at).total_seconds()) == request.duration_s


async def ban(stream_id: str, request: BanRequest, caller: str, deps: Deps) -> tuple[Ban, bool]:
    """Ban (or time out) an account: ``(ban in force, changed)``; ``changed`` is ``False``
    when the same ban was already in force (nothing logged or announced)."""
    owner = await require_moderator(stream_id, caller, deps)
    target = request.account_id
    if target == caller:
        raise Invalid("you cannot ban yourself")
    if target == owner:
        raise Invalid("the owner cannot be banned from their own stream")
    if caller != owner and await deps.moderation.is_moderator(stream_id, target):
        raise Forbidden("only the owner can ban a moderator")
    now = from_ms(to_ms(deps.clock()))  # as stored: the answer and the log agree
    version = await deps.moderation.ban_version(stream_id, target)
    current = await deps.moderation.ban_of(stream_id, target)
    if current is not None and current.active(now) and same_terms(current, request):
        return current, False
    expires = now + timedelta(seconds=request.duration_s) if request.duration_s else None
    action = _action(
        stream_id, "user_banned", target, caller, now, version, expires, request.reason
    )
    logged = await log_action(
        action,
        UserBanned(
            stream_id=stream_id,
            account_id=target,
            by=caller,
            at=now,
            expires_at=expires,
            reason=request.reason,
            ban_id=action.action_id,
        ),
        deps,
    )
    if not logged:  # a concurrent request logged this change first: answer with its ban
        first = await deps.moderation.logged(action.action_id)
        return _ban(first or action), False
    await deps.moderation.set_ban(
        stream_id, target, banned=True, by=caller, at=now, expires_at=expires, reason=request.reason
    )
    return _ban(action), True


def _ban(action: ModerationAction) -> Ban:
    return Ban(
        action.stream_id, action.account_id, action.by, action.at, action.expires_at, action.reason
    )


async def unban(stream_id: str, account_id: str, caller: str, deps: Deps) -> bool:
    """Lift a ban or timeout; ``False`` when none is active. Nobody lifts their own."""
    if not can_lift_ban(caller, account_id):
        raise Forbidden("you cannot lift your own ban or timeout")
    await require_moderator(stream_id, caller, deps)
    now = deps.clock()
    version = await deps.moderation.ban_version(stream_id, account_id)
    current = await deps.moderation.ban_of(stream_id, account_id)
    if current is None or not current.active(now):
        return False
    action = _action(stream_id, "user_unbanned", account_id, caller, now, version)
    lifted = UserUnbanned(stream_id=stream_id, account_id=account_id, by=caller, at=now)
    if not await log_action(action, lifted, deps):
        return False
    await deps.moderation.set_ban(stream_id, account_id, banned=False, by=caller, at=now)
    return True
