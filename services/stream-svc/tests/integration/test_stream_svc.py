"""stream-svc on the real broker and database, talking to the Mux simulator through mux-python."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio

from contracts import Envelope
from contracts.blocked_terms import BlockedTermAdded, BlockedTermRemoved
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
        BlockedTermAdded,
        BlockedTermRemoved,
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
            monkeypatch.setenv("STREAM_RECONCILE_AFTER_S", "1.5")
            monkeypatch.setenv("STREAM_RECONCILE_INTERVAL_S", "0.3")
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


async def test_repeated_moderation_commands_are_single(stack: Stack) -> None:
    """The issue's input: banning an account already banned answered 201 three times and wrote
    three log entries (and three notifications). A command that changes nothing is a no-op:
    200 with ``changed: false``, no log entry, no event."""
    sid = (await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))).json()[
        "stream_id"
    ]
    a = stack.auth
    ban = {"account_id": "troll", "reason": "spam"}
    answers = [
        await stack.api.post(f"/live/{sid}/bans", json=ban, headers=a("alice")) for _ in range(3)
    ]
    assert [r.status_code for r in answers] == [201, 200, 200]
    assert [r.json()["changed"] for r in answers] == [True, False, False]
    assert answers[1].json()["at"] == answers[0].json()["at"]  # the ban in force
    timeout = {"account_id": "spammer", "duration_s": 600}
    first = await stack.api.post(f"/live/{sid}/bans", json=timeout, headers=a("alice"))
    again = await stack.api.post(f"/live/{sid}/bans", json=timeout, headers=a("alice"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["expires_at"] == first.json()["expires_at"]  # not extended
    longer = await stack.api.post(
        f"/live/{sid}/bans", json={**timeout, "duration_s": 1200}, headers=a("alice")
    )
    assert (longer.status_code, longer.json()["changed"]) == (201, True)  # new terms
    mod = {"account_id": "mod"}
    assert (
        await stack.api.post(f"/live/{sid}/moderators", json=mod, headers=a("alice"))
    ).status_code == 201
    r = await stack.api.post(f"/live/{sid}/moderators", json=mod, headers=a("alice"))
    assert (r.status_code, r.json()["changed"]) == (200, False)
    r = await stack.api.delete(f"/live/{sid}/bans/nobody", headers=a("alice"))
    assert (r.status_code, r.json()) == (
        200,
        {"account_id": "nobody", "banned": False, "changed": False},
    )
    r = await stack.api.delete(f"/live/{sid}/moderators/nobody", headers=a("alice"))
    assert (r.status_code, r.json()["changed"]) == (200, False)
    assert (
        await stack.api.delete(f"/live/{sid}/bans/troll", headers=a("alice"))
    ).status_code == 204
    r = await stack.api.delete(f"/live/{sid}/bans/troll", headers=a("alice"))
    assert (r.status_code, r.json()["changed"]) == (200, False)
    log = (await stack.api.get(f"/live/{sid}/moderation-log", headers=a("alice"))).json()
    assert [(e["action"], e["account_id"]) for e in log["items"]] == [
        ("user_unbanned", "troll"),
        ("moderator_added", "mod"),
        ("user_banned", "spammer"),
        ("user_banned", "spammer"),
        ("user_banned", "troll"),
    ]
    await eventually(lambda: "moderation.user_unbanned" in stack.types(), within=10)
    await asyncio.sleep(0.5)  # two outbox polls: a late duplicate would be here by now
    assert sorted(stack.types()) == sorted(
        [
            "stream.created",
            "moderation.user_banned",
            "moderation.user_banned",
            "moderation.user_banned",
            "moderation.moderator_added",
            "moderation.user_unbanned",
        ]
    )
    bans = [e.payload for e in stack.published if e.event_type == "moderation.user_banned"]
    ids = {b.ban_id for b in bans}
    assert len(ids) == 3 and None not in ids  # each ban names itself


async def test_concurrent_repeats_are_single_too(stack: Stack) -> None:
    """Many trials of the race: identical commands sent at once (a double click, a retry) are
    logged and announced once."""
    sid = (await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))).json()[
        "stream_id"
    ]
    owner = stack.auth("alice")
    trials = [f"t{i}" for i in range(6)]
    for target in trials:
        bans = await asyncio.gather(
            *(
                stack.api.post(f"/live/{sid}/bans", json={"account_id": target}, headers=owner)
                for _ in range(5)
            )
        )
        assert sorted(r.status_code for r in bans) == [200, 200, 200, 200, 201], target
        assert len({r.json()["at"] for r in bans}) == 1  # all answer with the one ban
        unbans = await asyncio.gather(
            *(stack.api.delete(f"/live/{sid}/bans/{target}", headers=owner) for _ in range(5))
        )
        assert sorted(r.status_code for r in unbans) == [200, 200, 200, 200, 204], target
    mods = await asyncio.gather(
        *(
            stack.api.post(f"/live/{sid}/moderators", json={"account_id": "m"}, headers=owner)
            for _ in range(5)
        )
    )
    assert sorted(r.status_code for r in mods) == [200, 200, 200, 200, 201]
    log = (
        await stack.api.get(f"/live/{sid}/moderation-log", params={"limit": 100}, headers=owner)
    ).json()["items"]
    assert len(log) == 2 * len(trials) + 1
    await eventually(lambda: stack.types().count("moderation.user_unbanned") == 6, within=10)
    await asyncio.sleep(0.5)
    assert stack.types().count("moderation.user_banned") == len(trials)
    assert stack.types().count("moderation.moderator_added") == 1


@pytest.mark.parametrize("account_id", ["a\x1fb", "with space", "x/y", ".."])
async def test_account_ids_in_moderation_bodies_and_paths_are_checked(
    stack: Stack, account_id: str
) -> None:
    sid = (await stack.api.post("/live", json={"title": "x"}, headers=stack.auth("alice"))).json()[
        "stream_id"
    ]
    for route in ("bans", "moderators"):
        r = await stack.api.post(
            f"/live/{sid}/{route}", json={"account_id": account_id}, headers=stack.auth("alice")
        )
        assert (r.status_code, r.json()["error"]) == (422, "validation_error")
    if account_id != "..":  # a client resolves '..' in a path (why such ids are refused)
        r = await stack.api.delete(
            f"/live/{sid}/bans/{quote(account_id, safe='')}", headers=stack.auth("alice")
        )
        assert r.status_code == (404 if "/" in account_id else 422)  # x/y: no such route
    assert (await stack.api.get(f"/live/{sid}/moderation-log", headers=stack.auth("alice"))).json()[
        "items"
    ] == []


async def test_usage_is_what_mux_bills_by_overlap_with_the_window(stack: Stack) -> None:
    """The issue's inputs, over the simulator: a drop and reconnect inside the reconnect window
    is billed until ``idle`` (as long as the recording), windows count by overlap (streams,
    storage after the recording), deletion closes a period; the figures add up across a split
    and the response names its sources."""
    from datetime import UTC, datetime

    await stack.sim_http.post("/_sim/config", json={"reconnect_window_override_s": 1.0})
    alice = stack.auth("alice")

    async def usage(**window: datetime) -> Any:
        params = {k: v.isoformat() for k, v in window.items()}
        r = await stack.api.get("/me/usage", params=params, headers=alice)
        assert r.status_code == 200, r.text
        return r.json()

    async def live(sid: str) -> bool:
        body = (await stack.api.get(f"/live/{sid}", headers=alice)).json()
        return bool(body["status"] == "active")

    t0 = datetime.now(UTC)
    sid = (await stack.api.post("/live", json={"title": "a"}, headers=alice)).json()["stream_id"]
    encoder = f"/_sim/passthrough/{sid}"
    await stack.sim_http.post(f"{encoder}/connect")
    await eventually(lambda: live(sid), within=10)
    await asyncio.sleep(0.4)
    mid = datetime.now(UTC)
    await stack.sim_http.post(f"{encoder}/disconnect")
    await asyncio.sleep(0.3)
    await stack.sim_http.post(f"{encoder}/connect")  # back inside the 1 s window
    await asyncio.sleep(0.5)
    await stack.sim_http.post(f"{encoder}/disconnect")

    async def recorded() -> Any:
        body = (await stack.api.get(f"/live/{sid}/usage", headers=alice)).json()
        return body if body["measured"]["recordings"] == 1 else None

    one = await eventually(recorded, within=15)
    asset = next(iter(stack.sim.simulator.env.assets.values()))
    streamed = one["measured"]["seconds_streamed"]
    assert asset.duration is not None
    assert abs(streamed - asset.duration) < 0.25, (streamed, asset.duration)
    assert abs(one["measured"]["recording_minutes"] * 60 - asset.duration) < 0.01
    assert "reconnect window" in one["basis"]["seconds_streamed"]
    assert any("mux.com/docs" in s for s in one["basis"]["sources"])

    after_start = await usage(**{"from": mid})
    assert after_start["streams"] == 1 and after_start["measured"]["seconds_streamed"] > 0
    done = datetime.now(UTC)
    later = await usage(**{"from": done})
    assert later["measured"]["seconds_streamed"] == 0
    assert later["measured"]["recordings"] == 1
    assert later["estimated"]["storage_minute_months"] > 0  # still stored, still billed
    assert later["streams"] == 1

    other = (await stack.api.post("/live", json={"title": "b"}, headers=alice)).json()["stream_id"]
    await stack.sim_http.post(f"/_sim/passthrough/{other}/connect")
    await eventually(lambda: live(other), within=10)
    await asyncio.sleep(0.3)
    assert (await stack.api.delete(f"/live/{other}", headers=alice)).status_code == 204
    first = (await usage(**{"from": done}))["measured"]["seconds_streamed"]
    await asyncio.sleep(1.0)
    again = await usage(**{"from": done})
    await asyncio.sleep(0.5)
    third = await usage(**{"from": done})
    # deletion closed the period: it ends at our deletion, then at Mux's (a few ms earlier)
    assert 0 < again["measured"]["seconds_streamed"] <= first
    assert third["measured"]["seconds_streamed"] == again["measured"]["seconds_streamed"]
    assert again["streams"] == 2

    end = datetime.now(UTC)
    whole = await usage(**{"from": t0, "to": end})
    halves = [await usage(**{"from": t0, "to": mid}), await usage(**{"from": mid, "to": end})]
    for path in (
        ("measured", "seconds_streamed"),
        ("estimated", "viewer_minutes"),
        ("estimated", "storage_minute_months"),
        ("estimated", "cost_usd", "total"),
    ):

        def pick(body: Any, path: tuple[str, ...] = path) -> float:
            for key in path:
                body = body[key]
            return float(body)

        assert abs(sum(pick(h) for h in halves) - pick(whole)) < 1e-9, path


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
