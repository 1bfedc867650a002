"""Whichever end signal arrives ends a started stream; events reach their stream without a
passthrough; the reconciliation applies what Mux reports (issue 16, sections 2 and 3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.common import StreamStatus
from contracts.stream import CreateLiveStreamRequest
from contracts.webhook import MuxWebhookReceived
from stream_svc.adapters.memory import FakeMux, MemoryStreams
from stream_svc.deps import Deps
from stream_svc.domain.lifecycle import END_SIGNALS
from stream_svc.domain.model import LiveStream
from stream_svc.handlers.events import apply_mux_event
from stream_svc.handlers.reconcile import reconcile_quiet_streams
from stream_svc.handlers.streams import create_stream, start_stream

from ..helpers import T0, memory_deps


def event(
    event_type: str, at_s: float, *, live_stream_id: str, stream_id: str | None
) -> MuxWebhookReceived:
    return MuxWebhookReceived(
        mux_event_id=f"{event_type}@{at_s}",
        type=event_type,
        created_at=T0 + timedelta(seconds=at_s),
        stream_id=stream_id,
        live_stream_id=live_stream_id,
        data={"id": live_stream_id},
    )


async def new_stream(deps: Deps) -> LiveStream:
    stream, _ = await create_stream("owner", CreateLiveStreamRequest(title="t"), None, deps)
    return stream


async def status(deps: Deps, stream_id: str) -> StreamStatus:
    found = await deps.streams.get(stream_id)
    assert found is not None
    return found.status


@settings(max_examples=60, deadline=None)
@given(
    signals=st.lists(st.sampled_from(sorted(END_SIGNALS)), min_size=1, max_size=3, unique=True),
    with_passthrough=st.booleans(),
    data=st.data(),
)
async def test_any_end_signal_in_any_order_ends_a_started_stream_once(
    signals: list[str], with_passthrough: bool, data: st.DataObject
) -> None:
    deps = memory_deps()
    stream = await new_stream(deps)
    ls, sid = stream.mux_live_stream_id or "", stream.stream_id if with_passthrough else None
    events = [event("video.live_stream.active", 10, live_stream_id=ls, stream_id=sid)]
    events += [event(s, 100 + i, live_stream_id=ls, stream_id=sid) for i, s in enumerate(signals)]
    for e in data.draw(st.permutations(events)):
        await apply_mux_event(e, deps)
    assert await status(deps, stream.stream_id) == StreamStatus.ENDED
    assert isinstance(deps.streams, MemoryStreams)
    assert deps.streams.events().count("stream.ended") == 1
    # it ended at the first end signal, not at whichever came last (our own disable makes Mux
    # send ``disabled`` later, the recording completes later still)
    ended = await deps.streams.get(stream.stream_id)
    assert ended is not None and ended.facts.ended_at == T0 + timedelta(seconds=100)


async def test_a_disabled_stream_that_never_went_live_stays_idle() -> None:
    deps = memory_deps()
    stream = await new_stream(deps)
    ls = stream.mux_live_stream_id or ""
    await apply_mux_event(
        event("video.live_stream.disabled", 5, live_stream_id=ls, stream_id=None), deps
    )
    assert await status(deps, stream.stream_id) == StreamStatus.IDLE


async def test_events_of_unknown_live_streams_change_nothing() -> None:
    deps = memory_deps()
    stream = await new_stream(deps)
    before = await deps.streams.get(stream.stream_id)
    for sid in (None, "ls_unknown"):
        await apply_mux_event(
            event("video.live_stream.active", 5, live_stream_id="other-app", stream_id=sid), deps
        )
    assert await deps.streams.get(stream.stream_id) == before


async def live(deps: Deps) -> LiveStream:
    stream = await new_stream(deps)
    ls = stream.mux_live_stream_id or ""
    await apply_mux_event(
        event("video.live_stream.active", 0, live_stream_id=ls, stream_id=None), deps
    )
    return stream


class TestReconcile:
    async def test_mux_idle_ends_a_quiet_stream(self) -> None:
        deps = memory_deps(now=T0 + timedelta(minutes=20))
        stream = await live(deps)
        quiet_neighbour = await live(deps)
        assert isinstance(deps.mux, FakeMux)
        deps.mux.streams[stream.mux_live_stream_id or ""] = replace(
            deps.mux.streams[stream.mux_live_stream_id or ""], status="idle"
        )
        deps.mux.streams[quiet_neighbour.mux_live_stream_id or ""] = replace(
            deps.mux.streams[quiet_neighbour.mux_live_stream_id or ""], status="active"
        )
        assert await reconcile_quiet_streams(deps, after_s=600) == 1
        assert await status(deps, stream.stream_id) == StreamStatus.ENDED
        assert await status(deps, quiet_neighbour.stream_id) == StreamStatus.ACTIVE
        # the neighbour counted as heard from: not asked again before another quiet period
        assert await reconcile_quiet_streams(deps, after_s=600) == 0

    async def test_a_live_stream_gone_from_mux_is_ended_never_deleted(self) -> None:
        # a 404 is also what credentials for another Mux environment get: deleting on it would
        # wipe every quiet live stream (and its archive) in one pass
        deps = memory_deps(now=T0 + timedelta(minutes=20))
        stream = await live(deps)
        assert isinstance(deps.mux, FakeMux)
        del deps.mux.streams[stream.mux_live_stream_id or ""]
        assert await reconcile_quiet_streams(deps, after_s=600) == 1
        found = await deps.streams.get(stream.stream_id)
        assert found is not None
        assert found.status == StreamStatus.ENDED

    async def test_recent_reports_and_owner_only_starts_are_not_asked(self) -> None:
        deps = memory_deps(now=T0 + timedelta(minutes=5))
        stream = await live(deps)  # heard from Mux 5 minutes ago
        owner_only = await new_stream(deps)
        await start_stream(owner_only.stream_id, "owner", deps)
        assert isinstance(deps.mux, FakeMux)
        deps.mux.fail_next = 1  # any call to Mux would raise
        assert await reconcile_quiet_streams(deps, after_s=600) == 0
        assert await status(deps, stream.stream_id) == StreamStatus.ACTIVE
        assert await status(deps, owner_only.stream_id) == StreamStatus.ACTIVE
        assert deps.mux.fail_next == 1
