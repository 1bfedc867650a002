"""A streamer changes what viewers see, and ending or resetting stops the old key: through the
gateway, the whole stack and the simulator (issue 16, sections 5 and 6)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from testkit.stack import Stack
from testkit.wait import eventually

from .test_checklist import _status_is, socket

pytestmark = pytest.mark.e2e


async def test_a_title_change_reaches_the_chat_room_and_the_list_without_reconnecting(
    stack: Stack,
) -> None:
    async with (
        httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api,
        httpx.AsyncClient(base_url=stack.sim, timeout=20) as sim,
    ):
        r = await api.post("/live", json={"title": "Before"}, headers=stack.auth("streamer2"))
        assert r.status_code == 201, r.text
        sid = r.json()["stream_id"]
        assert (await sim.post(f"/_sim/stream-keys/{r.json()['stream_key']}/connect")).is_success
        await eventually(lambda: _status_is(api, stack, sid, "active"), within=20)

        async with socket(stack, sid, "watcher") as sock:
            bad = await api.patch(
                f"/live/{sid}", json={"title": " "}, headers=stack.auth("streamer2")
            )
            assert bad.status_code == 422
            other = await api.patch(
                f"/live/{sid}", json={"title": "Mine"}, headers=stack.auth("watcher")
            )
            assert other.status_code == 403
            ok = await api.patch(
                f"/live/{sid}", json={"title": "After"}, headers=stack.auth("streamer2")
            )
            assert ok.status_code == 200, ok.text
            assert ok.json()["title"] == "After"
            frames = await eventually(lambda: sock.of("stream_updated"), within=15)
            assert frames[-1]["title"] == "After"

        async def listed_title() -> Any:
            page = (await api.get("/live", headers=stack.auth("watcher"))).json()
            return next((i["title"] for i in page["items"] if i["stream_id"] == sid), None)

        assert await listed_title() == "After"

        # the card's thumbnail: Mux's image of the stream, a real JPEG through the gateway
        details = (await api.get(f"/live/{sid}", headers=stack.auth("watcher"))).json()
        image = await api.get(httpx.URL(details["thumbnail_url"]).path)
        assert image.status_code == 200
        assert image.content[:3] == b"\xff\xd8\xff"


async def test_reset_key_and_end_stop_the_old_key_at_the_simulator(stack: Stack) -> None:
    async with (
        httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api,
        httpx.AsyncClient(base_url=stack.sim, timeout=20) as sim,
    ):
        r = await api.post("/live", json={"title": "Keys"}, headers=stack.auth("streamer3"))
        sid, old = r.json()["stream_id"], r.json()["stream_key"]
        reset = await api.post(f"/live/{sid}/reset-stream-key", headers=stack.auth("streamer3"))
        assert reset.status_code == 200, reset.text
        new = reset.json()["stream_key"]
        assert (await sim.post(f"/_sim/stream-keys/{old}/connect")).status_code == 403
        assert (await sim.post(f"/_sim/stream-keys/{new}/connect")).status_code == 200
        await eventually(lambda: _status_is(api, stack, sid, "active"), within=20)
        assert (
            await api.put(f"/live/{sid}/end", headers=stack.auth("streamer3"))
        ).status_code == 200
        assert (await sim.post(f"/_sim/stream-keys/{new}/connect")).status_code == 409
