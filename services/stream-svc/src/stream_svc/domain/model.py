"""Entities of stream-svc (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contracts.common import StreamStatus
from stream_svc.domain.lifecycle import Facts

CREATING = "creating"


@dataclass
class LiveStream:
    stream_id: str
    owner_id: str
    title: str
    created_at: datetime
    description: str | None = None
    thumbnail: str | None = None
    state: str = CREATING  # "creating" until Mux answered, then "ready"
    mux_live_stream_id: str | None = None
    playback_id: str | None = None
    stream_key: str | None = None
    facts: Facts = field(default_factory=Facts)
    viewer_count: int = 0
    peak_viewer_count: int = 0
    viewer_count_as_of: datetime | None = None
    viewer_seconds: float = 0.0
    archive_asset_id: str | None = None
    archive_asset_created: int | None = None
    archive_playback_id: str | None = None
    archive_duration_s: float | None = None
    version: int = 0

    @property
    def status(self) -> StreamStatus:
        return self.facts.status

    @property
    def ready(self) -> bool:
        return self.state != CREATING


@dataclass(frozen=True, slots=True)
class Moderator:
    stream_id: str
    account_id: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Ban:
    stream_id: str
    account_id: str
    by: str
    at: datetime
    expires_at: datetime | None = None
    reason: str | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class ModerationAction:
    action_id: str
    stream_id: str
    action: str  # moderator_added | moderator_removed | user_banned | user_unbanned
    account_id: str
    by: str
    at: datetime
    expires_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class UsagePoint:
    """One Mux report that bounds an active period (``active``, ``disconnected``, ``idle``)."""

    stream_id: str
    owner_id: str
    kind: str
    at: datetime
