"""Applying what other services and Mux report: webhooks, viewer counts, moderation repair."""

from __future__ import annotations

import logging

from contracts.moderation import ModeratorAdded, ModeratorRemoved, UserBanned, UserUnbanned
from contracts.viewer import ViewerCountChanged
from contracts.webhook import MuxWebhookReceived
from stream_svc.deps import Deps
from stream_svc.domain.errors import NotFound
from stream_svc.domain.lifecycle import facts_from_mux
from stream_svc.domain.model import LiveStream, UsagePoint
from stream_svc.handlers.changes import change_stream

log = logging.getLogger(__name__)

USAGE_KINDS = {
    "video.live_stream.active": "active",
    "video.live_stream.disconnected": "disconnected",
    "video.live_stream.idle": "idle",
}


async def apply_mux_event(event: MuxWebhookReceived, deps: Deps) -> None:
    """Merge a Mux live stream or asset webhook into the stream it names (via passthrough).

    Events for streams we do not know (another app on the same Mux environment) are ignored.
    A deleted stream keeps its tombstone: late events still merge into its facts (so the final
    state is the same in every order) but cannot change its status or announce anything.
    """
    if event.stream_id is None:
        return
    stream = await deps.streams.get(event.stream_id)
    if stream is None:
        log.info("ignoring a Mux event for an unknown stream", extra={"type": event.type})
        return
    kind = USAGE_KINDS.get(event.type)
    if kind is not None:
        await deps.streams.record_usage(
            event.mux_event_id,
            UsagePoint(stream.stream_id, stream.owner_id, kind, event.created_at),
        )
    if event.type == "video.asset.ready":
        await _archive(event, deps)
        return
    fact = facts_from_mux(event.type, event.created_at)
    if fact is None:
        return

    def merge(s: LiveStream) -> LiveStream | None:
        merged = s.facts.merge(fact)
        if merged == s.facts:
            return None
        s.facts = merged
        return s

    await change_stream(event.stream_id, merge, deps)


async def _archive(event: MuxWebhookReceived, deps: Deps) -> None:
    """The recording with the earliest creation time is the stream's archive (deterministic
    whatever order several assets' ``ready`` events arrive in)."""
    data = event.data
    asset_id = data.get("id")
    playback = next(
        (
            p.get("id")
            for p in data.get("playback_ids") or []
            if isinstance(p, dict) and p.get("policy") == "public"
        ),
        None,
    )
    if not isinstance(asset_id, str) or not isinstance(playback, str):
        return
    try:
        created = int(data.get("created_at") or 0)
    except (TypeError, ValueError):
        created = 0
    duration = data.get("duration")

    def archive(s: LiveStream) -> LiveStream | None:
        if s.archive_asset_id is not None and (
            (s.archive_asset_created or 0, s.archive_asset_id) <= (created, asset_id)
        ):
            return None
        s.archive_asset_id, s.archive_asset_created, s.archive_playback_id = (
            asset_id,
            created,
            playback,
        )
        s.archive_duration_s = float(duration) if isinstance(duration, int | float) else None
        return s

    try:
        await change_stream(event.stream_id or "", archive, deps)
    except NotFound:
        return


async def apply_viewer_count(event: ViewerCountChanged, deps: Deps) -> None:
    """Keep the newest count (by ``as_of``), the peak, and integrate viewer-seconds; counts
    may arrive in any order (see ``LiveStream.add_count``)."""
    as_of_ms = round(event.as_of.timestamp() * 1000)

    def count(s: LiveStream) -> LiveStream | None:
        return s if s.add_count(as_of_ms, event.viewer_count, event.peak) else None

    try:
        await change_stream(event.stream_id, count, deps)
    except NotFound:
        return


async def apply_moderation(
    event: ModeratorAdded | ModeratorRemoved | UserBanned | UserUnbanned, deps: Deps
) -> None:
    """Our own moderation events, applied again: repairs a projection write that an inline
    request did not finish (crash between the logged action and the projection)."""
    mods = deps.moderation
    if isinstance(event, ModeratorAdded | ModeratorRemoved):
        await mods.set_moderator(
            event.stream_id,
            event.account_id,
            is_moderator=isinstance(event, ModeratorAdded),
            by=event.by,
            at=event.at,
        )
    elif isinstance(event, UserBanned):
        await mods.set_ban(
            event.stream_id,
            event.account_id,
            banned=True,
            by=event.by,
            at=event.at,
            expires_at=event.expires_at,
            reason=event.reason,
        )
    else:
        await mods.set_ban(
            event.stream_id, event.account_id, banned=False, by=event.by, at=event.at
        )
