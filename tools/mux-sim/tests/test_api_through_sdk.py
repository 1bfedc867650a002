"""Every Video API call livecast makes, through the real mux-python SDK."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import mux_python
import pytest
import pytest_asyncio
from mux_python.exceptions import ApiException, NotFoundException, UnauthorizedException

from mux_sim.config import SimConfig
from mux_sim.testing import RunningSimulator, running_simulator

T = TypeVar("T")


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(SimConfig()) as running:
        yield running


def api(sim: RunningSimulator) -> mux_python.LiveStreamsApi:
    return mux_python.LiveStreamsApi(mux_python.ApiClient(sim.mux_configuration()))


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # the SDK is synchronous and the simulator runs on this loop: call it from a thread
    return await asyncio.to_thread(fn, *args, **kwargs)


def create_request(passthrough: str = "ls_1") -> mux_python.CreateLiveStreamRequest:
    return mux_python.CreateLiveStreamRequest(
        playback_policies=[mux_python.PlaybackPolicy.PUBLIC],
        new_asset_settings=mux_python.CreateAssetRequest(
            playback_policies=[mux_python.PlaybackPolicy.PUBLIC], passthrough=passthrough
        ),
        passthrough=passthrough,
        reconnect_window=30,
        latency_mode="standard",
    )


async def test_create_returns_mux_shape(sim: RunningSimulator) -> None:
    created = (await call(api(sim).create_live_stream, create_request("ls_abc"))).data
    assert created.status == "idle"
    assert created.passthrough == "ls_abc"
    assert created.reconnect_window == 30
    assert created.latency_mode == "standard"
    assert created.stream_key and len(created.id) == 43
    assert created.playback_ids[0].policy == "public"
    assert created.new_asset_settings.passthrough == "ls_abc"
    assert int(created.created_at) > 0


async def test_get_list_complete_disable_enable_reset_delete(sim: RunningSimulator) -> None:
    client = api(sim)
    ids = [
        (await call(client.create_live_stream, create_request(f"ls_{i}"))).data.id for i in range(3)
    ]
    got = (await call(client.get_live_stream, ids[0])).data
    assert got.id == ids[0]
    page1 = (await call(client.list_live_streams, limit=2, page=1)).data
    page2 = (await call(client.list_live_streams, limit=2, page=2)).data
    assert [s.id for s in page1 + page2] == list(reversed(ids))
    await call(client.signal_live_stream_complete, ids[0])
    await call(client.disable_live_stream, ids[0])
    assert (await call(client.get_live_stream, ids[0])).data.status == "disabled"
    await call(client.enable_live_stream, ids[0])
    assert (await call(client.get_live_stream, ids[0])).data.status == "idle"
    old_key = got.stream_key
    assert (await call(client.reset_stream_key, ids[0])).data.stream_key != old_key
    await call(client.delete_live_stream, ids[0])
    with pytest.raises(NotFoundException):
        await call(client.get_live_stream, ids[0])


async def test_wrong_credentials_get_401(sim: RunningSimulator) -> None:
    configuration = sim.mux_configuration()
    configuration.password = "wrong"
    client = mux_python.LiveStreamsApi(mux_python.ApiClient(configuration))
    with pytest.raises(UnauthorizedException):
        await call(client.list_live_streams)


async def test_unknown_id_is_404_with_muxs_error_body(sim: RunningSimulator) -> None:
    with pytest.raises(NotFoundException) as exc:
        await call(api(sim).get_live_stream, "nope")
    assert '"type":"not_found"' in exc.value.body.replace(" ", "")


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_injected_faults_fail_the_next_calls_then_clear(
    sim: RunningSimulator, status: int
) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.post("/_sim/faults", json={"status": status, "count": 2})
        assert r.status_code == 200
    client = api(sim)
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            await call(client.list_live_streams)
        assert exc.value.status == status
    assert (await call(client.list_live_streams)).data == []


async def test_bad_parameters_are_400(sim: RunningSimulator) -> None:
    import httpx

    async with httpx.AsyncClient(
        base_url=sim.base_url, auth=("sim-token-id", "sim-token-secret")
    ) as http:
        r = await http.post("/video/v1/live-streams", content=b"{nope")
        assert r.status_code == 400
        assert r.json()["error"]["type"] == "invalid_parameters"
        r = await http.get("/video/v1/live-streams", params={"limit": 500})
        assert r.status_code == 400
