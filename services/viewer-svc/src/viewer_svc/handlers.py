"""Use cases of viewer-svc: join, heartbeat, leave, chat presence, projection. Presence is kept
in this instance's memory (``deps.live``); ``counting`` writes it in batches and merges every
instance's into counts. No request writes to the database."""

from __future__ import annotations

import logging
from datetime import datetime

from contracts.common import StreamStatus
from contracts.viewer import JoinLiveStreamResponse, PresenceEntry, PresenceHeartbeat
from viewer_svc.counting import (
    OVER,
    expire,
    flush,
    merged,
    publish_counts,
    stream_bans,
    stream_view,
    viewer_count,
)
from viewer_svc.deps import Deps
from viewer_svc.domain.model import JoinRefused, StreamView, check_join

__all__ = ["expire", "flush", "publish_counts", "viewer_count"]  # the batched side, re-exported
log = logging.getLogger(__name__)


def http_session(session_id: str | None) -> str:
    """The presence session of a REST caller: its ``session_id`` (one per tab or player), or
    one shared session for callers that send none. Never the same as a chat socket's."""
    return f"http:{session_id or 'default'}"


def chat_session(entry: PresenceEntry, instance_id: str) -> str:
    """The presence session of a chat connection (its id; older gateways: the instance)."""
    return f"chat:{entry.session_id or instance_id}"


async def _admit(stream_id: str, account_id: str, session_id: str, deps: Deps) -> StreamView:
    view = await stream_view(stream_id, deps)
    ban = (await stream_bans(stream_id, deps)).get(account_id)
    admitted = check_join(view, ban, deps.clock())
    deps.live.touch(stream_id, account_id, session_id, deps.now_ms())
    return admitted


async def _count_with(stream_id: str, account_id: str, deps: Deps) -> int:
    """The count shown to a viewer who was just admitted: every instance's presence as of
    their last batch (with caches: at most ``ttl_s`` old), always counting this viewer."""
    if deps.hot is None:
        accounts = (await merged(stream_id, deps)).accounts
    else:
        accounts = await deps.hot.reads.get(
            ("count", stream_id), lambda: _accounts(stream_id, deps)
        )
    return len(accounts) + (account_id not in accounts)


async def _accounts(stream_id: str, deps: Deps) -> frozenset[str]:
    return (await merged(stream_id, deps)).accounts


async def join(
    stream_id: str, account_id: str, deps: Deps, session_id: str | None = None
) -> JoinLiveStreamResponse:
    """Start (or keep) watching in one session (tab, player). Raises the domain's
    ``JoinRefused`` errors."""
    view = await _admit(stream_id, account_id, http_session(session_id), deps)
    return _response(view, await _count_with(stream_id, account_id, deps))


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
    """End this session only, wherever it was seen (the end is written with this instance's
    next batch and outranks older sightings on every instance); the account stops counting
    when it was its last session (another tab, a player or a chat socket keeps it counted).
    Without a join nothing is counted differently; a stream unknown or over records nothing."""
    await _end(stream_id, account_id, http_session(session_id), deps)


async def _end(stream_id: str, account_id: str, session: str, deps: Deps) -> None:
    view = await stream_view(stream_id, deps)
    if view is not None and view.status not in OVER:  # nothing counts in the others
        deps.live.end(stream_id, account_id, session, deps.now_ms())


async def chat_presence(event: PresenceHeartbeat, deps: Deps) -> int:
    """Each open chat connection counts as a heartbeat of its account (if it may watch); an
    ``ended`` entry ends that connection's session (the account stays counted while another
    session holds it). Returns the heartbeats counted."""
    touched = 0
    for entry in event.entries:
        session = chat_session(entry, event.instance_id)
        if entry.ended:  # the socket closed: its session only, as a tab's leave
            await _end(entry.stream_id, entry.account_id, session, deps)
            continue
        try:
            await _admit(entry.stream_id, entry.account_id, session, deps)
        except JoinRefused as exc:  # banned, ended, unknown: not counted
            log.debug("chat presence not counted: %s", exc)
            continue
        touched += 1
    return touched


# ---- projection -------------------------------------------------------------------------------


async def stream_described(
    stream_id: str, owner_id: str, playback_url: str | None, deps: Deps
) -> None:
    await deps.projection.describe(stream_id, owner_id, playback_url)


async def stream_status(stream_id: str, status: StreamStatus, deps: Deps) -> None:
    """Forward-only; an ended or deleted stream counts nobody (every instance's merge sees the
    status; each instance forgets the stream's sessions at its next sweep, this one at once)."""
    await deps.projection.advance(stream_id, status)
    if deps.hot is not None:
        deps.hot.forget_stream(stream_id)
    if status in OVER:
        deps.live.drop_stream(stream_id)


async def ban_changed(
    stream_id: str,
    account_id: str,
    *,
    banned: bool,
    at: datetime,
    expires_at: datetime | None,
    deps: Deps,
) -> None:
    """Last write wins by ``at``; a ban ends every session of the account, on every instance
    (merges skip actively banned accounts; the end is written with the next batch)."""
    if deps.hot is not None:
        deps.hot.forget_stream(stream_id)
    applied = await deps.projection.set_ban(
        stream_id, account_id, banned=banned, at=at, expires_at=expires_at
    )
    if applied and banned:
        deps.live.end_account(stream_id, account_id, deps.now_ms())
