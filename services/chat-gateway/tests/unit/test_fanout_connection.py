"""``FanoutConnection`` on real sockets: asyncio's flow control reaches the hub's callback the
moment a client that does not read has more unsent bytes than the write limit, and only then."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

from chat_gateway.hub import Client, FanoutConnection

from .conftest import quiet_hub

LIMIT = 64 * 1024


async def test_a_client_that_stops_reading_pauses_its_connection_and_a_reader_does_not() -> None:
    paused: list[str] = []
    connections: dict[str, FanoutConnection] = {}
    ready = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        assert isinstance(ws, FanoutConnection)
        name = ws.request.path.strip("/") if ws.request else "?"
        ws.on_pause = lambda: paused.append(name)
        # small kernel buffers, so the bytes a client does not read pile up in the transport
        ws.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        connections[name] = ws
        if len(connections) == 2:
            ready.set()
        await ws.wait_closed()

    async with serve(
        handler,
        "127.0.0.1",
        0,
        create_connection=FanoutConnection,
        write_limit=LIMIT,
        compression=None,  # as the gateway serves: frames are written as they are
        close_timeout=0.5,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        small = socket.socket()
        small.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # before connecting
        small.connect(("127.0.0.1", port))
        async with (
            connect(f"ws://127.0.0.1:{port}/reader", max_queue=None, close_timeout=0.5) as reader,
            connect(f"ws://127.0.0.1:{port}/stuck", sock=small, close_timeout=0.5) as stuck,
        ):
            stuck.transport.pause_reading()  # a client that reads nothing more
            await asyncio.wait_for(ready.wait(), 5)
            frame = "x" * 65536
            received = 0

            async def read_all() -> None:
                nonlocal received
                async for _ in reader:
                    received += 1

            reading = asyncio.create_task(read_all())
            for _ in range(100):  # 6.5 MB: far past the stuck client's buffers and the limit
                broadcast(list(connections.values()), frame)
                await asyncio.sleep(0.002)
                if paused:
                    break
            await asyncio.sleep(0.2)
            assert paused.count("stuck") == 1
            assert "reader" not in paused
            assert connections["stuck"].paused
            assert connections["reader"].transport.get_write_buffer_size() <= LIMIT
            reading.cancel()


async def test_a_client_that_stops_reading_during_its_hello_is_dropped_and_disconnected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hello is written with awaited sends, which wait while the transport is paused; the
    keepalive's ping waits there too, so its timeout never starts. A client that takes nothing
    more while syncing must still be dropped (not hold every frame of the room for as long as
    its TCP connection lives) and disconnected."""
    monkeypatch.setattr("chat_gateway.hub.CLOSE_TIMEOUT_S", 0.5)

    hub = quiet_hub(stalled_sync_s=0.5)
    room = await hub.room("s")
    clients: list[Client] = []
    ended = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:  # as entrypoints/ws.py serves
        ws.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        client = Client(ws, "a", "c1")  # type: ignore[arg-type]
        clients.append(client)
        hub.add(room, client)
        try:
            await ws.send("h" * 900_000)  # a hello with a long replay
            hub.go_live(room, client, 0)
            await ws.wait_closed()
        finally:
            hub.remove(room, client)
            ended.set()

    async with serve(
        handler,
        "127.0.0.1",
        0,
        create_connection=FanoutConnection,
        write_limit=LIMIT,
        compression=None,
        ping_interval=0.2,
        ping_timeout=0.2,
        close_timeout=0.5,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        small = socket.socket()
        small.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        small.connect(("127.0.0.1", port))
        async with connect(
            f"ws://127.0.0.1:{port}/stuck",
            sock=small,
            close_timeout=0.5,
            ping_interval=None,
            max_size=None,
        ) as stuck:
            stuck.transport.pause_reading()  # reads nothing of its hello
            for _ in range(30):  # 3 s of a busy room
                hub.deliver(room, room.last_seq + 1, "m" * 300)
                await asyncio.sleep(0.1)
            (client,) = clients
            assert client not in room.clients, f"still syncing, holding {len(client.pending)}"
            assert hub.dropped_slow == 1
            await asyncio.wait_for(ended.wait(), 5)  # disconnected: the handler ended
