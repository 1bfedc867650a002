"""``POST /live/{id}/reset-stream-key``. Concurrent calls (a double click, two tabs): whatever
order Mux's resets and our writes interleave in, the key we store and show the owner is the one
Mux accepts last (before the fix, the write of an earlier reset could land after a later one,
leaving a key Mux refuses on the owner's page). An ended stream gets no new key."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field, replace

import pytest

from contracts.stream import CreateLiveStreamRequest
from stream_svc.adapters.memory import FakeMux, MemoryStreams
from stream_svc.deps import Deps
from stream_svc.domain.errors import Conflict
from stream_svc.domain.model import LiveStream
from stream_svc.handlers.streams import (
    create_stream,
    end_stream,
    reset_stream_key,
    start_stream,
)
from stream_svc.ports import MuxStream

from ..helpers import memory_deps


@dataclass
class SlowMux(FakeMux):
    """Mux answering after a random number of event-loop turns."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))

    async def _turns(self) -> None:
        for _ in range(self.rng.randrange(4)):
            await asyncio.sleep(0)

    async def reset_stream_key(self, live_stream_id: str) -> MuxStream:
        await self._turns()
        return await super().reset_stream_key(live_stream_id)

    async def get(self, live_stream_id: str) -> MuxStream:
        await self._turns()
        found = await super().get(live_stream_id)
        await self._turns()
        return found


class SlowStreams(MemoryStreams):
    rng = random.Random(1)

    async def get(self, stream_id: str) -> LiveStream | None:
        found = await super().get(stream_id)
        for _ in range(self.rng.randrange(4)):
            await asyncio.sleep(0)
        return found


async def test_concurrent_resets_leave_the_key_mux_accepts() -> None:
    for trial in range(200):
        deps: Deps = replace(
            memory_deps(), mux=SlowMux(rng=random.Random(trial)), streams=SlowStreams()
        )
        stream, _ = await create_stream("alice", CreateLiveStreamRequest(title="x"), None, deps)
        assert stream.mux_live_stream_id is not None
        await asyncio.gather(*(reset_stream_key(stream.stream_id, "alice", deps) for _ in range(3)))
        stored = await deps.streams.get(stream.stream_id)
        on_mux = await deps.mux.get(stream.mux_live_stream_id)
        assert stored is not None
        assert stored.stream_key == on_mux.stream_key, f"trial {trial}"


async def test_an_ended_stream_gets_no_new_key() -> None:
    """Its Mux live stream is disabled at the end: a new key would be refused by Mux while the
    page tells the streamer to put it in OBS."""
    deps = memory_deps()
    stream, _ = await create_stream("alice", CreateLiveStreamRequest(title="x"), None, deps)
    assert stream.mux_live_stream_id is not None
    await start_stream(stream.stream_id, "alice", deps)
    await end_stream(stream.stream_id, "alice", deps)
    key = (await deps.mux.get(stream.mux_live_stream_id)).stream_key
    with pytest.raises(Conflict, match="ended"):
        await reset_stream_key(stream.stream_id, "alice", deps)
    assert (await deps.mux.get(stream.mux_live_stream_id)).stream_key == key
    stored = await deps.streams.get(stream.stream_id)
    assert stored is not None and stored.stream_key == key
