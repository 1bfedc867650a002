"""What the use cases of viewer-svc get."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from servicekit.broker import EventPublisher
from viewer_svc.cache import HotPath
from viewer_svc.ports import Counts, Presence, Projection


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Deps:
    presence: Presence
    counts: Counts
    projection: Projection
    publisher: EventPublisher
    presence_timeout_s: float = 30.0
    count_interval_s: float = 1.0
    clock: Callable[[], datetime] = utcnow
    hot: HotPath | None = None
