"""Entities of stream-svc (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from contracts.common import StreamStatus
from stream_svc.domain.lifecycle import Facts

CREATING = "creating"


#: how many of the newest viewer counts a stream keeps to integrate late arrivals correctly
COUNT_WINDOW = 64


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
    #: viewer-seconds of the counts folded out of ``count_samples`` (older than the window)
    viewer_seconds: float = 0.0
    #: the newest reported counts, ``(as_of epoch ms, count)`` sorted by time; a count that
    #: arrives out of order inside this window is still integrated (see ``add_count``)
    count_samples: list[tuple[int, int]] = field(default_factory=list)
    viewer_seconds_folded: bool = False  # has the window dropped samples (into viewer_seconds)
    archive_asset_id: str | None = None
    archive_asset_created: int | None = None
    archive_playback_id: str | None = None
    archive_duration_s: float | None = None
    #: Mux's time of the newest Mux event applied (or of the newest check that found the stream
    #: active on Mux); the reconciliation asks Mux about active streams when this is old
    last_mux_event_at: datetime | None = None
    version: int = 0

    @property
    def status(self) -> StreamStatus:
        return self.facts.status

    @property
    def total_viewer_seconds(self) -> float:
        """Viewer-seconds so far: the folded part plus the integral over the window (each
        count holds until the next one)."""
        window = self.count_samples
        return self.viewer_seconds + sum(
            n * (later - at) / 1000 for (at, n), (later, _) in pairwise(window)
        )

    def add_count(self, as_of_ms: int, count: int, peak: int) -> bool:
        """Record a reported viewer count, in whatever order counts arrive: the newest is the
        current count, and one older than the window only raises the peak. Returns whether
        anything changed."""
        before = (list(self.count_samples), self.viewer_seconds, self.peak_viewer_count)
        self.peak_viewer_count = max(self.peak_viewer_count, peak, count)
        window = self.count_samples
        folded_until = window[0][0] if window and self.viewer_seconds_folded else None
        if folded_until is None or as_of_ms > folded_until:
            window[:] = sorted({**dict(window), as_of_ms: count}.items())
            while len(window) > COUNT_WINDOW:
                (at, n), (later, _) = window[0], window[1]
                self.viewer_seconds += n * (later - at) / 1000
                self.viewer_seconds_folded = True
                del window[0]
            newest_ms, self.viewer_count = window[-1]
            self.viewer_count_as_of = datetime.fromtimestamp(newest_ms / 1000, UTC)
        return before != (self.count_samples, self.viewer_seconds, self.peak_viewer_count)

    def heard_from_mux(self, at: datetime) -> bool:
        """Note a Mux report made at ``at``; whether it is newer than the last one."""
        if self.last_mux_event_at is not None and at <= self.last_mux_event_at:
            return False
        self.last_mux_event_at = at
        return True

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
    # | blocked_term_added | blocked_term_removed | message_pinned | message_unpinned
    account_id: str
    by: str
    at: datetime
    expires_at: datetime | None = None
    reason: str | None = None
    detail: str | None = None  # the blocked term, or the pinned text
    message_id: str | None = None  # the pinned message


@dataclass(frozen=True, slots=True)
class BlockedTerm:
    """A blocked term of a stream (normalized, contracts.blocked_terms); ``term_id`` derives
    from (stream, term), so adding the same term again updates it."""

    stream_id: str
    term_id: str
    term: str
    by: str
    at: datetime
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class UsagePoint:
    """One report usage is measured from (see ``domain.usage``): Mux's ``active``,
    ``disconnected`` and ``idle`` (bounds of active periods), ``recording`` (an asset ready:
    ``value`` = its duration in seconds, ``ref`` = asset id), ``recording_deleted`` (``ref``),
    and ``viewers`` (viewer-svc's count at ``at``: ``value``)."""

    stream_id: str
    owner_id: str
    kind: str
    at: datetime
    value: float | None = None
    ref: str | None = None
