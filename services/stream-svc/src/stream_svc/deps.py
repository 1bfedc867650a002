"""What every use case of stream-svc gets: the adapters and the settings they need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from servicekit.ratelimit import Budget, MemoryRateBudgets, RateBudgets
from stream_svc.adapters.mongo_blocked_terms import MongoBlockedTerms
from stream_svc.adapters.mongo_moderation import MongoModeration
from stream_svc.domain.usage import Prices
from stream_svc.ports import MuxLiveStreams, StreamStore


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Config:
    rtmp_url: str = "rtmps://global-live.mux.com:443/app"
    playback_base_url: str = "https://stream.mux.com"
    #: Mux's image service; locally the simulator's ``/image`` through the gateway
    thumbnail_base_url: str = "https://image.mux.com"
    reconnect_window_s: float = 60.0
    latency_mode: str = "standard"
    prices: Prices = field(default_factory=Prices)

    def playback_url(self, playback_id: str | None) -> str:
        return f"{self.playback_base_url.rstrip('/')}/{playback_id}.m3u8" if playback_id else ""

    def thumbnail_url(self, thumbnail: str | None, playback_id: str | None) -> str | None:
        """The owner's thumbnail if set, else Mux's image of the stream
        (``{thumbnail_base_url}/{playback_id}/thumbnail.jpg``), else ``None``."""
        if thumbnail:
            return thumbnail
        if playback_id:
            return f"{self.thumbnail_base_url.rstrip('/')}/{playback_id}/thumbnail.jpg"
        return None


@dataclass(frozen=True, slots=True)
class Deps:
    streams: StreamStore
    moderation: MongoModeration
    mux: MuxLiveStreams
    kick: Callable[[str, str], None]
    config: Config = field(default_factory=Config)
    clock: Callable[[], datetime] = utcnow
    #: each account's budget of calls that create or change a Mux live stream
    mux_calls: RateBudgets = field(
        default_factory=lambda: MemoryRateBudgets(mux_call_budget(20, 2.0))
    )
    blocked_terms: MongoBlockedTerms | None = None
    #: each stream's budget of blocked-term changes (adds and removals, all moderators together)
    term_changes: RateBudgets = field(
        default_factory=lambda: MemoryRateBudgets(term_change_budget(200, 20.0))
    )


#: the collection of the shared blocked-term change budgets (one document per stream)
TERM_CHANGE_RATE_COLLECTION = "term_change_budgets"


def term_change_budget(burst: int, per_minute: float) -> Budget:
    """A stream's budget of blocked-term changes: ``burst`` at once (a list pasted in), then
    ``per_minute``. Every change makes each chat-gateway instance holding the room compile its
    matcher again (about 180 ms for 1,000 terms of 100 characters), so the rate of changes, not
    only the number of terms, bounds what one stream can cost every instance.
    """
    return Budget(burst, per_minute / 60)


#: the collection of the shared Mux-call budgets (one document per account)
MUX_CALL_RATE_COLLECTION = "mux_call_budgets"


def mux_call_budget(burst: int, per_minute: float) -> Budget:
    """An account's budget of stream creations and key resets (``servicekit.ratelimit``, shared by
    every instance): ``burst`` at once, then ``per_minute``.

    Mux rate-limits its API per environment, not per customer of ours ("Every Mux environment gets
    its own rate limit bucket", mux.com/blog/protect-your-prod-environment-new-rate-limit-controls;
    limits at mux.com/docs/system/api-rate-limits), and every creation is a billed Mux live stream:
    without a budget per account, one runaway client spends the bucket every streamer shares.
    Start, end and delete are not budgeted: each happens once per stream, so creations bound them.
    """
    return Budget(burst, per_minute / 60)
