"""In-memory adapters for unit tests: Mux (with failure switches) and the stream store."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from contracts import Envelope, Event
from contracts.common import StreamStatus
from servicekit.replay import FINGERPRINT
from stream_svc.domain.errors import MuxNotFound, MuxUnavailable
from stream_svc.domain.model import LiveStream, UsagePoint
from stream_svc.ports import MuxStream


@dataclass
class FakeMux:
    streams: dict[str, MuxStream] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    settings_seen: list[tuple[float, str]] = field(default_factory=list)
    fail_next: int = 0

    def _maybe_fail(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise MuxUnavailable("Mux create failed after retries: HTTP 503 (fake)")

    async def create(
        self, *, passthrough: str, reconnect_window: float, latency_mode: str
    ) -> MuxStream:
        self._maybe_fail()
        self.settings_seen.append((reconnect_window, latency_mode))
        stream = MuxStream(
            id=secrets.token_hex(8),
            stream_key=secrets.token_hex(8),
            playback_id=secrets.token_hex(8),
            passthrough=passthrough,
        )
        self.streams[stream.id] = stream
        return stream

    async def complete(self, live_stream_id: str) -> None:
        self._maybe_fail()
        if live_stream_id not in self.streams:
            raise MuxNotFound(live_stream_id)
        self.completed.append(live_stream_id)

    async def delete(self, live_stream_id: str) -> None:
        self._maybe_fail()
        if self.streams.pop(live_stream_id, None) is None:
            raise MuxNotFound(live_stream_id)

    async def disable(self, live_stream_id: str) -> None:
        self._maybe_fail()
        if live_stream_id not in self.streams:
            raise MuxNotFound(live_stream_id)
        self.disabled.append(live_stream_id)
        self.streams[live_stream_id] = replace(self.streams[live_stream_id], status="disabled")

    async def reset_stream_key(self, live_stream_id: str) -> MuxStream:
        self._maybe_fail()
        if live_stream_id not in self.streams:
            raise MuxNotFound(live_stream_id)
        new = replace(self.streams[live_stream_id], stream_key=secrets.token_hex(8))
        self.streams[live_stream_id] = new
        return new

    async def get(self, live_stream_id: str) -> MuxStream:
        self._maybe_fail()
        if live_stream_id not in self.streams:
            raise MuxNotFound(live_stream_id)
        return self.streams[live_stream_id]

    async def find_by_passthrough(self, passthrough: str) -> list[MuxStream]:
        return [s for s in self.streams.values() if s.passthrough == passthrough]


class MemoryStreams:
    """In-memory twin of ``MongoStreams`` (same contract: versioned saves, staged events)."""

    def __init__(self) -> None:
        self.docs: dict[str, LiveStream] = {}
        self.requests: dict[tuple[str, str], str] = {}
        self.claimed_at: dict[tuple[str, str], datetime] = {}
        self.request_fps: dict[tuple[str, str], str] = {}
        self.usage: dict[str, UsagePoint] = {}
        self.staged: list[Envelope[Event]] = []
        self.fail_finish = False

    async def claim_request(
        self, owner_id: str, key: str, stream_id: str, now: datetime, request_fp: str
    ) -> dict[str, Any] | None:
        bound = self.requests.setdefault((owner_id, key), stream_id)
        self.claimed_at.setdefault((owner_id, key), now)
        fp = self.request_fps.setdefault((owner_id, key), request_fp)
        return None if bound == stream_id else {"stream_id": bound, FINGERPRINT: fp}

    async def release_request(self, owner_id: str, key: str) -> None:
        self.requests.pop((owner_id, key), None)
        self.request_fps.pop((owner_id, key), None)

    async def reserve(self, stream: LiveStream) -> None:
        if stream.stream_id in self.docs:
            raise KeyError(stream.stream_id)
        self.docs[stream.stream_id] = copy.deepcopy(stream)

    async def finish_create(self, stream: LiveStream, envelopes: Sequence[Envelope[Event]]) -> bool:
        current = self.docs.get(stream.stream_id)
        if self.fail_finish or current is None or current.ready:
            return False
        self.docs[stream.stream_id] = copy.deepcopy(stream)
        self.staged += envelopes
        return True

    async def discard(self, stream_id: str) -> None:
        current = self.docs.get(stream_id)
        if current is not None and not current.ready:
            del self.docs[stream_id]

    async def stale_reservations(self, before: datetime) -> list[LiveStream]:
        return [
            copy.deepcopy(s) for s in self.docs.values() if not s.ready and s.created_at < before
        ]

    async def get(self, stream_id: str) -> LiveStream | None:
        found = self.docs.get(stream_id)
        return copy.deepcopy(found) if found else None

    async def by_mux_live_stream_id(self, live_stream_id: str) -> LiveStream | None:
        found = next(
            (s for s in self.docs.values() if s.mux_live_stream_id == live_stream_id), None
        )
        return copy.deepcopy(found) if found else None

    async def quiet_active(self, *, silent_since: datetime, limit: int) -> list[LiveStream]:
        return [
            copy.deepcopy(s)
            for s in self.docs.values()
            if s.status == StreamStatus.ACTIVE
            and s.facts.mux_active_at is not None
            and (s.last_mux_event_at is None or s.last_mux_event_at < silent_since)
        ][:limit]

    async def page(
        self,
        *,
        statuses: Sequence[StreamStatus],
        owner_id: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[LiveStream]:
        rows = sorted(
            (
                s
                for s in self.docs.values()
                if s.ready
                and s.status in statuses
                and (owner_id is None or s.owner_id == owner_id)
                and (after is None or (s.created_at, s.stream_id) < after)
            ),
            key=lambda s: (s.created_at, s.stream_id),
            reverse=True,
        )
        return [copy.deepcopy(s) for s in rows[:limit]]

    async def of_owner(self, owner_id: str) -> list[LiveStream]:
        return [copy.deepcopy(s) for s in self.docs.values() if s.ready and s.owner_id == owner_id]

    async def save(
        self, stream: LiveStream, *, expected_version: int, envelopes: Sequence[Envelope[Event]]
    ) -> bool:
        current = self.docs.get(stream.stream_id)
        if current is None or current.version != expected_version:
            return False
        saved = copy.deepcopy(stream)
        saved.version = expected_version + 1
        self.docs[stream.stream_id] = saved
        self.staged += envelopes
        return True

    async def record_usage(self, key: str, point: UsagePoint) -> None:
        self.usage.setdefault(key, point)

    async def usage_points(self, *, stream_ids: Sequence[str]) -> list[UsagePoint]:
        return [p for p in self.usage.values() if p.stream_id in stream_ids]

    def events(self) -> list[str]:
        return [e.event_type for e in self.staged]
