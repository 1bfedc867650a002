"""chat-gateway's fan-out metrics on ``/metrics``: sockets, frames sent, slow clients dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from chat_gateway.entrypoints.http import create_app
from chat_gateway.hub import Client, Hub
from servicekit.health import Readiness
from testkit.metrics import metric_value, scrape

from .conftest import quiet_hub


@dataclass(eq=False)
class FakeWs:
    closed: int | None = None
    paused: bool = False
    on_pause: Callable[[], None] | None = None

    async def send(self, message: str) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = code


async def metric(name: str) -> float:
    return metric_value(await scrape(create_app(Readiness())), name) or 0.0


@pytest.fixture(autouse=True)
def no_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chat_gateway.hub.broadcast", lambda *_: None)


async def join(hub: Hub, room_id: str = "s") -> tuple[FakeWs, Client]:
    room = await hub.room(room_id)
    ws = FakeWs()
    client = Client(ws, "acct", "c")  # type: ignore[arg-type]
    hub.add(room, client)
    hub.go_live(room, client, 0)
    return ws, client


async def test_sockets_count_joins_and_leaves_once_each() -> None:
    hub = quiet_hub()
    before = await metric("livecast_chat_sockets")
    _, a = await join(hub, "s1")
    _, b = await join(hub, "s2")
    assert await metric("livecast_chat_sockets") == before + 2
    hub.remove(hub.rooms["s1"], a)
    hub.remove(hub.rooms.get("s1") or await hub.room("s1"), a)  # a second remove is a no-op
    assert await metric("livecast_chat_sockets") == before + 1
    hub.remove(hub.rooms["s2"], b)
    assert await metric("livecast_chat_sockets") == before


async def test_frames_sent_counts_one_per_receiving_socket() -> None:
    hub = quiet_hub()
    clients = [await join(hub) for _ in range(3)]
    before = await metric("livecast_chat_frames_sent_total")
    hub.send(hub.rooms["s"], "frame")
    hub.send(hub.rooms["s"], "frame")
    assert await metric("livecast_chat_frames_sent_total") == before + 6
    for _, client in clients:
        hub.remove(hub.rooms["s"], client)


async def test_a_slow_client_dropped_is_counted_and_leaves_the_socket_count() -> None:
    hub = quiet_hub()
    slow_ws, _ = await join(hub)
    _, fast = await join(hub)
    dropped = await metric("livecast_chat_slow_clients_dropped_total")
    sockets = await metric("livecast_chat_sockets")
    slow_ws.paused = True
    assert slow_ws.on_pause is not None
    slow_ws.on_pause()  # the transport passed the write limit
    await asyncio.sleep(0)
    assert await metric("livecast_chat_slow_clients_dropped_total") == dropped + 1
    assert await metric("livecast_chat_sockets") == sockets - 1
    await asyncio.sleep(0)
    hub.remove(hub.rooms["s"], fast)
