"""``PATCH /live/{id}``, ``thumbnail_url`` and ``POST /live/{id}/reset-stream-key`` (memory
adapters; issue 16, sections 5 and 6)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from stream_svc.adapters.memory import FakeMux, MemoryStreams
from stream_svc.deps import Deps

from .test_http import auth, create

Api = tuple[httpx.AsyncClient, Deps]


def staged(deps: Deps, event_type: str) -> list[Any]:
    assert isinstance(deps.streams, MemoryStreams)
    return [e for e in deps.streams.staged if e.event_type == event_type]


class TestUpdate:
    async def test_owner_changes_title_and_stream_updated_is_staged_once(self, api: Api) -> None:
        client, deps = api
        sid = (await create(client))["stream_id"]
        r = await client.patch(f"/live/{sid}", json={"title": " New title "}, headers=auth("alice"))
        assert r.status_code == 200, r.text
        assert r.json()["title"] == "New title"
        again = await client.patch(
            f"/live/{sid}", json={"title": "New title"}, headers=auth("alice")
        )
        assert again.status_code == 200
        (event,) = staged(deps, "stream.updated")
        assert event.payload.title == "New title"
        listed = (await client.get("/live?status=all", headers=auth("bob"))).json()["items"]
        assert [i["title"] for i in listed] == ["New title"]

    async def test_description_and_thumbnail_can_be_set_and_cleared(self, api: Api) -> None:
        client, deps = api
        sid = (await create(client, description="d"))["stream_id"]
        set_ = await client.patch(
            f"/live/{sid}",
            json={"thumbnail": "https://img.example/t.png", "description": None},
            headers=auth("alice"),
        )
        assert set_.json()["thumbnail_url"] == "https://img.example/t.png"
        assert set_.json()["description"] is None
        cleared = await client.patch(
            f"/live/{sid}", json={"thumbnail": None}, headers=auth("alice")
        )
        assert cleared.json()["thumbnail_url"].startswith("https://image.mux.com/")
        first, second = staged(deps, "stream.updated")
        # each change carries the version its save stores: later changes order after
        stored = await deps.streams.get(sid)
        assert stored is not None
        assert 0 < first.payload.version < second.payload.version == stored.version

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"title": None},
            {"title": ""},
            {"title": "x" * 101},
            {"description": "d" * 5001},
            {"thumbnail": "ftp://x/y.png"},
            {"thumbnail": "not a url"},
            {"title": "ok", "extra": 1},
        ],
    )
    async def test_create_rules_apply_and_nothing_changes(
        self, api: Api, body: dict[str, Any]
    ) -> None:
        client, deps = api
        sid = (await create(client))["stream_id"]
        r = await client.patch(f"/live/{sid}", json=body, headers=auth("alice"))
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
        assert staged(deps, "stream.updated") == []
        assert (await client.get(f"/live/{sid}", headers=auth("alice"))).json()[
            "title"
        ] == "My stream"

    async def test_only_the_owner_and_only_existing_streams(self, api: Api) -> None:
        client, _ = api
        sid = (await create(client))["stream_id"]
        assert (
            await client.patch(f"/live/{sid}", json={"title": "x"}, headers=auth("mallory"))
        ).status_code == 403
        assert (
            await client.patch("/live/ls_nope", json={"title": "x"}, headers=auth("alice"))
        ).status_code == 404


class TestThumbnailUrl:
    async def test_mux_image_of_the_playback_id_unless_the_owner_set_one(self, api: Api) -> None:
        client, _ = api
        plain = await create(client)
        own = await create(client, thumbnail="https://img.example/mine.jpg")
        playback_id = plain["playback_url"].rsplit("/", 1)[1].removesuffix(".m3u8")
        details = (await client.get(f"/live/{plain['stream_id']}", headers=auth("bob"))).json()
        assert details["thumbnail_url"] == f"https://image.mux.com/{playback_id}/thumbnail.jpg"
        items = (await client.get("/live?status=all", headers=auth("bob"))).json()["items"]
        by_id = {i["stream_id"]: i["thumbnail_url"] for i in items}
        assert by_id[own["stream_id"]] == "https://img.example/mine.jpg"


class TestResetKey:
    async def test_owner_gets_a_new_key_others_are_refused(self, api: Api) -> None:
        client, deps = api
        created = await create(client)
        sid = created["stream_id"]
        assert (
            await client.post(f"/live/{sid}/reset-stream-key", headers=auth("bob"))
        ).status_code == 403
        r = await client.post(f"/live/{sid}/reset-stream-key", headers=auth("alice"))
        assert r.status_code == 200
        assert r.json()["stream_key"] != created["stream_key"]
        assert isinstance(deps.mux, FakeMux)
        assert {s.stream_key for s in deps.mux.streams.values()} == {r.json()["stream_key"]}
        details = (await client.get(f"/live/{sid}", headers=auth("alice"))).json()
        assert details["stream_key"] == r.json()["stream_key"]

    async def test_mux_failing_leaves_the_key_and_answers_503(self, api: Api) -> None:
        client, deps = api
        created = await create(client)
        assert isinstance(deps.mux, FakeMux)
        deps.mux.fail_next = 1
        r = await client.post(
            f"/live/{created['stream_id']}/reset-stream-key", headers=auth("alice")
        )
        assert r.status_code == 503
        assert r.headers["retry-after"]
        details = (await client.get(f"/live/{created['stream_id']}", headers=auth("alice"))).json()
        assert details["stream_key"] == created["stream_key"]
