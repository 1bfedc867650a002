"""The encoder lifecycle sends Mux's webhook sequence, signed and retried."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from mux_sim.config import Knobs, SimConfig
from mux_sim.signing import sign, signature_header
from mux_sim.testing import running_simulator

from .conftest import Receiver

SECRET = "whsec-test"


def config(receiver: Receiver, **knobs: object) -> SimConfig:
    base = {"asset_ready_delay_s": 0.05, "reconnect_window_override_s": 0.2, "retry_base_s": 0.05}
    return SimConfig(
        webhook_url=receiver.url, webhook_secret=SECRET, knobs=Knobs.model_validate(base | knobs)
    )


async def start_stream(http: httpx.AsyncClient) -> str:
    r = await http.post(
        "/video/v1/live-streams",
        json={
            "playback_policies": ["public"],
            "passthrough": "ls_x",
            "new_asset_settings": {"playback_policies": ["public"], "passthrough": "ls_x"},
        },
        auth=("sim-token-id", "sim-token-secret"),
    )
    assert r.status_code == 201
    return str(r.json()["data"]["id"])


async def test_connect_disconnect_cycle_sends_muxs_sequence(receiver: Receiver) -> None:
    async with (
        running_simulator(config(receiver)) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as http,
    ):
        ls = await start_stream(http)
        assert (await http.post(f"/_sim/live-streams/{ls}/connect")).json()["data"][
            "status"
        ] == "active"
        await http.post(f"/_sim/live-streams/{ls}/disconnect")
        await sim.simulator.deliverer.settle(5)
        import asyncio

        await asyncio.sleep(0.5)  # reconnect window (0.2 s) + asset ready delay
        assert (await http.post("/_sim/webhooks/settle")).json() == {"settled": True}
    assert receiver.types() == [
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
    ready = receiver.received[-1]
    assert ready["data"]["live_stream_id"] == ls
    assert ready["data"]["passthrough"] == "ls_x"
    assert ready["data"]["status"] == "ready"
    active = receiver.received[3]
    assert active["object"] == {"type": "live_stream", "id": ls}
    assert active["data"]["passthrough"] == "ls_x"
    assert {"type", "id", "created_at", "object", "data"} <= set(active)


async def test_reconnect_within_the_window_does_not_idle(receiver: Receiver) -> None:
    import asyncio

    async with (
        running_simulator(config(receiver, reconnect_window_override_s=0.5)) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as http,
    ):
        ls = await start_stream(http)
        await http.post(f"/_sim/live-streams/{ls}/connect")
        await http.post(f"/_sim/live-streams/{ls}/disconnect")
        await asyncio.sleep(0.1)
        await http.post(f"/_sim/live-streams/{ls}/connect")
        await asyncio.sleep(0.7)
        await sim.simulator.deliverer.settle(5)
    assert "video.live_stream.idle" not in receiver.types()
    assert receiver.types().count("video.asset.created") == 1
    assert receiver.types().count("video.live_stream.active") == 2


async def test_deliveries_are_signed_like_mux(receiver: Receiver) -> None:
    async with (
        running_simulator(config(receiver)) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as http,
    ):
        await start_stream(http)
        await sim.simulator.deliverer.settle(5)
    header = receiver.headers[0]["mux-signature"]
    parts = dict(p.split("=", 1) for p in header.split(","))
    body = receiver.headers[0]["raw-body"].encode()
    expected = hmac.new(
        SECRET.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert parts["v1"] == expected
    assert abs(int(parts["t"]) - time.time()) < 5


async def test_failed_deliveries_are_retried_until_accepted(receiver: Receiver) -> None:
    receiver.fail_next = 2
    async with (
        running_simulator(config(receiver)) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as http,
    ):
        await start_stream(http)
        assert await sim.simulator.deliverer.settle(5)
        log = (await http.get("/_sim/deliveries")).json()["data"]
    assert receiver.types() == ["video.live_stream.created"]
    assert [a["status"] for a in log[0]["attempts"]] == [500, 500, 200]


async def test_duplicate_knob_delivers_the_same_event_id_twice(receiver: Receiver) -> None:
    async with (
        running_simulator(config(receiver, duplicate_rate=1.0)) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as http,
    ):
        await start_stream(http)
        await sim.simulator.deliverer.settle(5)
    ids = [e["id"] for e in receiver.received]
    assert len(ids) == 2
    assert ids[0] == ids[1]


def test_signature_helpers_agree() -> None:
    body = b'{"type":"video.live_stream.active"}'
    header = signature_header("s", body, timestamp=1565220904)
    assert header == f"t=1565220904,v1={sign('s', 1565220904, body)}"
