"""Ports of stream-svc: what the use cases need from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class MuxStream:
    """What we keep of a Mux live stream."""

    id: str
    stream_key: str
    playback_id: str
    passthrough: str | None = None


class MuxLiveStreams(Protocol):
    """Mux's live stream API (the real one, or the simulator, or an in-memory fake).

    Raises ``MuxUnavailable`` when Mux keeps failing after retries, ``MuxNotFound`` for an
    unknown live stream."""

    async def create(
        self, *, passthrough: str, reconnect_window: float, latency_mode: str
    ) -> MuxStream: ...

    async def complete(self, live_stream_id: str) -> None: ...

    async def delete(self, live_stream_id: str) -> None: ...

    async def find_by_passthrough(self, passthrough: str) -> list[MuxStream]: ...
