"""Mux simulator -> webhook-ingest over HTTP -> the real broker, and broker outages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contracts import Envelope
from contracts.routing import Names
from contracts.webhook import MuxWebhookReceived
from mux_sim.config import Knobs, SimConfig
from mux_sim.signing import signature_header
from mux_sim.testing import running_simulator
from servicekit.broker import declare_topology, make_broker
from servicekit.consumer import EventDispatcher, attach_consumer
from servicekit.settings import load_settings
from testkit.infra import InfraUrls
from testkit.servers import serve_app
from testkit.wait import eventually
from webhook_ingest.entrypoints.http import create_app
from webhook_ingest.settings import Settings

pytestmark = pytest.mark.integration
SECRET = "whsec-integration"


class Watcher:
    def __init__(self) -> None:
        self.got: list[Envelope[Any]] = []

    def types(self) -> list[str]:
        return [e.payload.type for e in self.got]


@pytest_asyncio.fixture
async def watcher(infra: InfraUrls, namespace: str) -> AsyncIterator[Watcher]:
    """A consumer bound to every Mux event on this test's mux.webhooks exchange."""
    names = Names(namespace)
    watcher = Watcher()
    broker = make_broker(infra.amqp, app_id="watcher")
    events = EventDispatcher()

    @events.on_mux("video.#")
    async def record(env: Envelope[Any]) -> None:
        watcher.got.append(env)

    spec = attach_consumer(broker, names.queue("kit-test"), events, consumer="watcher")
    await broker.connect()
    await declare_topology(broker, names, [spec], delivery_limit=5)
    await broker.start()
    yield watcher
    await broker.stop()


@pytest.fixture
def settings(
    service_env: dict[str, str], drop_namespace_dbs: None, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("MUX_WEBHOOK_SECRET", f"retired-secret,{SECRET}")
    monkeypatch.setenv("OUTBOX_POLL_S", "0.2")
    return load_settings(Settings)


async def test_encoder_cycle_reaches_the_broker_in_muxs_sequence(
    settings: Settings, watcher: Watcher
) -> None:
    async with serve_app(create_app(settings)) as ingest:
        knobs = Knobs(reconnect_window_override_s=0.1, asset_ready_delay_s=0.05, retry_base_s=0.1)
        config = SimConfig(webhook_url=f"{ingest}/webhooks/mux", webhook_secret=SECRET, knobs=knobs)
        async with (
            running_simulator(config) as sim,
            httpx.AsyncClient(base_url=sim.base_url) as http,
        ):
            stream = sim.simulator.env.create(
                {
                    "playback_policies": ["public"],
                    "passthrough": "ls_cycle",
                    "new_asset_settings": {
                        "playback_policies": ["public"],
                        "passthrough": "ls_cycle",
                    },
                }
            )
            await http.post(f"/_sim/live-streams/{stream.id}/connect")
            await http.post(f"/_sim/live-streams/{stream.id}/disconnect")
            await eventually(lambda: "video.asset.ready" in watcher.types(), within=15)
            assert await sim.simulator.deliverer.settle(5)
    # Mux (and the simulator, delivering 4 at a time) does not guarantee order: the set of
    # events, each exactly once, is what must arrive
    assert sorted(watcher.types()) == sorted(
        [
            "video.live_stream.created",
            "video.live_stream.connected",
            "video.live_stream.recording",
            "video.live_stream.active",
            "video.asset.created",
            "video.live_stream.disconnected",
            "video.live_stream.idle",
            "video.asset.live_stream_completed",
            "video.asset.ready",
        ]
    )
    for env in watcher.got:
        assert isinstance(env.payload, MuxWebhookReceived)
        assert env.payload.stream_id == "ls_cycle"
        assert "stream_key" not in env.payload.data
    ready = next(e for e in watcher.got if e.payload.type == "video.asset.ready")
    assert ready.payload.live_stream_id == stream.id


async def test_a_burst_during_a_broker_cut_loses_nothing_and_publishes_each_id_once(
    infra: InfraUrls,
    settings: Settings,
    watcher: Watcher,
    fault_proxy: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, proxied = fault_proxy(infra.amqp)
    settings = settings.model_copy(update={"rabbitmq_url": proxied})
    bodies = [
        json.dumps(
            {
                "type": "video.live_stream.active",
                "id": f"burst-{i}",
                "created_at": "2026-11-24T12:00:00Z",
                "object": {"type": "live_stream", "id": "L"},
                "data": {"id": "L", "passthrough": f"ls_{i}"},
            }
        ).encode()
        for i in range(60)
    ]
    async with (
        serve_app(create_app(settings)) as ingest,
        httpx.AsyncClient(base_url=ingest) as http,
    ):

        async def post(body: bytes) -> tuple[int, bool]:
            r = await http.post(
                "/webhooks/mux",
                content=body,
                headers={"Mux-Signature": signature_header(SECRET, body)},
            )
            return r.status_code, bool(r.json()["duplicate"])

        first = await asyncio.gather(*(post(b) for b in bodies[:20]))
        proxy.cut()
        during = await asyncio.gather(*(post(b) for b in bodies[20:]))
        repeats = await asyncio.gather(*(post(b) for b in bodies[:30]))  # 30 repeats while cut
        assert {status for status, _ in first + during + repeats} == {200}
        assert not any(dup for _, dup in first + during)
        assert all(dup for _, dup in repeats), "a repeated Mux event id was accepted again"
        await asyncio.sleep(1.0)
        proxy.restore()
        await eventually(lambda: len({e.event_id for e in watcher.got}) >= 60, within=30)
        await asyncio.sleep(0.5)
    ids = [e.payload.mux_event_id for e in watcher.got]
    assert sorted(set(ids)) == sorted(f"burst-{i}" for i in range(60)), "an accepted event was lost"
    # the 30 repeats were not published again; a publish in flight when the connection was cut
    # may be sent twice (at least once), with the same event id, which consumers dedupe
    assert len(ids) - 60 <= 3
    assert len({e.event_id for e in watcher.got}) == 60


async def test_replay_publishes_stored_events_again_with_the_same_ids(
    settings: Settings, watcher: Watcher
) -> None:
    from webhook_ingest import replay

    body = json.dumps(
        {
            "type": "video.live_stream.idle",
            "id": "replay-me",
            "created_at": "2026-11-24T12:00:00Z",
            "object": {"type": "live_stream", "id": "L"},
            "data": {"id": "L", "passthrough": "ls_r"},
        }
    ).encode()
    async with (
        serve_app(create_app(settings)) as ingest,
        httpx.AsyncClient(base_url=ingest) as http,
    ):
        r = await http.post(
            "/webhooks/mux", content=body, headers={"Mux-Signature": signature_header(SECRET, body)}
        )
        assert r.status_code == 200
        await eventually(lambda: len(watcher.got) == 1, within=10)
    count = await replay.replay(settings, replay.parse_args(["--id", "replay-me"]))
    assert count == 1
    await eventually(lambda: len(watcher.got) == 2, within=10)
    assert watcher.got[0].event_id == watcher.got[1].event_id
