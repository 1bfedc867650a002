"""In-memory Mux for unit and entrypoint tests: a real fake with failure switches."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from stream_svc.domain.errors import MuxNotFound, MuxUnavailable
from stream_svc.ports import MuxStream


@dataclass
class FakeMux:
    streams: dict[str, MuxStream] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
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

    async def find_by_passthrough(self, passthrough: str) -> list[MuxStream]:
        return [s for s in self.streams.values() if s.passthrough == passthrough]
