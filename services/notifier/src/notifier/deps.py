"""What notifier's use cases get."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from notifier.adapters.mongo import MongoCampaigns, MongoFollows, MongoGoLiveSent, MongoInbox
from notifier.inbox_watch import CountReads, UnreadWatch
from servicekit.broker import EventPublisher
from servicekit.ratelimit import Budget, MemoryRateBudgets, RateBudgets


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
    follow_limiter: RateBudgets = field(
        default_factory=lambda: MemoryRateBudgets(follow_budget(20, 10.0))
    )
    #: requests of this instance waiting for an unread count to change (the bell's long poll)
    watch: UnreadWatch = field(default_factory=UnreadWatch)
    #: unread counts read together (``None``: one query per read)
    count_reads: CountReads | None = None

    async def unread_count(self, account_id: str) -> int:
        """``account_id``'s unread count, read together with concurrent reads when set up."""
        if self.count_reads is not None:
            return await self.count_reads.count(account_id)
        return await self.inbox.unread_count(account_id)


#: the collection of the shared follow budgets (one document per follower)
FOLLOW_RATE_COLLECTION = "follow_rate"


def follow_budget(burst: int, per_minute: float) -> Budget:
    """The chat's rate budget (``servicekit.ratelimit``, shared by every instance) applied to
    follows, per follower: Twitch and Bluesky both cap how fast one account may follow others
    (follow bots)."""
    return Budget(burst, per_minute / 60)
