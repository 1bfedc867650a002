"""Chat rooms and stream-svc's lifecycle (issue 16, sections 1, 4 and 6): a title change reaches
every open socket on every instance, newest change only; a resume position in Unicode digits is
ignored, not a crash."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from contracts.stream import StreamUpdated

from .conftest import Cluster

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def updated(stream_id: str, title: str, at_s: float, version: int = 0) -> StreamUpdated:
    return StreamUpdated(
        stream_id=stream_id,
        owner_id="owner",
        title=title,
        thumbnail_url="https://image.example/pb/thumbnail.jpg",
        updated_at=T0 + timedelta(seconds=at_s),
        version=version,
    )


async def test_a_title_change_reaches_open_sockets_on_every_instance_newest_only(
    cluster: Cluster,
) -> None:
    await cluster.live_stream("su1")
    peers = [await cluster.peer("su1", f"v{i}", on=i % 2) for i in range(2)]
    await cluster.publish(updated("su1", "Second", 2))
    for peer in peers:
        await peer.wait(lambda p: len(p.of("stream_updated")) >= 1)
    # An older change arriving late, then a newer one: the gateway consumes concurrently, so
    # only what was shown before the late change is ordered; "Third" marks that "First" was
    # handled (and dropped) by the time every socket has seen it.
    await cluster.publish(updated("su1", "First", 1))
    await asyncio.sleep(0.3)
    await cluster.publish(updated("su1", "Third", 3))
    for peer in peers:
        await peer.wait(lambda p: len(p.of("stream_updated")) >= 2)
    await asyncio.sleep(0.3)
    for peer in peers:
        frames = peer.of("stream_updated")
        assert [f["title"] for f in frames] == ["Second", "Third"]
        assert frames[0]["thumbnail_url"] == "https://image.example/pb/thumbnail.jpg"


async def test_the_stream_version_orders_changes_whatever_the_writers_clocks_say(
    cluster: Cluster,
) -> None:
    """Two stream-svc replicas with skewed clocks: version 3 stamped earlier than version 2 is
    still the newer change; version 2 arriving after it is dropped."""
    await cluster.live_stream("su3")
    peer = await cluster.peer("su3", "v0", on=1)
    await cluster.publish(updated("su3", "Three", 1, version=3))
    await peer.wait(lambda p: len(p.of("stream_updated")) >= 1)
    await cluster.publish(updated("su3", "Two", 9, version=2))
    await asyncio.sleep(0.3)
    await cluster.publish(updated("su3", "Four", 2, version=4))
    await peer.wait(lambda p: len(p.of("stream_updated")) >= 2)
    await asyncio.sleep(0.3)
    assert [f["title"] for f in peer.of("stream_updated")] == ["Three", "Four"]


@pytest.mark.parametrize("last_seq", ["²", "١٢", "-1", "9" * 40])
async def test_a_resume_position_that_is_not_ascii_digits_is_ignored(
    cluster: Cluster, last_seq: str
) -> None:
    await cluster.live_stream("su2")
    peer = await cluster.peer("su2", "reader", query=f"&last_seq={last_seq}")
    assert peer.of("hello"), peer.frames
