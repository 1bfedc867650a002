"""Two real gateway instances on the real broker and database, and client helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chat_gateway.bootstrap import Gateway, running
from chat_gateway.settings import Settings
from contracts import Event, make_envelope
from contracts.routing import Names
from contracts.stream import StreamCreated, StreamStarted
from servicekit.auth import mint_token
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker
from servicekit.settings import load_settings
from testkit.infra import InfraUrls
from testkit.wait import eventually


@dataclass
class Peer:
    """A connected client that records every frame it receives."""

    ws: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def closed_code(self) -> int | None:
        return self.ws.close_code

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    def seqs(self) -> list[int]:
        hello = self.of("hello")
        replayed = [m["seq"] for m in hello[0]["messages"]] if hello else []
        return replayed + [f["seq"] for f in self.of("chat.message")]

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def wait(self, predicate: Callable[[Peer], Any], within: float = 10.0) -> Any:
        return await eventually(lambda: predicate(self), within=within, interval=0.02)

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            await self.reader


@dataclass
class Cluster:
    gateways: list[Gateway]
    bus: RabbitEventPublisher
    secret: str

    def token(self, account: str) -> str:
        return mint_token(self.secret, account)

    async def publish(self, payload: Event) -> None:
        await self.bus.publish(make_envelope(payload, producer="test"))

    async def peer(
        self,
        stream_id: str,
        account: str,
        *,
        on: int = 0,
        query: str = "",
        headers: list[tuple[str, str]] | None = None,
    ) -> Peer:
        url = f"{self.gateways[on].ws_url}/ws/live/{stream_id}?token={self.token(account)}{query}"
        ws = await connect(url, max_size=None, additional_headers=headers)
        peer = Peer(ws)

        async def read() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    peer.frames.append(json.loads(raw))

        peer.reader = asyncio.create_task(read())
        await peer.wait(lambda p: p.of("hello") or p.closed_code)
        return peer

    def http(self, on: int = 0, account: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(account)}"} if account else {}
        return httpx.AsyncClient(base_url=self.gateways[on].http_url, headers=headers)

    async def live_stream(self, stream_id: str, owner: str = "owner") -> None:
        now = datetime.now(UTC)
        await self.publish(
            StreamCreated(
                stream_id=stream_id,
                owner_id=owner,
                title="t",
                playback_url="https://p",
                created_at=now,
            )
        )
        await self.publish(
            StreamStarted(
                stream_id=stream_id,
                owner_id=owner,
                title="t",
                playback_url="https://p",
                started_at=now,
            )
        )

        async def known() -> bool:
            async with self.http(account="probe") as client:
                return (await client.get(f"/live/{stream_id}/chats")).status_code == 200

        await eventually(known, within=10)


@contextlib.asynccontextmanager
async def _cluster(infra: InfraUrls, namespace: str, jwt_secret: str) -> AsyncIterator[Cluster]:
    base = load_settings(Settings)
    broker = make_broker(infra.amqp, app_id="test-bus")
    await broker.connect()
    await declare_topology(broker, Names(namespace), [], delivery_limit=5)
    bus = RabbitEventPublisher(broker, Names(namespace))
    async with contextlib.AsyncExitStack() as stack:
        gateways = []
        for name in ("gw-a", "gw-b"):
            settings = base.model_copy(update={"instance_id": name, "ws_port": 0, "http_port": 0})
            gateways.append(await stack.enter_async_context(running(settings)))
        yield Cluster(gateways, bus, jwt_secret)
    await broker.stop()


@pytest_asyncio.fixture
async def cluster(
    infra: InfraUrls,
    namespace: str,
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    jwt_secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cluster]:
    """Two instances with a generous rate budget (20 messages, 20/s)."""
    monkeypatch.setenv("OUTBOX_POLL_S", "0.2")
    monkeypatch.setenv("CHAT_RATE_BURST", "20")
    monkeypatch.setenv("CHAT_RATE_PER_S", "20")
    async with _cluster(infra, namespace, jwt_secret) as running_cluster:
        yield running_cluster


@pytest_asyncio.fixture
async def strict_cluster(
    infra: InfraUrls,
    namespace: str,
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    jwt_secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cluster]:
    """Two instances with a budget of 6 messages refilled at one per 10 s: what passes does
    not depend on how fast the machine posts."""
    monkeypatch.setenv("OUTBOX_POLL_S", "0.2")
    monkeypatch.setenv("CHAT_RATE_BURST", "6")
    monkeypatch.setenv("CHAT_RATE_PER_S", "0.1")
    async with _cluster(infra, namespace, jwt_secret) as running_cluster:
        yield running_cluster
