"""stream-svc on the real broker and database, talking to the Mux simulator through mux-python."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contracts import Envelope
from contracts.moderation import ModeratorAdded, ModeratorRemoved, UserBanned, UserUnbanned
from contracts.routing import Names
from contracts.stream import (
    StreamArchiveReady,
    StreamCreated,
    StreamDeleted,
    StreamEnded,
    StreamStarted,
)
from mux_sim.config import Knobs, SimConfig
from mux_sim.testing import RunningSimulator, running_simulator
from servicekit.auth import mint_token
from servicekit.broker import declare_topology, make_broker
from servicekit.consumer import EventDispatcher, attach_consumer
from servicekit.settings import load_settings
from stream_svc.entrypoints.http import create_app
from stream_svc.settings import Settings
from testkit.infra import InfraUrls
from testkit.servers import serve_app
from testkit.wait import eventually
from webhook_ingest.entrypoints.http import create_app as create_ingest_app
from webhook_ingest.settings import Settings as IngestSettings

pytestmark = pytest.mark.integration
WEBHOOK_SECRET = "whsec-stream-svc-tests"


@dataclass
class Stack:
    api: httpx.AsyncClient
    sim: RunningSimulator
    sim_http: httpx.AsyncClient
    published: list[Envelope[Any]]
    jwt_secret: str

    def auth(self, account: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.jwt_secret, account)}"}

    def types(self) -> list[str]:
        return [e.event_type for e in self.published]


@pytest_asyncio.fixture
async def stack(
    infra: InfraUrls,
    namespace: str,
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    jwt_secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Stack]:
    names = Names(namespace)
    published: list[Envelope[Any]] = []
    watcher = make_broker(infra.amqp, app_id="watcher")
    events = EventDispatcher()

    @events.on(
        StreamCreated,
        StreamStarted,
        StreamEnded,
        StreamDeleted,
        StreamArchiveReady,
        ModeratorAdded,
        ModeratorRemoved,
        UserBanned,
        UserUnbanned,
    )
    async def record(env: Envelope[Any]) -> None:
        published.append(env)

    spec = attach_consumer(watcher, names.queue("kit-test"), events, consumer="watcher")
    await watcher.connect()
    await declare_topology(watcher, names, [spec], delivery_limit=5)
    await watcher.start()
    monkeypatch.setenv("MUX_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("OUTBOX_POLL_S", "0.2")
    async with serve_app(create_ingest_app(load_settings(IngestSettings))) as ingest:
        knobs = Knobs(reconnect_window_override_s=0.2, asset_ready_delay_s=0.05, retry_base_s=0.1)
        config = SimConfig(
            webhook_url=f"{ingest}/webhooks/mux", webhook_secret=WEBHOOK_SECRET, knobs=knobs
        )
        async with running_simulator(config) as sim:
            monkeypatch.setenv("MUX_API_URL", sim.base_url)
            monkeypatch.setenv("MUX_TOKEN_ID", config.token_id)
            monkeypatch.setenv("MUX_TOKEN_SECRET", config.token_secret)
            monkeypatch.setenv("STREAM_MUX_DEADLINE_S", "2")
            async with (
                serve_app(create_app(load_settings(Settings))) as base,
                httpx.AsyncClient(base_url=base) as api,
                httpx.AsyncClient(base_url=sim.base_url) as sim_http,
            ):
                yield Stack(api, sim, sim_http, published, jwt_secret)
    await watcher.stop()


async def test_encoder_cycle_drives_the_stream_and_publishes_each_event_once(stack: Stack) -> None:
    r = await stack.api.post("/live", json={"title": "Speedrun"}, headers=stack.auth("alice"))
    assert r.status_code == 201
    sid = r.json()["stream_id"]
    (mux_stream,) = stack.sim.simulator.env.streams.values()
    assert mux_stream.passthrough == sid
    assert mux_stream.stream_key == r.json()["stream_key"]
    assert mux_stream.playback_ids[0]["policy"] == "public"
    assert mux_stream.new_asset_settings["playback_policies"] == ["public"]

    await stack.sim_http.post(f"/_sim/live-streams/{mux_stream.id}/connect")

    async def status() -> str:
        return str(
            (await stack.api.get(f"/live/{sid}", headers=stack.auth("bob"))).json()["status"]
        )

    assert await eventually(lambda: _is(status, "active"), within=10)
    await stack.sim_http.post(f"/_sim/live-streams/{mux_stream.id}/disconnect")
    assert await eventually(lambda: _is(status, "ended"), within=10)

    async def archived() -> Any:
        body = (await stack.api.get(f"/live/{sid}", headers=stack.auth("bob"))).json()
        return body["archive_playback_url"]

    url = await eventually(archived, within=10)
    asset = next(iter(stack.sim.simulator.env.assets.values()))
    assert asset.playback_ids[0]["id"] in url
    await eventually(lambda: "stream.archive_ready" in stack.types(), within=10)
    assert sorted(stack.types()) == sorted(
        ["stream.created", "stream.started", "stream.ended", "stream.archive_ready"]
    )
    r = await stack.api.get(f"/live/{sid}/usage", headers=stack.auth("alice"))
    assert r.status_code == 200, r.text
    usage = r.json()
    assert usage["measured"]["seconds_streamed"] > 0
    assert usage["estimated"]["cost_usd"]["live_encoding"] > 0
    assert (await stack.api.get(f"/live/{sid}/usage", headers=stack.auth("bob"))).status_code == 403


async def _is(probe: Any, want: str) -> bool:
    return bool(await probe() == want)


async def test_end_tells_mux_and_delete_deletes_on_mux(stack: Stack) -> None:
    sid = (await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))).json()[
        "stream_id"
    ]
    (mux_stream,) = stack.sim.simulator.env.streams.values()
    await stack.api.put(f"/live/{sid}/start", headers=stack.auth("alice"))
    assert (await stack.api.put(f"/live/{sid}/end", headers=stack.auth("alice"))).json()[
        "status"
    ] == "ended"
    assert (
        "PUT",
        f"/video/v1/live-streams/{mux_stream.id}/complete",
    ) in stack.sim.simulator.api_calls
    assert (await stack.api.delete(f"/live/{sid}", headers=stack.auth("alice"))).status_code == 204
    assert stack.sim.simulator.env.streams == {}
    await eventually(lambda: "stream.deleted" in stack.types(), within=10)


async def test_mux_failing_after_retries_is_503_and_nothing_is_half_created(stack: Stack) -> None:
    await stack.sim_http.post("/_sim/faults", json={"status": 503, "count": 50})
    r = await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))
    assert r.status_code == 503
    assert "after retries" in r.json()["message"]
    stack.sim.simulator.faults.clear()
    assert stack.sim.simulator.env.streams == {}
    listed = (
        await stack.api.get(
            "/live", params={"status": "all", "owner": "alice"}, headers=stack.auth("alice")
        )
    ).json()
    assert listed["items"] == []


async def test_rate_limited_mux_calls_are_retried_then_succeed(stack: Stack) -> None:
    await stack.sim_http.post("/_sim/faults", json={"status": 429, "count": 2})
    r = await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))
    assert r.status_code == 201
    assert len(stack.sim.simulator.env.streams) == 1


async def test_moderation_rules_log_and_events(stack: Stack) -> None:
    sid = (await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))).json()[
        "stream_id"
    ]
    a = stack.auth
    assert (
        await stack.api.post(
            f"/live/{sid}/moderators", json={"account_id": "mod"}, headers=a("bob")
        )
    ).status_code == 403
    assert (
        await stack.api.post(
            f"/live/{sid}/moderators", json={"account_id": "mod"}, headers=a("alice")
        )
    ).status_code == 201
    assert (
        await stack.api.post(
            f"/live/{sid}/moderators", json={"account_id": "mod2"}, headers=a("alice")
        )
    ).status_code == 201
    mods = (await stack.api.get(f"/live/{sid}/moderators", headers=a("alice"))).json()
    assert [m["account_id"] for m in mods] == ["mod", "mod2"]
    r = await stack.api.post(
        f"/live/{sid}/bans",
        json={"account_id": "troll", "duration_s": 600, "reason": "spam"},
        headers=a("mod"),
    )
    assert r.status_code == 201
    assert r.json()["expires_at"] is not None
    assert (
        await stack.api.post(f"/live/{sid}/bans", json={"account_id": "mod2"}, headers=a("mod"))
    ).status_code == 403
    assert (
        await stack.api.post(f"/live/{sid}/bans", json={"account_id": "alice"}, headers=a("mod"))
    ).status_code == 422
    assert (
        await stack.api.post(f"/live/{sid}/bans", json={"account_id": "x"}, headers=a("viewer"))
    ).status_code == 403
    bans = (await stack.api.get(f"/live/{sid}/bans", headers=a("mod2"))).json()
    assert [b["account_id"] for b in bans] == ["troll"]
    assert (await stack.api.delete(f"/live/{sid}/bans/troll", headers=a("mod2"))).status_code == 204
    assert (await stack.api.get(f"/live/{sid}/bans", headers=a("alice"))).json() == []
    log = (
        await stack.api.get(f"/live/{sid}/moderation-log", params={"limit": 2}, headers=a("mod"))
    ).json()
    rest = (
        await stack.api.get(
            f"/live/{sid}/moderation-log",
            params={"limit": 2, "cursor": log["next_cursor"]},
            headers=a("mod"),
        )
    ).json()
    actions = [e["action"] for e in log["items"] + rest["items"]]
    assert actions == ["user_unbanned", "user_banned", "moderator_added", "moderator_added"]
    assert (
        await stack.api.get(f"/live/{sid}/moderation-log", headers=a("viewer"))
    ).status_code == 403
    await eventually(lambda: stack.types().count("moderation.moderator_added") == 2, within=10)
    await eventually(lambda: "moderation.user_unbanned" in stack.types(), within=10)
    banned = next(e for e in stack.published if e.event_type == "moderation.user_banned")
    assert banned.payload.reason == "spam"
    assert banned.payload.expires_at is not None


@pytest.mark.parametrize("body", [{"account_id": ""}, {"account_id": "x", "duration_s": 0}, {}])
async def test_bad_moderation_bodies_are_422(stack: Stack, body: dict[str, Any]) -> None:
    sid = (await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))).json()[
        "stream_id"
    ]
    r = await stack.api.post(f"/live/{sid}/bans", json=body, headers=stack.auth("alice"))
    assert r.status_code == 422


async def test_viewer_counts_are_kept_newest_first_with_the_peak(
    stack: Stack, infra: InfraUrls, namespace: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from contracts import make_envelope
    from contracts.viewer import ViewerCountChanged
    from servicekit.broker import RabbitEventPublisher

    sid = (await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))).json()[
        "stream_id"
    ]
    broker = make_broker(infra.amqp, app_id="count-bus")
    await broker.connect()
    publisher = RabbitEventPublisher(broker, Names(namespace))
    t0 = datetime.now(UTC)
    for count, peak, offset in ((5, 5, 0), (9, 9, 20), (3, 9, 10)):  # the last is older: ignored
        event = ViewerCountChanged(
            stream_id=sid, viewer_count=count, peak=peak, as_of=t0 + timedelta(seconds=offset)
        )
        await publisher.publish(make_envelope(event, producer="test"))
    await broker.stop()

    async def counted() -> Any:
        body = (await stack.api.get(f"/live/{sid}", headers=stack.auth("bob"))).json()
        return (body["viewer_count"], body["peak_viewer_count"]) == (9, 9)

    await eventually(counted, within=10)
    usage = (await stack.api.get(f"/live/{sid}/usage", headers=stack.auth("alice"))).json()
    assert usage["estimated"]["viewer_minutes"] > 0  # 5 viewers for 20 s at least


async def test_a_banned_moderator_has_no_powers_and_nobody_lifts_their_own_ban(
    stack: Stack,
) -> None:
    a = stack.auth
    sid = (await stack.api.post("/live", json={"title": "x"}, headers=a("alice"))).json()[
        "stream_id"
    ]
    for mod in ("mod", "mod2"):
        r = await stack.api.post(
            f"/live/{sid}/moderators", json={"account_id": mod}, headers=a("alice")
        )
        assert r.status_code == 201
    r = await stack.api.post(
        f"/live/{sid}/bans", json={"account_id": "mod", "duration_s": 600}, headers=a("alice")
    )
    assert r.status_code == 201
    # while timed out, the moderator can neither ban, list, read the log nor lift their own ban
    for method, path, body in [
        ("POST", f"/live/{sid}/bans", {"account_id": "viewer"}),
        ("GET", f"/live/{sid}/bans", None),
        ("GET", f"/live/{sid}/moderation-log", None),
        ("DELETE", f"/live/{sid}/bans/mod", None),
    ]:
        r = await stack.api.request(method, path, json=body, headers=a("mod"))
        assert (r.status_code, r.json()["error"]) == (403, "forbidden"), (method, path, r.text)
    assert [
        b["account_id"]
        for b in (await stack.api.get(f"/live/{sid}/bans", headers=a("alice"))).json()
    ] == ["mod"]
    # another moderator may lift it; then the powers are back
    assert (await stack.api.delete(f"/live/{sid}/bans/mod", headers=a("mod2"))).status_code == 204
    r = await stack.api.post(f"/live/{sid}/bans", json={"account_id": "viewer"}, headers=a("mod"))
    assert r.status_code == 201
    # a banned viewer cannot lift their own ban either
    r = await stack.api.delete(f"/live/{sid}/bans/viewer", headers=a("viewer"))
    assert r.status_code == 403


async def test_the_same_idempotency_key_with_another_body_is_refused(stack: Stack) -> None:
    h = {**stack.auth("alice"), "Idempotency-Key": "create-1"}
    first = await stack.api.post("/live", json={"title": "first"}, headers=h)
    assert first.status_code == 201
    again = await stack.api.post("/live", json={"title": "first"}, headers=h)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    other = await stack.api.post("/live", json={"title": "second"}, headers=h)
    assert (other.status_code, other.json()["error"]) == (422, "idempotency_key_reused")
    mine = (
        await stack.api.get("/live", params={"status": "idle", "owner": "alice"}, headers=h)
    ).json()
    assert [s["title"] for s in mine["items"]] == ["first"]


@pytest.mark.parametrize(
    ("title", "stored"),
    [("e\u0301" * 100, "\u00e9" * 100), (" live \u202e now ", "live \u202e now\u202c")],
)
async def test_titles_follow_the_user_text_rule(stack: Stack, title: str, stored: str) -> None:
    h = stack.auth("alice")
    r = await stack.api.post("/live", json={"title": title}, headers=h)
    assert r.status_code == 201, r.text
    got = (await stack.api.get(f"/live/{r.json()['stream_id']}", headers=h)).json()
    assert got["title"] == stored


@pytest.mark.parametrize("title", ["\u200b\u200c\u200d\u2060\ufeff", "x" * 101, "bell\x07"])
async def test_titles_without_anything_visible_or_too_long_are_refused(
    stack: Stack, title: str
) -> None:
    r = await stack.api.post("/live", json={"title": title}, headers=stack.auth("alice"))
    assert r.status_code == 422
