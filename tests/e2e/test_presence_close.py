"""A viewer who closes the chat stops counting at once, not at the presence timeout (found by
an attack on issue 15: the gateway never announced a closed connection)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from testkit.stack import Stack
from testkit.wait import eventually

pytestmark = pytest.mark.e2e


async def test_closing_the_chat_socket_ends_the_viewers_session(stack: Stack) -> None:
    async with (
        httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api,
        httpx.AsyncClient(base_url=stack.sim, timeout=20) as sim,
    ):
        r = await api.post("/live", json={"title": "Presence"}, headers=stack.auth("host9"))
        assert r.status_code == 201, r.text
        sid = r.json()["stream_id"]
        assert (await sim.post(f"/_sim/passthrough/{sid}/connect")).status_code == 200

        async def details() -> dict[str, Any]:
            return dict((await api.get(f"/live/{sid}", headers=stack.auth("host9"))).json())

        await eventually(lambda: _is(details, "status", "active"), within=20)
        url = f"{stack.ws}/ws/live/{sid}?token={stack.token('watcher9')}"
        async with connect(url) as ws:
            await ws.recv()  # hello
            await eventually(lambda: _is(details, "viewer_count", 1), within=15)
        # the presence timeout is 30 s: well within it, the count is back to 0
        await eventually(lambda: _is(details, "viewer_count", 0), within=12)


async def _is(details: Any, key: str, want: Any) -> bool:
    return bool((await details())[key] == want)
