"""Applying what other services and Mux report: webhooks, viewer counts, moderation repair."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from contracts.common import compound_key
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


async def stream_of(event: MuxWebhookReceived, deps: Deps) -> LiveStream | None:
    """The stream a Mux event is about: by our id (the ``passthrough``) when the event carries
    one, else by the Mux live stream id (``data.id`` of live stream events,
    ``data.live_stream_id`` of asset events; real deliveries of recorded assets do not always
    carry the passthrough). ``None`` for streams we do not know (another app on the same Mux
    environment), for which events are ignored."""
    if event.stream_id is not None:
        stream = await deps.streams.get(event.stream_id)
        if stream is not None:
            return stream
    if event.live_stream_id:
        return await deps.streams.by_mux_live_stream_id(event.live_stream_id)
    return None


async def apply_mux_event(event: MuxWebhookReceived, deps: Deps) -> None:
    """Merge a Mux live stream or asset webhook into the stream it is about (``stream_of``).

    A deleted stream keeps its tombstone: late events still merge into its facts (so the final
    state is the same in every order) but cannot change its status or announce anything.
    """
    stream = await stream_of(event, deps)
    if stream is None:
        log.info("ignoring a Mux event for an unknown stream", extra={"type": event.type})
        return
    point = _usage_point(event, stream)
    if point is not None:
        await deps.streams.record_usage(event.mux_event_id, point)
    fact = facts_from_mux(event.type, event.created_at)
    archive = _archive(event) if event.type == "video.asset.ready" else None

    def merge(s: LiveStream) -> LiveStream | None:
        changed = s.heard_from_mux(event.created_at)
        if fact is not None and s.facts.merge(fact) != s.facts:
            s.facts, changed = s.facts.merge(fact), True
        if archive is not None:
            changed = archive(s) or changed
        return s if changed else None

    with contextlib.suppress(NotFound):
        await change_stream(stream.stream_id, merge, deps)


def _usage_point(event: MuxWebhookReceived, stream: LiveStream) -> UsagePoint | None:
    """What usage keeps of a Mux webhook (see ``domain.usage``): bounds of active periods,
    and each recording's storage life (ready with its duration, deleted)."""
    kind = USAGE_KINDS.get(event.type)
    if kind is not None:
        return UsagePoint(stream.stream_id, stream.owner_id, kind, event.created_at)
    asset_id = event.data.get("id")
    if not isinstance(asset_id, str):
        return None
    if event.type == "video.asset.ready":
        duration = event.data.get("duration")
        seconds = float(duration) if isinstance(duration, int | float) else None
        return UsagePoint(
            stream.stream_id, stream.owner_id, "recording", event.created_at, seconds, asset_id
        )
    if event.type == "video.asset.deleted":
        return UsagePoint(
            stream.stream_id, stream.owner_id, "recording_deleted", event.created_at, ref=asset_id
        )
    return None


def _archive(event: MuxWebhookReceived) -> Callable[[LiveStream], bool] | None:
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
        return None
    try:
        created = int(data.get("created_at") or 0)
    except (TypeError, ValueError):
        created = 0
    duration = data.get("duration")

    def archive(s: LiveStream) -> bool:
        if s.archive_asset_id is not None and (
            (s.archive_asset_created or 0, s.archive_asset_id) <= (created, asset_id)
        ):
            return False
        s.archive_asset_id, s.archive_asset_created, s.archive_playback_id = (
            asset_id,
            created,
            playback,
        )
        s.archive_duration_s = float(duration) if isinstance(duration, int | float) else None
        return True

    return archive


async def apply_viewer_count(event: ViewerCountChanged, deps: Deps) -> None:
    """Keep the count as a usage report (viewer-minutes over any window), and the newest count
    (by ``as_of``) and the peak on the stream; counts may arrive in any order (see
    ``LiveStream.add_count``)."""
    as_of_ms = round(event.as_of.timestamp() * 1000)
    stream = await deps.streams.get(event.stream_id)
    if stream is None:
        return
    await deps.streams.record_usage(
        compound_key("viewers", event.stream_id, str(as_of_ms)),
        UsagePoint(
            stream.stream_id, stream.owner_id, "viewers", event.as_of, float(event.viewer_count)
        ),
    )

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
