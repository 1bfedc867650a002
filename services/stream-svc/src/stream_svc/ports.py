"""Ports of stream-svc: what the use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from contracts import Envelope, Event
from contracts.common import StreamStatus
from stream_svc.domain.model import LiveStream, UsagePoint


@dataclass(frozen=True, slots=True)
class MuxStream:
    """What we keep of a Mux live stream."""

    id: str
    stream_key: str
    playback_id: str
    passthrough: str | None = None
    #: Mux's status of the live stream: ``idle`` | ``active`` | ``disabled``
    status: str = "idle"


class MuxLiveStreams(Protocol):
    """Mux's live stream API (the real one, or the simulator, or an in-memory fake).

    Raises ``MuxUnavailable`` when Mux keeps failing after retries, ``MuxNotFound`` for an
    unknown live stream."""

    async def create(
        self, *, passthrough: str, reconnect_window: float, latency_mode: str
    ) -> MuxStream: ...

    async def complete(self, live_stream_id: str) -> None: ...

    async def delete(self, live_stream_id: str) -> None: ...

    async def disable(self, live_stream_id: str) -> None:
        """The stream key stops working: the encoder is refused until enabled."""
        ...

    async def reset_stream_key(self, live_stream_id: str) -> MuxStream:
        """A new stream key; the old one is refused from now on."""
        ...

    async def get(self, live_stream_id: str) -> MuxStream: ...

    async def find_by_passthrough(self, passthrough: str) -> list[MuxStream]: ...


class StreamStore(Protocol):
    """``live_streams`` (+ Idempotency-Keys and usage reports): versioned writes that stage
    their events in the same write."""

    async def claim_request(
        self, owner_id: str, key: str, stream_id: str, now: datetime, request_fp: str
    ) -> Mapping[str, Any] | None:
        """Bind the key; the earlier claim (``stream_id``, ``request_fp``) if there was one."""
        ...

    async def release_request(self, owner_id: str, key: str) -> None: ...
    async def reserve(self, stream: LiveStream) -> None: ...
    async def finish_create(
        self, stream: LiveStream, envelopes: Sequence[Envelope[Event]]
    ) -> bool: ...
    async def discard(self, stream_id: str) -> None: ...
    async def stale_reservations(self, before: datetime) -> list[LiveStream]: ...
    async def get(self, stream_id: str) -> LiveStream | None: ...
    async def by_mux_live_stream_id(self, live_stream_id: str) -> LiveStream | None: ...
    async def quiet_active(self, *, silent_since: datetime, limit: int) -> list[LiveStream]:
        """Active streams Mux reported live whose last Mux report is older than
        ``silent_since`` (the reconciliation's candidates)."""
        ...

    async def page(
        self,
        *,
        statuses: Sequence[StreamStatus],
        owner_id: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[LiveStream]: ...
    async def of_owner(self, owner_id: str) -> list[LiveStream]: ...
    async def save(
        self, stream: LiveStream, *, expected_version: int, envelopes: Sequence[Envelope[Event]]
    ) -> bool:
        """Write the stream's mutable fields (facts, counts, archive, key, last Mux report)."""
        ...

    async def record_usage(self, key: str, point: UsagePoint) -> None: ...
    async def usage_points(self, *, stream_ids: Sequence[str]) -> list[UsagePoint]: ...
