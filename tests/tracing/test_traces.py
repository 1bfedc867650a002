"""One trace per request across every service, with an in-memory span exporter.

The services run in this process (as the services' own integration tests run them) over the
real broker and database: webhook-ingest, stream-svc (on the Mux simulator), notifier and two
chat-gateway instances. Tracing is installed with an SDK provider whose exporter keeps spans in
memory; a trace is *unbroken* when it has exactly one root and every other span's parent is a
span of the same trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from websockets.asyncio.client import ClientConnection, connect

from chat_gateway.bootstrap import Gateway
from chat_gateway.bootstrap import running as running_gateway
from chat_gateway.settings import Settings as ChatSettings
from contracts.ws import ChatSend
from mux_sim.config import SimConfig
from mux_sim.signing import signature_header
from mux_sim.testing import RunningSimulator, running_simulator
from notifier.entrypoints.http import create_app as create_notifier_app
from notifier.settings import Settings as NotifierSettings
from servicekit import tracing
from servicekit.auth import mint_token
from servicekit.settings import load_settings
from stream_svc.entrypoints.http import create_app as create_stream_app
from stream_svc.settings import Settings as StreamSettings
from testkit.servers import serve_app
from testkit.wait import eventually
from webhook_ingest.entrypoints.http import create_app as create_ingest_app
from webhook_ingest.settings import Settings as IngestSettings

pytestmark = pytest.mark.integration
SECRET = "whsec-tracing-tests"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)
    provider.shutdown()


@dataclass
class Peer:
    ws: ClientConnection
    frames: list[dict[str, Any]]
    reader: asyncio.Task[None]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]


async def open_peer(gateway: Gateway, stream_id: str, token: str) -> Peer:
    ws = await connect(f"{gateway.ws_url}/ws/live/{stream_id}?token={token}")
    frames: list[dict[str, Any]] = []

    async def read() -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                frames.append(json.loads(raw))

    peer = Peer(ws, frames, asyncio.create_task(read()))
    await eventually(lambda: peer.of("hello"), within=10, interval=0.02)
    return peer


@dataclass
class System:
    ingest: httpx.AsyncClient
    streams: httpx.AsyncClient
    notifier: httpx.AsyncClient
    gateways: list[Gateway]
    jwt_secret: str
    sim: RunningSimulator

    def auth(self, account: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.jwt_secret, account)}"}


@pytest_asyncio.fixture
async def system(
    spans: InMemorySpanExporter,
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    jwt_secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[System]:
    monkeypatch.setenv("MUX_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("OUTBOX_POLL_S", "0.2")
    monkeypatch.setenv("NOTIFIER_FANOUT_POLL_S", "0.2")
    config = SimConfig(webhook_url="http://127.0.0.1:9/unused", webhook_secret=SECRET)
    async with contextlib.AsyncExitStack() as stack:
        sim = await stack.enter_async_context(running_simulator(config))
        monkeypatch.setenv("MUX_API_URL", sim.base_url)
        monkeypatch.setenv("MUX_TOKEN_ID", config.token_id)
        monkeypatch.setenv("MUX_TOKEN_SECRET", config.token_secret)
        urls = [
            await stack.enter_async_context(serve_app(app))
            for app in (
                create_ingest_app(load_settings(IngestSettings)),
                create_stream_app(load_settings(StreamSettings)),
                create_notifier_app(load_settings(NotifierSettings)),
            )
        ]
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=url)) for url in urls]
        base = load_settings(ChatSettings)
        gateways = [
            await stack.enter_async_context(
                running_gateway(
                    base.model_copy(update={"instance_id": name, "ws_port": 0, "http_port": 0})
                )
            )
            for name in ("gw-a", "gw-b")
        ]
        yield System(*clients, gateways, jwt_secret, sim)


def trace_of(spans: Sequence[ReadableSpan], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]


def assert_unbroken(trace: Sequence[ReadableSpan]) -> ReadableSpan:
    """One root, and every other span's parent is in the trace; returns the root."""
    ids = {s.context.span_id for s in trace if s.context is not None}
    roots = [s for s in trace if s.parent is None]
    assert len(roots) == 1, [s.name for s in roots]
    orphans = [s.name for s in trace if s.parent is not None and s.parent.span_id not in ids]
    assert not orphans, orphans
    return roots[0]


def ancestors(span: ReadableSpan, trace: Sequence[ReadableSpan]) -> list[str]:
    by_id = {s.context.span_id: s for s in trace if s.context is not None}
    names: list[str] = []
    current: ReadableSpan | None = span
    while current is not None and current.parent is not None:
        current = by_id.get(current.parent.span_id)
        if current is not None:
            names.append(current.name)
    return names


def consumed_on(trace: Sequence[ReadableSpan], queue_part: str) -> list[ReadableSpan]:
    """Consumer (process) spans of the queues whose name contains ``queue_part``."""
    return [
        s
        for s in trace
        if s.kind is SpanKind.CONSUMER
        and queue_part in str((s.attributes or {}).get("messaging.destination.subscription.name"))
    ]


def mux_active(mux_id: str, stream_id: str) -> bytes:
    return json.dumps(
        {
            "type": "video.live_stream.active",
            "id": f"evt-{uuid.uuid4().hex}",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "object": {"type": "live_stream", "id": mux_id},
            "data": {"id": mux_id, "passthrough": stream_id, "status": "active"},
        }
    ).encode()


async def test_a_mux_active_webhook_is_one_trace_to_the_campaign_and_the_chat_frame(
    system: System, spans: InMemorySpanExporter
) -> None:
    created = await system.streams.post("/live", json={"title": "t"}, headers=system.auth("al"))
    assert created.status_code == 201, created.text
    stream_id = created.json()["stream_id"]
    follow = await system.notifier.put("/users/al/follow", headers=system.auth("bo"))
    assert follow.status_code == 200, follow.text
    peer = await eventually(
        lambda: _try_peer(system.gateways[0], stream_id, mint_token(system.jwt_secret, "cy")),
        within=10,
    )
    (mux_id,) = [
        m for m, s in system.sim.simulator.env.streams.items() if s.passthrough == stream_id
    ]
    spans.clear()

    body = mux_active(mux_id, stream_id)
    headers = {"Mux-Signature": signature_header(SECRET, body), "Content-Type": "application/json"}
    assert (await system.ingest.post("/webhooks/mux", content=body, headers=headers)).is_success
    await eventually(
        lambda: [f for f in peer.of("stream_status") if f["status"] == "active"], within=10
    )
    (webhook,) = [s for s in spans.get_finished_spans() if s.name == "POST /webhooks/mux"]
    assert webhook.context is not None
    tid = webhook.context.trace_id

    def complete() -> list[ReadableSpan] | None:
        trace = trace_of(spans.get_finished_spans(), tid)
        names = {s.name for s in trace}
        wanted = {"notifier golive campaign", "chat room send", "outbox relay"}
        ok = wanted <= names and all(
            consumed_on(trace, q) for q in ("stream-svc", "notifier", "chat-gateway")
        )
        return trace if ok else None

    trace = await eventually(complete, within=15)
    assert assert_unbroken(trace) is webhook
    (campaign,) = [s for s in trace if s.name == "notifier golive campaign"]
    frames = [s for s in trace if s.name == "chat room send"]
    for span in [campaign, *frames]:
        assert "POST /webhooks/mux" in ancestors(span, trace)
        assert any(name.endswith(" process") for name in ancestors(span, trace))
    assert any(s.name.endswith(".insert") or ".insert" in s.name for s in trace)  # MongoDB
    await peer.ws.close()


async def test_a_chat_message_posted_on_one_gateway_is_one_trace_to_the_other(
    system: System, spans: InMemorySpanExporter
) -> None:
    created = await system.streams.post("/live", json={"title": "t"}, headers=system.auth("al"))
    stream_id = created.json()["stream_id"]
    gw_a, gw_b = system.gateways
    poster = await eventually(
        lambda: _try_peer(gw_a, stream_id, mint_token(system.jwt_secret, "po")), within=10
    )
    reader = await open_peer(gw_b, stream_id, mint_token(system.jwt_secret, "re"))
    spans.clear()

    field = "message" if "message" in ChatSend.model_fields else "text"
    frame = ChatSend.model_validate({"client_msg_id": "m1", field: "hello across"})
    await poster.ws.send(frame.model_dump_json())
    await eventually(lambda: reader.of("chat.message"), within=10)

    def complete() -> tuple[ReadableSpan, list[ReadableSpan]] | None:
        finished = spans.get_finished_spans()
        received = [s for s in finished if s.name == "WS /ws/live receive"]
        if len(received) != 1 or received[0].context is None:
            return None
        trace = trace_of(finished, received[0].context.trace_id)
        on_b = consumed_on(trace, "gw-b")
        if not on_b or not [s for s in trace if s.name == "chat room send"]:
            return None
        return received[0], trace

    received, trace = await eventually(complete, within=15)
    assert assert_unbroken(trace) is received
    assert (received.attributes or {}).get("livecast.stream_id") == stream_id
    (process_b,) = consumed_on(trace, "gw-b")
    assert process_b.context is not None
    sends_b = [
        s
        for s in trace
        if s.name == "chat room send"
        and s.parent is not None
        and s.parent.span_id == process_b.context.span_id
    ]
    assert sends_b, "the frame sent on gateway b belongs to the trace of the post on gateway a"
    assert "WS /ws/live receive" in ancestors(sends_b[0], trace)
    await poster.ws.close()
    await reader.ws.close()


async def _try_peer(gateway: Gateway, stream_id: str, token: str) -> Peer | None:
    """A peer once the gateway knows the stream (``None`` before)."""
    async with httpx.AsyncClient(base_url=gateway.http_url) as http:
        known = await http.get(
            f"/live/{stream_id}/chats", headers={"Authorization": f"Bearer {token}"}
        )
    return await open_peer(gateway, stream_id, token) if known.status_code == 200 else None
