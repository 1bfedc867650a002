from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from servicekit.memory import RecordingPublisher
from viewer_svc import handlers
from viewer_svc.adapters.memory import MemoryBoard, MemoryCounts, MemoryProjection
from viewer_svc.deps import Deps
from viewer_svc.domain.presence import LivePresence

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    clock: Clock = field(default_factory=Clock)
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)
    live: LivePresence = field(default_factory=lambda: LivePresence("i1"))
    board: MemoryBoard = field(default_factory=MemoryBoard)
    counts: MemoryCounts = field(default_factory=MemoryCounts)
    projection: MemoryProjection = field(default_factory=MemoryProjection)

    @property
    def deps(self) -> Deps:
        return Deps(
            live=self.live,
            board=self.board,
            counts=self.counts,
            projection=self.projection,
            publisher=self.publisher,
            presence_timeout_s=30,
            count_interval_s=1,
            clock=self.clock,
        )

    def types(self) -> list[str]:
        return [p.envelope.event_type for p in self.publisher.published]

    async def count(self, stream_id: str) -> int:
        return await handlers.viewer_count(stream_id, self.deps)

    async def settle(self) -> int:
        """One presence batch, as the instance's loop runs it: sheets written, counts due
        published (with the joins and leaves since the last publication)."""
        await handlers.flush(self.deps)
        return await handlers.publish_counts(self.deps)

    def presence_types(self) -> list[str]:
        """Joins and leaves announced so far (without the count events)."""
        return [t for t in self.types() if t != "viewer.count_changed"]
