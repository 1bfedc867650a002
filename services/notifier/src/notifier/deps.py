"""What notifier's use cases get."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from notifier.adapters.mongo import MongoCampaigns, MongoFollows, MongoInbox
from servicekit.broker import EventPublisher


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Deps:
    follows: MongoFollows
    inbox: MongoInbox
    campaigns: MongoCampaigns
    publisher: EventPublisher
    kick: Callable[[str, str], None]
    fanout_batch: int = 1000
    fanout_lease_s: float = 30.0
    clock: Callable[[], datetime] = utcnow
