"""Presence sessions and the fan-out consumer's metrics on a gateway's ``/metrics``."""

from __future__ import annotations

import uuid

import httpx
import pytest

from testkit.metrics import metric_value
from testkit.wait import eventually

from .conftest import Cluster

pytestmark = pytest.mark.integration


@pytest.fixture
def fast_presence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_PRESENCE_INTERVAL_S", "0.2")


async def scrape(cluster: Cluster, on: int) -> str:
    async with httpx.AsyncClient(base_url=cluster.gateways[on].http_url) as client:
        return (await client.get("/metrics")).text


@pytest.mark.usefixtures("fast_presence")
async def test_presence_sessions_and_bounded_fanout_labels(cluster: Cluster) -> None:
    stream = f"s_{uuid.uuid4().hex[:8]}"
    await cluster.live_stream(stream)
    peers = [await cluster.peer(stream, f"viewer{i}") for i in range(2)]

    async def sessions() -> bool:
        value = metric_value(await scrape(cluster, 0), "livecast_presence_sessions")
        return value is not None and value >= 2

    await eventually(sessions, within=10)
    await peers[0].send(type="chat.send", client_msg_id="m1", **{_text_field(): "hi"})
    await peers[1].wait(lambda p: p.of("chat.message"))
    text = await scrape(cluster, 0)
    handled = metric_value(
        text,
        "livecast_events_consumed_total",
        queue="chat-gateway.fanout",
        outcome="handled",
    )
    assert handled is not None and handled >= 1
    assert "gw-a" not in text and "gw-b" not in text  # no instance ids in label values
    assert stream not in text and "viewer0" not in text  # no stream or account ids
    for peer in peers:
        await peer.close()


def _text_field() -> str:
    from contracts.ws import ChatSend

    return "message" if "message" in ChatSend.model_fields else "text"
