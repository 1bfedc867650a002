"""The state machine converges whatever the order and count of Mux's webhooks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.common import StreamStatus
from contracts.stream import CreateLiveStreamRequest
from contracts.webhook import MuxWebhookReceived
from stream_svc.adapters.memory import MemoryStreams
from stream_svc.domain.lifecycle import Facts, passed_through
from stream_svc.handlers.events import apply_mux_event
from stream_svc.handlers.streams import create_stream

from ..helpers import T0, memory_deps, mux_event


def broadcast(stream_id: str, drops: int, deleted: bool) -> list[MuxWebhookReceived]:
    """What Mux sends for one broadcast with ``drops`` brief disconnects, in true order."""
    t = 10.0
    events = [
        mux_event("video.live_stream.created", stream_id, 0),
        mux_event("video.live_stream.connected", stream_id, t),
        mux_event("video.live_stream.active", stream_id, t),
    ]
    for _ in range(drops):
        t += 30
        events.append(mux_event("video.live_stream.disconnected", stream_id, t))
        t += 5
        events += [
            mux_event("video.live_stream.connected", stream_id, t),
            mux_event("video.live_stream.active", stream_id, t),
        ]
    t += 60
    events.append(mux_event("video.live_stream.disconnected", stream_id, t))
    t += 60
    events.append(mux_event("video.live_stream.idle", stream_id, t))
    events.append(
        mux_event(
            "video.asset.ready",
            stream_id,
            t + 5,
            id="asset1",
            created_at="100",
            duration=t - 10,
            playback_ids=[{"id": "pb-archive", "policy": "public"}],
        )
    )
    if deleted:
        events.append(mux_event("video.live_stream.deleted", stream_id, t + 100))
    return events


async def run(events: list[MuxWebhookReceived]) -> tuple[object, list[str]]:
    deps = memory_deps()
    stream, _ = await create_stream("owner", CreateLiveStreamRequest(title="t"), None, deps)
    for event in events:
        await apply_mux_event(event.model_copy(update={"stream_id": stream.stream_id}), deps)
    assert isinstance(deps.streams, MemoryStreams)
    final = await deps.streams.get(stream.stream_id)
    assert final is not None
    state = (
        final.status,
        final.facts.started_at,
        final.facts.ended_at,
        final.archive_asset_id,
        final.archive_playback_id,
        final.archive_duration_s,
    )
    return state, deps.streams.events()


async def test_a_broadcast_in_order_goes_idle_active_ended_with_an_archive() -> None:
    (status, started, ended, asset, playback, _), events = await run(
        broadcast("s", drops=1, deleted=False)
    )
    assert status == StreamStatus.ENDED
    assert started == T0 + timedelta(seconds=10)
    assert ended is not None and ended > started
    assert (asset, playback) == ("asset1", "pb-archive")
    assert events == ["stream.created", "stream.started", "stream.ended", "stream.archive_ready"]


async def test_a_brief_disconnect_does_not_end_the_stream() -> None:
    events = broadcast("s", drops=0, deleted=False)[:4]  # created, connected, active, disconnected
    (status, *_), announced = await run(events)
    assert status == StreamStatus.ACTIVE
    assert announced == ["stream.created", "stream.started"]


@settings(max_examples=60, deadline=None)
@given(
    drops=st.integers(min_value=0, max_value=2),
    deleted=st.booleans(),
    data=st.data(),
)
async def test_any_order_and_any_repeats_give_the_same_final_state(
    drops: int, deleted: bool, data: st.DataObject
) -> None:
    truth = broadcast("s", drops, deleted)
    expected, _ = await run(truth)
    repeated = data.draw(st.lists(st.sampled_from(truth), max_size=len(truth) * 2))
    shuffled = data.draw(st.permutations(truth + repeated))
    got, announced = await run(list(shuffled))
    assert got == expected
    for event_type in ("stream.started", "stream.ended", "stream.deleted", "stream.archive_ready"):
        assert announced.count(event_type) <= 1, announced


@pytest.mark.parametrize(
    ("before", "after", "announced"),
    [
        (StreamStatus.IDLE, StreamStatus.ENDED, [StreamStatus.ACTIVE, StreamStatus.ENDED]),
        (StreamStatus.ACTIVE, StreamStatus.DELETED, [StreamStatus.DELETED]),
        (StreamStatus.ENDED, StreamStatus.ACTIVE, []),
    ],
)
def test_statuses_passed_through_are_announced(
    before: StreamStatus, after: StreamStatus, announced: list[StreamStatus]
) -> None:
    assert passed_through(before, after) == announced


def test_idle_before_any_active_does_not_end() -> None:
    assert Facts(mux_idle_at=T0).status == StreamStatus.IDLE
    assert (
        Facts(mux_idle_at=T0, mux_active_at=T0 + timedelta(seconds=1)).status == StreamStatus.ACTIVE
    )
