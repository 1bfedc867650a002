"""Use cases of viewer-svc: join, heartbeat, leave, expiry, coalesced counts, projection."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Literal

from contracts import Event, make_envelope
from contracts.common import StreamStatus
from contracts.viewer import (
    JoinLiveStreamResponse,
    PresenceEntry,
    PresenceHeartbeat,
    ViewerCountChanged,
    ViewerJoined,
    ViewerLeft,
)
from servicekit.logs import correlation_id
from viewer_svc.deps import Deps
from viewer_svc.domain.model import JoinRefused, StreamView, check_join

log = logging.getLogger(__name__)
PRODUCER = "viewer-svc"
LeaveReason = Literal["left", "timeout", "banned", "stream_ended"]


async def _announce(payload: Event, deps: Deps) -> None:
    """Presence events are ephemeral: published directly, a broker outage drops them (the
    coalesced count, which other services use, is kept pending and published later)."""
    try:
        await deps.publisher.publish(
            make_envelope(payload, producer=PRODUCER, correlation_id=correlation_id())
        )
    except Exception as exc:
        log.warning("could not publish %s: %s", payload.TYPE, repr(exc)[:200])


async def _mark_changed(stream_id: str, deps: Deps) -> None:
    if deps.hot is not None:
        deps.hot.changed.add(stream_id)  # flushed by the count loop
    else:
        await deps.counts.mark_changed(stream_id)


async def _joined(stream_id: str, account_id: str, now: datetime, deps: Deps) -> None:
    await _mark_changed(stream_id, deps)
    await _announce(ViewerJoined(stream_id=stream_id, account_id=account_id, joined_at=now), deps)


async def _left(
    stream_id: str,
    account_id: str,
    reason: LeaveReason,
    deps: Deps,
    session_id: str | None = None,
) -> None:
    await _mark_changed(stream_id, deps)
    if deps.hot is not None:
        deps.hot.touches.forget(stream_id, account_id, session_id)
    await _announce(
        ViewerLeft(stream_id=stream_id, account_id=account_id, left_at=deps.clock(), reason=reason),
        deps,
    )


async def _admit(stream_id: str, account_id: str, session_id: str, deps: Deps) -> StreamView:
    now = deps.clock()
    hot = deps.hot
    if hot is None:
        view, ban = (
            await deps.projection.get(stream_id),
            await deps.projection.ban(stream_id, account_id),
        )
    else:
        view = await hot.reads.get(("view", stream_id), lambda: deps.projection.get(stream_id))
        bans = await hot.reads.get(("bans", stream_id), lambda: deps.projection.bans(stream_id))
        ban = bans.get(account_id)
    admitted = check_join(view, ban, now)
    if hot is not None and not hot.touches.due(stream_id, account_id, session_id):
        return admitted
    if await deps.presence.touch(stream_id, account_id, session_id, now):
        await _joined(stream_id, account_id, now, deps)
    if hot is not None:
        hot.touches.touched(stream_id, account_id, session_id)
    return admitted


async def _count(stream_id: str, deps: Deps) -> int:
    if deps.hot is None:
        return await deps.presence.count(stream_id)
    return await deps.hot.reads.get(("count", stream_id), lambda: deps.presence.count(stream_id))


def http_session(session_id: str | None) -> str:
    """The presence session of a REST caller: its ``session_id`` (one per tab or player), or
    one shared session for callers that send none. Never the same as a chat socket's."""
    return f"http:{session_id or 'default'}"


def chat_session(entry: PresenceEntry, instance_id: str) -> str:
    """The presence session of a chat connection (its id; older gateways: the instance)."""
    return f"chat:{entry.session_id or instance_id}"


async def join(
    stream_id: str, account_id: str, deps: Deps, session_id: str | None = None
) -> JoinLiveStreamResponse:
    """Start (or keep) watching in one session (tab, player). Raises the domain's
    ``JoinRefused`` errors."""
    view = await _admit(stream_id, account_id, http_session(session_id), deps)
    return _response(view, await _count(stream_id, deps))


def _response(view: StreamView, count: int) -> JoinLiveStreamResponse:
    status = view.status.value if view.status != StreamStatus.DELETED else "ended"
    return JoinLiveStreamResponse(
        playback_url=view.playback_url or "", viewer_count=count, status=status
    )  # type: ignore[arg-type]


async def heartbeat(
    stream_id: str, account_id: str, deps: Deps, session_id: str | None = None
) -> JoinLiveStreamResponse:
    """Keep watching; after a timeout a heartbeat joins again (players keep heart-beating)."""
    return await join(stream_id, account_id, deps, session_id)


async def leave(stream_id: str, account_id: str, deps: Deps, session_id: str | None = None) -> None:
    """End this session only; the account stops counting when it was its last (another tab,
    a player or an open chat socket keeps it counted). Without a join nothing changes."""
    session = http_session(session_id)
    if await deps.presence.remove(stream_id, account_id, session):
        await _left(stream_id, account_id, "left", deps, session)
    elif deps.hot is not None:
        deps.hot.touches.forget(stream_id, account_id, session)


async def expire(deps: Deps, *, limit: int = 500) -> int:
    """Drop viewers unseen for longer than the presence timeout (safe in every instance: each
    removal is conditional, so each viewer is counted out and announced once)."""
    cutoff = deps.clock() - timedelta(seconds=deps.presence_timeout_s)
    removed = 0
    for stream_id, account_id, session_id in await deps.presence.expired(cutoff, limit):
        if await deps.presence.remove_if_unseen_since(stream_id, account_id, session_id, cutoff):
            await _left(stream_id, account_id, "timeout", deps)
            removed += 1
    return removed


async def publish_counts(deps: Deps, *, limit: int = 500) -> int:
    """Publish the current count of each stream whose count changed, at most once per stream
    per interval across all instances; a failed publication stays pending."""
    if deps.hot is not None and deps.hot.changed:
        changed, deps.hot.changed = deps.hot.changed, set()
        try:
            await deps.counts.mark_changed_many(changed)
        except BaseException:
            deps.hot.changed |= changed
            raise
    now = deps.clock()
    published = 0
    for stream_id in await deps.counts.claim_due(now, deps.count_interval_s, limit):
        count = await deps.presence.count(stream_id)
        peak = await deps.counts.published(stream_id, count)
        event = ViewerCountChanged(
            stream_id=stream_id, viewer_count=count, peak=peak, as_of=deps.clock()
        )
        try:
            await deps.publisher.publish(make_envelope(event, producer=PRODUCER))
        except Exception:
            await deps.counts.unclaim(stream_id)
            raise
        published += 1
    return published


# ---- projection -------------------------------------------------------------------------------


async def stream_described(
    stream_id: str, owner_id: str, playback_url: str | None, deps: Deps
) -> None:
    await deps.projection.describe(stream_id, owner_id, playback_url)


async def stream_status(stream_id: str, status: StreamStatus, deps: Deps) -> None:
    """Forward-only; ended or deleted streams drop their viewers."""
    await deps.projection.advance(stream_id, status)
    if deps.hot is not None:
        deps.hot.forget_stream(stream_id)
    if status in (StreamStatus.ENDED, StreamStatus.DELETED):
        for account in await deps.presence.remove_stream(stream_id):
            await _left(stream_id, account, "stream_ended", deps)


async def ban_changed(
    stream_id: str,
    account_id: str,
    *,
    banned: bool,
    at: datetime,
    expires_at: datetime | None,
    deps: Deps,
) -> None:
    if deps.hot is not None:
        deps.hot.forget_stream(stream_id)
    applied = await deps.projection.set_ban(
        stream_id, account_id, banned=banned, at=at, expires_at=expires_at
    )
    if applied and banned and await deps.presence.remove_account(stream_id, account_id):
        await _left(stream_id, account_id, "banned", deps)


async def chat_presence(event: PresenceHeartbeat, deps: Deps) -> int:
    """Each open chat connection counts as a heartbeat of its account (if it may watch); an
    ``ended`` entry ends that connection's session (the account stays counted while another
    session holds it). Returns the heartbeats counted."""
    touched = 0
    for entry in event.entries:
        if entry.ended:  # the socket closed: its session only, as a tab's leave
            session = chat_session(entry, event.instance_id)
            if await deps.presence.remove(entry.stream_id, entry.account_id, session):
                await _left(entry.stream_id, entry.account_id, "left", deps, session)
            continue
        try:
            await _admit(
                entry.stream_id, entry.account_id, chat_session(entry, event.instance_id), deps
            )
        except JoinRefused as exc:  # banned, ended, unknown: not counted
            log.debug("chat presence not counted: %s", exc)
            continue
        touched += 1
    return touched
