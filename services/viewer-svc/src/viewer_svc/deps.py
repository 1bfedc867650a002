"""What the use cases of viewer-svc get."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from servicekit.broker import EventPublisher
from viewer_svc.cache import HotPath
from viewer_svc.domain.presence import LivePresence
from viewer_svc.ports import Board, Counts, Projection


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Deps:
    live: LivePresence  # this instance's sessions (memory)
    board: Board  # every instance's sheets (database)
    counts: Counts
    projection: Projection
    publisher: EventPublisher
    presence_timeout_s: float = 30.0
    count_interval_s: float = 1.0
    #: how long after a sheet's entry expires another instance prunes it (its own instance
    #: normally does it first, at its next sweep)
    prune_grace_s: float = 11.0
    clock: Callable[[], datetime] = utcnow
    hot: HotPath | None = None

    def now_ms(self) -> int:
        return int(self.clock().timestamp() * 1000)

    @property
    def timeout_ms(self) -> int:
        return int(self.presence_timeout_s * 1000)
