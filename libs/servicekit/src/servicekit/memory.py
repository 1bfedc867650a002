"""In-memory implementations of the kit's ports, for unit tests (real fakes, not mocks)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from contracts.envelope import Envelope, Event
from servicekit.broker import LIVE, envelope_routing_key

__all__ = ["FakeClock", "Published", "RecordingPublisher"]


@dataclass(frozen=True, slots=True)
class Published:
    envelope: Envelope[Event]
    exchange: str
    routing_key: str


@dataclass
class RecordingPublisher:
    """An :class:`~servicekit.broker.EventPublisher` that records what it was asked to publish;
    set ``fail`` to make it raise like a broker that is down. ``attempts`` counts every call,
    failed or not."""

    published: list[Published] = field(default_factory=list)
    fail: bool = False
    attempts: int = 0
    probes: int = 0

    async def probe(self) -> bool:
        """As :meth:`servicekit.broker.RabbitEventPublisher.probe`: raises while ``fail``."""
        self.probes += 1
        if self.fail:
            raise ConnectionError("broker unavailable (RecordingPublisher.fail)")
        return True

    async def publish(
        self, envelope: Envelope[Event], *, exchange: str = LIVE, routing_key: str | None = None
    ) -> None:
        self.attempts += 1
        if self.fail:
            raise ConnectionError("broker unavailable (RecordingPublisher.fail)")
        self.published.append(
            Published(envelope, exchange, routing_key or envelope_routing_key(envelope))
        )

    def event_ids(self) -> list[uuid.UUID]:
        """Ids of the envelopes published so far, in order."""
        return [p.envelope.event_id for p in self.published]

    def events(self, cls: type[Event] | None = None) -> list[Event]:
        """Payloads published so far, optionally only of one class."""
        return [
            p.envelope.payload
            for p in self.published
            if cls is None or isinstance(p.envelope.payload, cls)
        ]


@dataclass
class FakeClock:
    """A clock tests move by hand."""

    now_: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.now_

    def advance(self, seconds: float) -> None:
        self.now_ += timedelta(seconds=seconds)
