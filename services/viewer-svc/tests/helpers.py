from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from servicekit.memory import RecordingPublisher
from viewer_svc.adapters.memory import MemoryCounts, MemoryPresence, MemoryProjection
from viewer_svc.deps import Deps

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
    presence: MemoryPresence = field(default_factory=MemoryPresence)
    counts: MemoryCounts = field(default_factory=MemoryCounts)
    projection: MemoryProjection = field(default_factory=MemoryProjection)

    @property
    def deps(self) -> Deps:
        return Deps(
            presence=self.presence,
            counts=self.counts,
            projection=self.projection,
            publisher=self.publisher,
            presence_timeout_s=30,
            count_interval_s=1,
            clock=self.clock,
        )

    def types(self) -> list[str]:
        return [p.envelope.event_type for p in self.publisher.published]
