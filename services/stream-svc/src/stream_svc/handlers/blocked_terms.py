"""Blocked terms of a stream's chat: owner and moderators add, remove and list them; every change
is logged in the moderation log and announced (outbox) before it is applied, like bans
(:mod:`stream_svc.handlers.moderation`). chat-gateway refuses matching messages.

A change of nothing (removing a term that is not blocked, adding a term blocked already on the
same terms: both without expiry or both for the same duration) is neither logged nor
announced. A concurrent repeat is logged once: the action id derives from the term's last
action time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from contracts.blocked_terms import MAX_TERMS, BlockedTermAdded, BlockedTermRemoved
from contracts.common import compound_key
from servicekit.mongo import from_ms, to_ms
from stream_svc.adapters.mongo_blocked_terms import MongoBlockedTerms
from stream_svc.deps import Deps
from stream_svc.domain.errors import Invalid, NotFound, RateLimited
from stream_svc.domain.model import BlockedTerm, ModerationAction
from stream_svc.handlers.moderation import log_action, require_moderator


def term_id_of(stream_id: str, term: str) -> str:
    """The id of a (normalized) term in a stream: ``bt_`` + 20 hex digits."""
    return f"bt_{hashlib.sha256(compound_key(stream_id, term).encode()).hexdigest()[:20]}"


def _store(deps: Deps) -> MongoBlockedTerms:
    if deps.blocked_terms is None:
        raise RuntimeError("stream-svc was built without its blocked-terms store")
    return deps.blocked_terms


def _action(term: BlockedTerm, kind: str, version: int) -> ModerationAction:
    key = compound_key(term.stream_id, term.term_id, kind, str(version))
    return ModerationAction(
        f"ma_{hashlib.sha256(key.encode()).hexdigest()[:20]}",
        term.stream_id,
        kind,
        term.by,
        term.by,
        term.at,
        term.expires_at,
        detail=term.term,
    )


async def list_terms(stream_id: str, caller: str, deps: Deps) -> list[BlockedTerm]:
    """The terms in force, oldest first (owner and moderators)."""
    await require_moderator(stream_id, caller, deps)
    return await _store(deps).of_stream(stream_id, deps.clock())


async def add_term(
    stream_id: str, term: str, duration_s: int | None, caller: str, deps: Deps
) -> tuple[BlockedTerm, bool]:
    """Block ``term`` (normalized already, contracts.blocked_terms): ``(term in force,
    changed)``. Raises ``Invalid`` when the stream has :data:`MAX_TERMS` terms already."""
    await require_moderator(stream_id, caller, deps)
    store, now = _store(deps), from_ms(to_ms(deps.clock()))
    term_id = term_id_of(stream_id, term)
    version = await store.version(stream_id, term_id)
    current = await store.get(stream_id, term_id)
    if current is not None and current.active(now):
        if _same_expiry(current, duration_s):
            return current, False
    elif len(await store.of_stream(stream_id, now)) >= MAX_TERMS:
        raise Invalid(f"a stream has at most {MAX_TERMS} blocked terms; remove some first")
    await _spend_change(stream_id, deps)
    expires = expiry_of(now, duration_s) if duration_s else None
    blocked = BlockedTerm(stream_id, term_id, term, caller, now, expires)
    action = _action(blocked, "blocked_term_added", version)
    event = BlockedTermAdded(
        stream_id=stream_id, term_id=term_id, term=term, by=caller, at=now, expires_at=expires
    )
    if not await log_action(action, event, deps):  # a concurrent repeat logged it first
        return (await store.get(stream_id, term_id)) or blocked, False
    await store.set(blocked, active=True)
    return blocked, True


def _same_expiry(current: BlockedTerm, duration_s: int | None) -> bool:
    """Both without expiry, or both for the same duration (a repeat does not extend it, as
    for bans: :func:`stream_svc.handlers.moderation.same_terms`)."""
    if current.expires_at is None or duration_s is None:
        return current.expires_at is None and duration_s is None
    return current.expires_at == expiry_of(current.at, duration_s)


def expiry_of(at: datetime, duration_s: int) -> datetime:
    """When a term blocked at ``at`` for ``duration_s`` expires: rounded up to a whole minute,
    so a stream's terms expire at most once a minute (each expiry makes every gateway instance
    holding the room compile its matcher again: staggered expiries cannot keep it compiling)."""
    end = at + timedelta(seconds=duration_s)
    whole = end.replace(second=0, microsecond=0)
    return whole if whole == end else whole + timedelta(minutes=1)


async def _spend_change(stream_id: str, deps: Deps) -> None:
    """Spend one of the stream's blocked-term changes (``deps.term_changes``).

    Raises:
        RateLimited: the stream's budget is spent (``retry_after_s`` until the next change).
    """
    wait = await deps.term_changes.take(stream_id, to_ms(deps.clock()))
    if wait > 0:
        raise RateLimited("blocked terms are changing too fast on this stream", wait)


async def remove_term(stream_id: str, term_id: str, caller: str, deps: Deps) -> bool:
    """Unblock a term; ``False`` when it is not blocked. Raises ``NotFound`` for an id that
    was never a term of this stream."""
    await require_moderator(stream_id, caller, deps)
    store, now = _store(deps), from_ms(to_ms(deps.clock()))
    version = await store.version(stream_id, term_id)
    if version == 0:
        raise NotFound("no such blocked term")
    current = await store.get(stream_id, term_id)
    if current is None or not current.active(now):
        return False
    await _spend_change(stream_id, deps)
    removed = BlockedTerm(stream_id, term_id, current.term, caller, now)
    event = BlockedTermRemoved(
        stream_id=stream_id, term_id=term_id, term=current.term, by=caller, at=now
    )
    if not await log_action(_action(removed, "blocked_term_removed", version), event, deps):
        return False
    await store.set(removed, active=False)
    return True


async def apply_term_event(p: BlockedTermAdded | BlockedTermRemoved, deps: Deps) -> None:
    """Repair from our own events (as for bans): a request that died between logging the action
    and applying it still gets its term applied. Idempotent and order-tolerant (newest wins)."""
    added = isinstance(p, BlockedTermAdded)
    expires = p.expires_at if isinstance(p, BlockedTermAdded) else None
    term = BlockedTerm(p.stream_id, p.term_id, p.term, p.by, p.at, expires)
    await _store(deps).set(term, active=added)
