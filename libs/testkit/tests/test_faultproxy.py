"""The fault proxy really cuts, pauses and restores a TCP path (against a local echo server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from testkit.faultproxy import FaultProxy


@pytest_asyncio.fixture
async def echo_port() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def roundtrip(port: int, payload: bytes = b"ping", timeout: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), timeout)
    finally:
        writer.close()


async def test_forwards_when_no_fault(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        assert await roundtrip(proxy.port) == b"ping"


async def test_cut_drops_open_connections_and_refuses_new_ones_until_restored(
    echo_port: int,
) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"a")
        assert await reader.readexactly(1) == b"a"
        proxy.cut()
        assert await asyncio.wait_for(reader.read(1), 2) == b""  # the open one was dropped
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
            await roundtrip(proxy.port)
        proxy.restore()
        assert await roundtrip(proxy.port) == b"ping"


async def test_pause_holds_bytes_until_restored(echo_port: int) -> None:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        proxy.pause()
        writer.write(b"held")
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readexactly(4), 0.3)
        proxy.restore()
        assert await asyncio.wait_for(reader.readexactly(4), 2) == b"held"
        writer.close()


def test_rewrite_keeps_credentials_and_path() -> None:
    with FaultProxy("127.0.0.1", 5672) as proxy:
        url = proxy.rewrite("amqp://guest:secret@broker.example:5672/vhost")
        assert url == f"amqp://guest:secret@127.0.0.1:{proxy.port}/vhost"
