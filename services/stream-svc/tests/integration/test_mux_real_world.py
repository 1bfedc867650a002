"""Mux as it really delivers (issue 16, sections 2, 3 and 5), over the real broker, database,
webhook-ingest and the simulator driven through mux-python: events without a passthrough, lost
end signals, the reconciliation, and a key that stops working when the stream ends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from testkit.wait import eventually

from .test_stream_svc import Stack

pytestmark = pytest.mark.integration


async def knobs(s: Stack, **changes: Any) -> None:
    assert (await s.sim_http.post("/_sim/config", json=changes)).status_code == 200


async def live_stream(s: Stack, owner: str = "alice") -> tuple[str, str]:
    r = await s.api.post("/live", json={"title": "Speedrun"}, headers=s.auth(owner))
    assert r.status_code == 201, r.text
    body = r.json()
    mux_id = next(
        m.id for m in s.sim.simulator.env.streams.values() if m.passthrough == body["stream_id"]
    )
    connected = await s.sim_http.post(f"/_sim/stream-keys/{body['stream_key']}/connect")
    assert connected.status_code == 200, connected.text
    assert await eventually(lambda: has_status(s, body["stream_id"], "active"), within=10)
    return body["stream_id"], mux_id


async def status_of(s: Stack, sid: str) -> str:
    return str((await s.api.get(f"/live/{sid}", headers=s.auth("bob"))).json()["status"])


async def has_status(s: Stack, sid: str, want: str) -> bool:
    return await status_of(s, sid) == want


async def delivered(s: Stack, event_type: str) -> list[dict[str, Any]]:
    log = (await s.sim_http.get("/_sim/deliveries")).json()["data"]
    return [d for d in log if d["type"] == event_type]


async def test_events_without_passthrough_reach_their_stream_and_give_the_archive(
    stack: Stack,
) -> None:
    await knobs(stack, strip_passthrough=True)
    sid, mux_id = await live_stream(stack)  # active arrived with no passthrough
    await stack.sim_http.post(f"/_sim/live-streams/{mux_id}/disconnect")
    assert await eventually(lambda: has_status(stack, sid, "ended"), within=10)

    async def archive() -> Any:
        return (await stack.api.get(f"/live/{sid}", headers=stack.auth("bob"))).json()[
            "archive_playback_url"
        ]

    url = await eventually(archive, within=10)
    (ready,) = await delivered(stack, "video.asset.ready")
    assert ready["delivered"]
    asset = next(iter(stack.sim.simulator.env.assets.values()))
    assert asset.playback_ids[0]["id"] in url
    await eventually(lambda: "stream.archive_ready" in stack.types(), within=10)


async def test_events_of_a_live_stream_we_do_not_know_are_2xx_and_ignored(stack: Stack) -> None:
    import mux_python

    api = mux_python.LiveStreamsApi(mux_python.ApiClient(stack.sim.mux_configuration()))
    request = mux_python.CreateLiveStreamRequest(playback_policies=["public"])
    # the SDK is synchronous and the simulator runs on this loop
    other = await asyncio.to_thread(api.create_live_stream, request)
    await stack.sim_http.post(f"/_sim/live-streams/{other.data.id}/connect")
    assert (await stack.sim_http.post("/_sim/webhooks/settle?timeout=10")).status_code == 200
    (active,) = await delivered(stack, "video.live_stream.active")
    assert active["delivered"]
    assert all(a["status"] < 300 for a in active["attempts"])
    listed = (await stack.api.get("/live?status=all", headers=stack.auth("bob"))).json()
    assert listed["items"] == []


async def test_a_lost_idle_is_covered_by_the_recording_completed_signal(stack: Stack) -> None:
    await knobs(stack, drop_types=["video.live_stream.idle"])
    sid, mux_id = await live_stream(stack)
    await stack.sim_http.post(f"/_sim/live-streams/{mux_id}/disconnect")
    assert await eventually(lambda: has_status(stack, sid, "ended"), within=10)
    (idle,) = await delivered(stack, "video.live_stream.idle")
    assert idle["dropped"]
    await eventually(lambda: "stream.ended" in stack.types(), within=10)


async def test_a_disabled_live_stream_ends_the_stream(stack: Stack) -> None:
    await knobs(stack, drop_types=["video.live_stream.idle", "video.asset.live_stream_completed"])
    sid, mux_id = await live_stream(stack)
    stack.sim.simulator.env.disable(mux_id)
    assert await eventually(lambda: has_status(stack, sid, "ended"), within=10)


async def test_reconciliation_ends_a_stream_whose_end_signals_were_all_lost(stack: Stack) -> None:
    await knobs(
        stack,
        drop_types=[
            "video.live_stream.idle",
            "video.asset.live_stream_completed",
            "video.live_stream.disabled",
        ],
    )
    sid, mux_id = await live_stream(stack)
    await stack.sim_http.post(f"/_sim/live-streams/{mux_id}/disconnect")
    # the stream stays active while Mux is in its reconnect window and then is quiet...
    assert await status_of(stack, sid) == "active"
    # ...until the reconciliation (no Mux event for 1.5 s here) asks Mux, which says idle
    assert await eventually(lambda: has_status(stack, sid, "ended"), within=15)
    assert ("GET", f"/video/v1/live-streams/{mux_id}") in stack.sim.simulator.api_calls
    await eventually(lambda: "stream.ended" in stack.types(), within=10)


async def test_reconciliation_leaves_a_stream_mux_reports_active(stack: Stack) -> None:
    sid, mux_id = await live_stream(stack)
    await eventually(
        lambda: _asked(stack, mux_id), within=15
    )  # quiet for 1.5 s: asked, and Mux says active
    assert await status_of(stack, sid) == "active"


async def _asked(s: Stack, mux_id: str) -> bool:
    return ("GET", f"/video/v1/live-streams/{mux_id}") in s.sim.simulator.api_calls


async def test_ending_disables_the_key_so_the_encoder_cannot_reconnect(stack: Stack) -> None:
    r = await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))
    sid, key = r.json()["stream_id"], r.json()["stream_key"]
    assert (await stack.sim_http.post(f"/_sim/stream-keys/{key}/connect")).status_code == 200
    assert await eventually(lambda: has_status(stack, sid, "active"), within=10)
    ended = await stack.api.put(f"/live/{sid}/end", headers=stack.auth("alice"))
    assert ended.status_code == 200
    (mux_stream,) = stack.sim.simulator.env.streams.values()
    assert mux_stream.status == "disabled"
    again = await stack.sim_http.post(f"/_sim/stream-keys/{key}/connect")
    assert again.status_code == 409, again.text
    assert await status_of(stack, sid) == "ended"


async def test_an_end_derived_from_mux_disables_the_key_too(stack: Stack) -> None:
    sid, mux_id = await live_stream(stack)
    key = stack.sim.simulator.env.streams[mux_id].stream_key
    await stack.sim_http.post(f"/_sim/live-streams/{mux_id}/disconnect")
    assert await eventually(lambda: has_status(stack, sid, "ended"), within=10)

    async def refused() -> bool:
        r = await stack.sim_http.post(f"/_sim/stream-keys/{key}/connect")
        return r.status_code == 409

    assert await eventually(refused, within=10)


async def test_reset_stream_key_returns_a_new_key_and_the_old_one_is_refused(
    stack: Stack,
) -> None:
    r = await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))
    sid, old = r.json()["stream_id"], r.json()["stream_key"]
    other = await stack.api.post(f"/live/{sid}/reset-stream-key", headers=stack.auth("mallory"))
    assert other.status_code == 403
    reset = await stack.api.post(f"/live/{sid}/reset-stream-key", headers=stack.auth("alice"))
    assert reset.status_code == 200, reset.text
    new = reset.json()["stream_key"]
    assert new != old
    assert reset.json()["rtmp_url"]
    details = (await stack.api.get(f"/live/{sid}", headers=stack.auth("alice"))).json()
    assert details["stream_key"] == new
    assert (await stack.sim_http.post(f"/_sim/stream-keys/{old}/connect")).status_code == 403
    assert (await stack.sim_http.post(f"/_sim/stream-keys/{new}/connect")).status_code == 200
    assert await eventually(lambda: has_status(stack, sid, "active"), within=10)
