"""Creating a stream: idempotent, and never half-created or orphaned on Mux."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.stream import CreateLiveStreamRequest
from stream_svc.adapters.memory import FakeMux, MemoryStreams
from stream_svc.domain.errors import MuxUnavailable, Unavailable
from stream_svc.domain.model import LiveStream
from stream_svc.handlers.streams import create_stream, sweep_failed_creations

from ..helpers import T0, memory_deps

REQ = CreateLiveStreamRequest(title="Friday speedrun")


def parts(deps: object) -> tuple[MemoryStreams, FakeMux]:
    streams, mux = deps.streams, deps.mux  # type: ignore[attr-defined]
    assert isinstance(streams, MemoryStreams)
    assert isinstance(mux, FakeMux)
    return streams, mux


class TestCreateStream:
    async def test_creates_on_mux_with_our_id_as_passthrough_and_announces_it(self) -> None:
        deps = memory_deps()
        streams, mux = parts(deps)
        stream, replayed = await create_stream("alice", REQ, None, deps)
        assert not replayed
        assert stream.stream_id.startswith("ls_")
        (on_mux,) = mux.streams.values()
        assert on_mux.passthrough == stream.stream_id
        assert stream.stream_key == on_mux.stream_key
        assert streams.events() == ["stream.created"]
        assert mux.settings_seen == [(60.0, "standard")]

    async def test_a_retry_with_the_same_idempotency_key_returns_the_same_stream(self) -> None:
        deps = memory_deps()
        streams, mux = parts(deps)
        first, _ = await create_stream("alice", REQ, "key-1", deps)
        again, replayed = await create_stream("alice", REQ, "key-1", deps)
        assert replayed
        assert again.stream_id == first.stream_id
        assert len(mux.streams) == 1
        assert streams.events() == ["stream.created"]
        other, _ = await create_stream("bob", REQ, "key-1", deps)  # keys are per account
        assert other.stream_id != first.stream_id

    async def test_mux_failing_leaves_nothing_and_frees_the_key(self) -> None:
        deps = memory_deps()
        streams, mux = parts(deps)
        mux.fail_next = 1
        with pytest.raises(MuxUnavailable):
            await create_stream("alice", REQ, "key-1", deps)
        assert streams.docs == {}
        assert streams.requests == {}
        stream, replayed = await create_stream("alice", REQ, "key-1", deps)
        assert not replayed
        assert stream.ready

    async def test_our_write_failing_deletes_the_mux_stream_again(self) -> None:
        deps = memory_deps()
        streams, mux = parts(deps)
        streams.fail_finish = True
        with pytest.raises(Unavailable):
            await create_stream("alice", REQ, None, deps)
        assert mux.streams == {}
        assert streams.docs == {}
        assert streams.events() == []


async def test_the_sweeper_removes_stale_reservations_and_their_mux_streams() -> None:
    deps = memory_deps()
    streams, mux = parts(deps)
    stuck = LiveStream(
        stream_id="ls_stuck", owner_id="a", title="t", created_at=T0 - timedelta(hours=1)
    )
    await streams.reserve(stuck)
    await mux.create(passthrough="ls_stuck", reconnect_window=60, latency_mode="standard")
    fresh = LiveStream(stream_id="ls_fresh", owner_id="a", title="t", created_at=T0)
    await streams.reserve(fresh)
    assert await sweep_failed_creations(deps) == 1
    assert list(streams.docs) == ["ls_fresh"]
    assert mux.streams == {}
