"""stream-svc's routes and their errors (memory adapters)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from servicekit.auth import mint_token
from stream_svc.adapters.memory import FakeMux, MemoryStreams
from stream_svc.deps import Deps
from stream_svc.entrypoints.http import create_app
from stream_svc.settings import Settings

from ..helpers import memory_deps

SECRET = "stream-svc-test-secret-0123456789abcdef"


def auth(account: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, account)}"}


@pytest_asyncio.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Deps]]:
    settings = Settings(
        auth_jwt_secret=SecretStr(SECRET),
        mux_token_id=SecretStr("i"),
        mux_token_secret=SecretStr("s"),
    )
    deps = memory_deps()
    app = create_app(settings, deps=deps)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client, deps


async def create(client: httpx.AsyncClient, owner: str = "alice", **body: Any) -> dict[str, Any]:
    r = await client.post("/live", json={"title": "My stream", **body}, headers=auth(owner))
    assert r.status_code == 201, r.text
    return r.json()


class TestCreate:
    async def test_returns_obs_settings_and_playback(
        self, api: tuple[httpx.AsyncClient, Deps]
    ) -> None:
        client, _ = api
        body = await create(client)
        assert set(body) == {"stream_id", "stream_key", "rtmp_url", "playback_url"}
        assert body["rtmp_url"] == "rtmps://global-live.mux.com:443/app"
        assert body["playback_url"].startswith("https://stream.example/")
        assert body["playback_url"].endswith(".m3u8")

    async def test_idempotency_key_replays(self, api: tuple[httpx.AsyncClient, Deps]) -> None:
        client, _ = api
        h = {**auth("alice"), "Idempotency-Key": "k1"}
        first = await client.post("/live", json={"title": "x"}, headers=h)
        second = await client.post("/live", json={"title": "x"}, headers=h)
        assert first.json() == second.json()
        assert second.headers["idempotent-replayed"] == "true"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"title": ""}, "body.title"),
            ({"title": "x" * 101}, "body.title"),
            ({}, "body.title"),
            ({"title": "ok", "description": "d" * 5001}, "body.description"),
            ({"title": "ok", "thumbnail": "ftp://x/y.png"}, "body.thumbnail"),
            ({"title": "ok", "thumbnail": "not a url"}, "body.thumbnail"),
            ({"title": "ok", "extra": 1}, "body.extra"),
        ],
    )
    async def test_bad_bodies_get_422_naming_the_field(
        self, api: tuple[httpx.AsyncClient, Deps], body: dict[str, Any], field: str
    ) -> None:
        client, deps = api
        r = await client.post("/live", json=body, headers=auth("alice"))
        assert r.status_code == 422
        assert field in [d["field"] for d in r.json()["details"]]
        assert isinstance(deps.streams, MemoryStreams)
        assert deps.streams.docs == {}

    async def test_mux_down_gives_503_and_creates_nothing(
        self, api: tuple[httpx.AsyncClient, Deps]
    ) -> None:
        client, deps = api
        assert isinstance(deps.mux, FakeMux)
        deps.mux.fail_next = 1
        r = await client.post("/live", json={"title": "x"}, headers=auth("alice"))
        assert r.status_code == 503
        assert r.json()["error"] == "mux_unavailable"
        assert isinstance(deps.streams, MemoryStreams)
        assert deps.streams.docs == {}

    async def test_no_token_is_401(self, api: tuple[httpx.AsyncClient, Deps]) -> None:
        client, _ = api
        assert (await client.post("/live", json={"title": "x"})).status_code == 401
        assert (await client.get("/live")).status_code == 401


class TestLifecycleRoutes:
    async def test_start_end_and_the_state_machine_refusals(
        self, api: tuple[httpx.AsyncClient, Deps]
    ) -> None:
        client, deps = api
        sid = (await create(client))["stream_id"]
        r = await client.put(f"/live/{sid}/end", headers=auth("alice"))
        assert r.status_code == 409
        assert r.json()["status"] == "idle"
        assert (await client.put(f"/live/{sid}/start", headers=auth("bob"))).status_code == 403
        r = await client.put(f"/live/{sid}/start", headers=auth("alice"))
        assert r.status_code == 200
        assert r.json()["status"] == "active"
        r = await client.put(f"/live/{sid}/end", headers=auth("alice"))
        assert r.json()["status"] == "ended"
        assert isinstance(deps.mux, FakeMux)
        assert len(deps.mux.completed) == 1
        r = await client.put(f"/live/{sid}/start", headers=auth("alice"))
        assert r.status_code == 409
        assert r.json()["status"] == "ended"
        assert isinstance(deps.streams, MemoryStreams)
        assert deps.streams.events() == ["stream.created", "stream.started", "stream.ended"]

    async def test_details_show_the_key_only_to_the_owner(
        self, api: tuple[httpx.AsyncClient, Deps]
    ) -> None:
        client, _ = api
        sid = (await create(client))["stream_id"]
        mine = (await client.get(f"/live/{sid}", headers=auth("alice"))).json()
        theirs = (await client.get(f"/live/{sid}", headers=auth("bob"))).json()
        assert mine["stream_key"] and mine["rtmp_url"]
        assert theirs["stream_key"] is None
        assert theirs["rtmp_url"] is None
        assert theirs["status"] == "idle"
        assert (await client.get("/live/ls_nope", headers=auth("bob"))).status_code == 404

    async def test_delete_leaves_a_tombstone_that_answers_404(
        self, api: tuple[httpx.AsyncClient, Deps]
    ) -> None:
        client, deps = api
        sid = (await create(client))["stream_id"]
        assert (await client.delete(f"/live/{sid}", headers=auth("bob"))).status_code == 403
        assert (await client.delete(f"/live/{sid}", headers=auth("alice"))).status_code == 204
        assert (await client.get(f"/live/{sid}", headers=auth("alice"))).status_code == 404
        assert isinstance(deps.mux, FakeMux)
        assert deps.mux.streams == {}
        assert isinstance(deps.streams, MemoryStreams)
        assert deps.streams.docs[sid].status.value == "deleted"


class TestList:
    async def test_pages_newest_first_with_filters(
        self, api: tuple[httpx.AsyncClient, Deps]
    ) -> None:
        client, deps = api
        from datetime import timedelta

        assert isinstance(deps.streams, MemoryStreams)
        ids = []
        for i in range(5):
            sid = (await create(client, owner="alice" if i % 2 == 0 else "bob"))["stream_id"]
            deps.streams.docs[sid].created_at += timedelta(seconds=i)
            await client.put(f"/live/{sid}/start", headers=auth("alice" if i % 2 == 0 else "bob"))
            ids.append(sid)
        r1 = (await client.get("/live", params={"limit": 2}, headers=auth("x"))).json()
        r2 = (
            await client.get(
                "/live", params={"limit": 2, "cursor": r1["next_cursor"]}, headers=auth("x")
            )
        ).json()
        r3 = (
            await client.get(
                "/live", params={"limit": 2, "cursor": r2["next_cursor"]}, headers=auth("x")
            )
        ).json()
        got = [s["stream_id"] for s in r1["items"] + r2["items"] + r3["items"]]
        assert got == list(reversed(ids))
        assert r3["next_cursor"] is None
        mine = (await client.get("/live", params={"owner": "bob"}, headers=auth("x"))).json()
        assert [s["stream_id"] for s in mine["items"]] == [ids[3], ids[1]]
        idle = (await client.get("/live", params={"status": "idle"}, headers=auth("x"))).json()
        assert idle["items"] == []

    @pytest.mark.parametrize(
        "params", [{"limit": 0}, {"limit": 101}, {"cursor": "garbage!"}, {"status": "weird"}]
    )
    async def test_bad_query_is_422(
        self, api: tuple[httpx.AsyncClient, Deps], params: dict[str, Any]
    ) -> None:
        client, _ = api
        r = await client.get("/live", params=params, headers=auth("x"))
        assert r.status_code == 422
        assert r.json()["error"] == "validation_error"


class TestUsageWindow:
    """Issue 17: ``/me/usage?to=0.5`` was accepted (a number read as seconds since 1970)."""

    @pytest.mark.parametrize("query", ["to=0.5", "from=1700000000", "to=yesterday", "from=5"])
    async def test_a_window_that_is_not_iso_8601_is_422(
        self, api: tuple[httpx.AsyncClient, Deps], query: str
    ) -> None:
        client, _ = api
        r = await client.get(f"/me/usage?{query}", headers=auth("alice"))
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"

    async def test_an_iso_window_is_accepted(self, api: tuple[httpx.AsyncClient, Deps]) -> None:
        client, _ = api
        r = await client.get(
            "/me/usage?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00%2B00:00",
            headers=auth("alice"),
        )
        assert r.status_code == 200, r.text
