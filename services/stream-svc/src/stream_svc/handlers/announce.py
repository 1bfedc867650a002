"""Building the events a stream change announces."""

from __future__ import annotations

from datetime import datetime

from contracts import Envelope, Event, make_envelope
from contracts.common import StreamStatus
from contracts.stream import (
    StreamArchiveReady,
    StreamDeleted,
    StreamEnded,
    StreamStarted,
    StreamUpdated,
)
from servicekit.logs import correlation_id
from stream_svc.deps import Config
from stream_svc.domain.lifecycle import passed_through
from stream_svc.domain.model import LiveStream

PRODUCER = "stream-svc"


def envelope(payload: Event) -> Envelope[Event]:
    return make_envelope(payload, producer=PRODUCER, correlation_id=correlation_id())


def lifecycle_events(
    before: LiveStream, after: LiveStream, config: Config, now: datetime
) -> list[Envelope[Event]]:
    """Events for the statuses newly reached, a changed title/description/thumbnail, and a new
    or better archive."""
    out: list[Envelope[Event]] = []
    facts = after.facts
    for status in passed_through(before.status, after.status):
        if status == StreamStatus.ACTIVE and facts.started_at is not None:
            out.append(
                envelope(
                    StreamStarted(
                        stream_id=after.stream_id,
                        owner_id=after.owner_id,
                        title=after.title,
                        playback_url=config.playback_url(after.playback_id),
                        started_at=facts.started_at,
                    )
                )
            )
        elif status == StreamStatus.ENDED and facts.ended_at is not None:
            reason = "owner_ended" if facts.owner_ended_at is not None else "encoder_idle"
            out.append(
                envelope(
                    StreamEnded(
                        stream_id=after.stream_id,
                        owner_id=after.owner_id,
                        ended_at=facts.ended_at,
                        reason=reason,
                    )
                )
            )
        elif status == StreamStatus.DELETED and facts.deleted_at is not None:
            out.append(
                envelope(
                    StreamDeleted(
                        stream_id=after.stream_id,
                        owner_id=after.owner_id,
                        deleted_at=facts.deleted_at,
                    )
                )
            )
    described = (after.title, after.description, after.thumbnail)
    if described != (before.title, before.description, before.thumbnail):
        out.append(
            envelope(
                StreamUpdated(
                    stream_id=after.stream_id,
                    owner_id=after.owner_id,
                    title=after.title,
                    description=after.description,
                    thumbnail_url=config.thumbnail_url(after.thumbnail, after.playback_id),
                    updated_at=now,
                    version=before.version + 1,  # what the save of ``after`` stores
                )
            )
        )
    if (
        after.archive_asset_id
        and after.archive_asset_id != before.archive_asset_id
        and after.status != StreamStatus.DELETED
    ):
        out.append(
            envelope(
                StreamArchiveReady(
                    stream_id=after.stream_id,
                    owner_id=after.owner_id,
                    asset_id=after.archive_asset_id,
                    archive_playback_url=config.playback_url(after.archive_playback_id),
                    duration_s=after.archive_duration_s,
                )
            )
        )
    return out
