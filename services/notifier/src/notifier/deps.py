"""What notifier's use cases get."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from notifier.adapters.mongo import MongoCampaigns, MongoFollows, MongoGoLiveSent, MongoInbox
from servicekit.broker import EventPublisher
from servicekit.ratelimit import Limiter


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Deps:
    follows: MongoFollows
    inbox: MongoInbox
    campaigns: MongoCampaigns
    sent: MongoGoLiveSent
    publisher: EventPublisher
    kick: Callable[[str, str], None]
    fanout_batch: int = 1000
    fanout_lease_s: float = 30.0
    golive_window_s: float = 600.0
    clock: Callable[[], datetime] = utcnow
    follow_limiter: Limiter = field(default_factory=lambda: follow_limiter(20, 10.0))


def follow_limiter(burst: int, per_minute: float) -> Limiter:
    """The chat's limiter (``servicekit.ratelimit``) applied to follows, per follower: Twitch
    and Bluesky both cap how fast one account may follow others (follow bots)."""
    return Limiter(burst, per_minute / 60, abuse_limit=1 << 30, abuse_window_s=1.0)
