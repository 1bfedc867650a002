"""``FanoutConnection`` and the hub's ``broadcast()`` on real sockets: asyncio's flow control
reaches the hub's callback the moment a client that does not read has more unsent bytes than the
write limit, and only then; the frame built once is the frame ``websockets`` would have built for
every connection."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.protocol import State
from websockets.server import ServerProtocol

from chat_gateway.hub import Client, FanoutConnection, broadcast

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


def spy_writes(ws: ServerConnection) -> list[int]:
    """The sizes of what is written to the connection's transport from now on."""
    sizes: list[int] = []
    write = ws.transport.write

    def recording(data: bytes) -> None:
        sizes.append(len(data))
        write(data)

    ws.transport.write = recording  # type: ignore[method-assign]
    return sizes


#: payload lengths where a frame's header changes (RFC 6455 §5.2: 7-bit, 16-bit, 64-bit length)
EDGES = [0, 1, 125, 126, 127, 65535, 65536, 70000]


@given(st.text(max_size=300) | st.integers(0, 70_000).map(lambda n: "é" * (n // 2)))
def test_the_frame_built_once_is_the_frame_websockets_builds_for_a_connection(text: str) -> None:
    protocol = ServerProtocol()
    protocol.state = State.OPEN
    protocol.send_text(text.encode())
    (expected,) = protocol.data_to_send()
    written: list[bytes] = []

    class Transport:
        write = staticmethod(written.append)

    class Conn:
        send_in_progress = None

    conn = Conn()
    conn.protocol = protocol  # type: ignore[attr-defined]
    conn.transport = Transport()  # type: ignore[attr-defined]
    broadcast([conn], text)  # type: ignore[list-item]
    assert written == [expected]


async def test_every_client_reads_every_frame_in_order_deflate_or_not_and_a_closing_one_none() -> (
    None
):
    """Frames of every length class, interleaved with awaited sends of ``websockets`` itself:
    a plain client and one that negotiated permessage-deflate read all of them, in order, and
    a connection whose closing handshake has begun gets nothing more and closes cleanly."""
    rng = random.Random(7)
    texts = [rng.choice("aé€😀") * n for n in EDGES] + [str(n) for n in range(200)]
    connections: dict[str, ServerConnection] = {}
    ready = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        connections[ws.request.path.strip("/") if ws.request else "?"] = ws
        if len(connections) == 3:
            ready.set()
        await ws.wait_closed()

    async with serve(
        handler, "127.0.0.1", 0, create_connection=FanoutConnection, compression="deflate"
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        async with (
            connect(f"{url}/plain", compression=None, max_size=None) as plain,
            connect(f"{url}/deflate", max_size=None) as deflate,
            connect(f"{url}/closing", compression=None) as closing,
        ):
            await asyncio.wait_for(ready.wait(), 5)
            assert not connections["plain"].protocol.extensions
            assert connections["deflate"].protocol.extensions
            closer = asyncio.create_task(connections["closing"].close(1000, "bye"))
            await asyncio.sleep(0)  # its close frame is written: CLOSING
            assert connections["closing"].protocol.state is State.CLOSING
            written = {name: spy_writes(ws) for name, ws in connections.items()}
            sent: list[str] = []
            for n, text in enumerate(texts):
                broadcast(list(connections.values()), text)
                sent.append(text)
                if n % 7 == 0:  # a frame of websockets' own between two of ours
                    for name in ("plain", "deflate"):
                        await connections[name].send(f"own {n}")
                    sent.append(f"own {n}")
            for client in (plain, deflate):
                got = [await asyncio.wait_for(client.recv(), 5) for _ in sent]
                assert got == sent
            await closer
            assert written["closing"] == []  # nothing after its close frame (RFC 6455 §5.5.1)
            assert sum(written["deflate"]) < sum(written["plain"]) / 10  # compressed, by websockets
            assert closing.close_code == 1000
            assert closing.protocol.state is State.CLOSED
