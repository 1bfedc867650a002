"""Shared builders for stream-svc tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.webhook import MuxWebhookReceived
from stream_svc.adapters.memory import FakeMux, MemoryStreams
from stream_svc.deps import Config, Deps

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Kicks(list[tuple[str, str]]):
    def __call__(self, collection: str, doc_id: str) -> None:
        self.append((collection, doc_id))


def memory_deps(moderation: Any = None, now: datetime = T0) -> Deps:
    return Deps(
        streams=MemoryStreams(),
        moderation=moderation,
        mux=FakeMux(),
        kick=Kicks(),
        config=Config(playback_base_url="https://stream.example"),
        clock=lambda: now,
    )


def mux_event(
    event_type: str, stream_id: str, at_s: float, event_id: str | None = None, **data: Any
) -> MuxWebhookReceived:
    return MuxWebhookReceived(
        mux_event_id=event_id or f"{event_type}@{at_s}",
        type=event_type,
        created_at=T0 + timedelta(seconds=at_s),
        stream_id=stream_id,
        data=data,
    )
