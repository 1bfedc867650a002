"""Stream documents -> REST bodies."""

from __future__ import annotations

from contracts.stream import LiveStreamDetails, LiveStreamSummary
from stream_svc.deps import Config
from stream_svc.domain.model import LiveStream


def summary(stream: LiveStream, config: Config) -> LiveStreamSummary:
    return LiveStreamSummary(
        stream_id=stream.stream_id,
        owner_id=stream.owner_id,
        title=stream.title,
        description=stream.description,
        thumbnail=stream.thumbnail,
        thumbnail_url=config.thumbnail_url(stream.thumbnail, stream.playback_id),
        status=stream.status,
        viewer_count=stream.viewer_count,
        playback_url=config.playback_url(stream.playback_id),
        created_at=stream.created_at,
        started_at=stream.facts.started_at,
        ended_at=stream.facts.ended_at,
    )


def details(stream: LiveStream, config: Config, *, caller: str) -> LiveStreamDetails:
    owner = caller == stream.owner_id
    return LiveStreamDetails(
        **summary(stream, config).model_dump(),
        peak_viewer_count=stream.peak_viewer_count,
        archive_playback_url=config.playback_url(stream.archive_playback_id) or None,
        stream_key=stream.stream_key if owner else None,
        rtmp_url=config.rtmp_url if owner else None,
    )
