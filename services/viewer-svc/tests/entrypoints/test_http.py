from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest_asyncio
from pydantic import SecretStr

from contracts.common import StreamStatus
from servicekit.auth import mint_token
from viewer_svc import handlers
from viewer_svc.entrypoints.http import create_app
from viewer_svc.settings import Settings

from ..helpers import T0, World

SECRET = "viewer-svc-test-secret-0123456789abcdef"


def auth(account: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, account)}"}


@pytest_asyncio.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, World]]:
    world = World()
    await handlers.stream_described("live", "owner", "https://p/live.m3u8", world.deps)
    await handlers.stream_status("live", StreamStatus.ACTIVE, world.deps)
    await handlers.stream_described("over", "owner", "https://p/over.m3u8", world.deps)
    await handlers.stream_status("over", StreamStatus.ENDED, world.deps)
    await handlers.ban_changed(
        "live", "troll", banned=True, at=T0, expires_at=T0 + timedelta(hours=1), deps=world.deps
    )
    app = create_app(Settings(auth_jwt_secret=SecretStr(SECRET)), deps=world.deps)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client, world


async def test_join_heartbeat_leave(api: tuple[httpx.AsyncClient, World]) -> None:
    client, world = api
    r = await client.post("/live/live/join", headers=auth("a"))
    assert r.status_code == 200
    assert r.json() == {
        "playback_url": "https://p/live.m3u8",
        "viewer_count": 1,
        "status": "active",
    }
    assert (await client.post("/live/live/heartbeat", headers=auth("a"))).json()[
        "viewer_count"
    ] == 1
    assert (await client.post("/live/live/leave", headers=auth("a"))).status_code == 204
    assert await world.count("live") == 0


async def test_errors(api: tuple[httpx.AsyncClient, World]) -> None:
    client, world = api
    r = await client.post("/live/nope/join", headers=auth("a"))
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    r = await client.post("/live/over/join", headers=auth("a"))
    assert (r.status_code, r.json()["status"]) == (409, "ended")
    r = await client.post("/live/live/join", headers=auth("troll"))
    assert r.status_code == 403
    assert r.json()["banned_until"].startswith("2026-11-24T13:00")
    assert (await client.post("/live/live/join")).status_code == 401
    assert (await client.post("/live/live/leave", headers=auth("never-joined"))).status_code == 204
    assert (await client.post(f"/live/{'x' * 65}/join", headers=auth("a"))).status_code == 422
    assert world.types() == []


async def test_leave_ends_only_its_own_session(api: tuple[httpx.AsyncClient, World]) -> None:
    client, world = api
    for tab in ("tab1", "tab2"):
        r = await client.post("/live/live/join", params={"session_id": tab}, headers=auth("a"))
        assert r.json()["viewer_count"] == 1  # one account, however many tabs
    r = await client.post("/live/live/leave", params={"session_id": "tab2"}, headers=auth("a"))
    assert r.status_code == 204
    assert await world.count("live") == 1
    await client.post("/live/live/leave", params={"session_id": "tab1"}, headers=auth("a"))
    assert await world.count("live") == 0
    bad = await client.post(
        "/live/live/join", params={"session_id": "no spaces"}, headers=auth("a")
    )
    assert bad.status_code == 422
