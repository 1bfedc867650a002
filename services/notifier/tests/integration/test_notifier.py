"""notifier on the real broker and database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contracts import Event, make_envelope
from contracts.chat import GiftSent
from contracts.moderation import UserBanned
from contracts.routing import Names
from contracts.stream import StreamCreated, StreamDeleted, StreamEnded, StreamStarted
from contracts.webhook import MuxWebhookReceived
from notifier.adapters.mongo import MongoInbox
from notifier.settings import Settings
from servicekit.broker import MUX, RabbitEventPublisher, declare_topology, make_broker
from servicekit.settings import load_settings
from testkit.infra import InfraUrls
from testkit.wait import eventually

from .conftest import auth, notifier

pytestmark = pytest.mark.integration


class Bus:
    def __init__(self, publisher: RabbitEventPublisher) -> None:
        self.publisher = publisher

    async def send(self, payload: Event, *, event_id: Any = None) -> None:
        env = make_envelope(payload, producer="test", event_id=event_id)
        if isinstance(payload, MuxWebhookReceived):
            await self.publisher.publish(env, exchange=MUX, routing_key=payload.type)
        else:
            await self.publisher.publish(env)


@pytest_asyncio.fixture
async def bus(infra: InfraUrls, namespace: str) -> AsyncIterator[Bus]:
    broker = make_broker(infra.amqp, app_id="test-bus")
    await broker.connect()
    await declare_topology(broker, Names(namespace), [], delivery_limit=5)
    yield Bus(RabbitEventPublisher(broker, Names(namespace)))
    await broker.stop()


@pytest.fixture
def settings(
    service_env: dict[str, str], drop_namespace_dbs: None, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("NOTIFIER_FANOUT_BATCH", "200")
    monkeypatch.setenv("NOTIFIER_FANOUT_POLL_S", "0.2")
    monkeypatch.setenv("NOTIFIER_FANOUT_LEASE_S", "1")
    return load_settings(Settings)


async def seed_followers(db: Any, owner: str, n: int) -> list[str]:
    now = datetime.now(UTC)
    followers = [f"fan{i:05d}" for i in range(n)]
    await db["follows"].insert_many(
        [
            {
                "_id": f"{f}\x1f{owner}",
                "follower_id": f,
                "followee_id": owner,
                "state": "following",
                "version": 1,
                "since": now,
            }
            for f in followers
        ]
    )
    return followers


def live_events(stream_id: str, owner: str) -> dict[str, Event]:
    now = datetime.now(UTC)
    return {
        "mux": MuxWebhookReceived(
            mux_event_id=f"mux-{stream_id}",
            type="video.live_stream.active",
            created_at=now,
            stream_id=stream_id,
        ),
        "mux_reconnect": MuxWebhookReceived(
            mux_event_id=f"mux2-{stream_id}",
            type="video.live_stream.active",
            created_at=now + timedelta(seconds=40),
            stream_id=stream_id,
        ),
        "created": StreamCreated(
            stream_id=stream_id,
            owner_id=owner,
            title="Speedrun",
            playback_url="https://p/x.m3u8",
            created_at=now,
        ),
        "started": StreamStarted(
            stream_id=stream_id,
            owner_id=owner,
            title="Speedrun",
            playback_url="https://p/x.m3u8",
            started_at=now,
        ),
    }


async def go_live_count(db: Any, stream_id: str) -> int:
    return int(
        await db["notifications"].count_documents(
            {"kind": "stream_live", "data.stream_id": stream_id}
        )
    )


async def test_each_follower_is_notified_once_whatever_the_order_count_and_source(
    settings: Settings, bus: Bus, db: Any
) -> None:
    followers = await seed_followers(db, "alice", 450)
    async with notifier(settings):
        ev = live_events("ls_a", "alice")
        import uuid

        dup = uuid.uuid4()
        # Mux first (owner unknown yet), duplicated; then stream.started twice; then created
        for name, eid in [
            ("mux", dup),
            ("mux", dup),
            ("started", None),
            ("started", None),
            ("created", None),
            ("mux_reconnect", None),
        ]:
            await bus.send(ev[name], event_id=eid)

        async def done() -> bool:
            campaign = await db["golive_campaigns"].find_one({"_id": "ls_a"})
            return bool(campaign and campaign["state"] == "done")

        await eventually(done, within=20)
        await bus.send(ev["mux_reconnect"])  # a reconnect within the window: same stream
        await bus.send(ev["started"])
        import asyncio

        await asyncio.sleep(1.0)
    assert await go_live_count(db, "ls_a") == len(followers)
    per_account = await (
        await db["notifications"].aggregate(
            [
                {"$match": {"kind": "stream_live"}},
                {"$group": {"_id": "$account_id", "n": {"$sum": 1}}},
            ]
        )
    ).to_list()
    assert {d["n"] for d in per_account} == {1}
    assert len(per_account) == len(followers)


async def test_a_crash_midway_resumes_without_skipping_or_repeating(
    settings: Settings, bus: Bus, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    followers = await seed_followers(db, "bob", 2000)
    deliver = MongoInbox.deliver

    async def slow_deliver(self: MongoInbox, batch: Any) -> int:
        # the first instance fans out slowly, so it is surely stopped midway (one write per
        # batch is fast enough to finish all ten batches while the instance shuts down)
        await asyncio.sleep(0.2)
        return await deliver(self, batch)

    monkeypatch.setattr(MongoInbox, "deliver", slow_deliver)
    async with notifier(settings):
        ev = live_events("ls_b", "bob")
        await bus.send(ev["created"])
        await bus.send(ev["started"])

        async def midway() -> bool:
            n = await go_live_count(db, "ls_b")
            return 0 < n < len(followers)

        await eventually(midway, within=20, interval=0.01)
        # leaving the block stops this instance mid fan-out: its lease stays held
    assert await go_live_count(db, "ls_b") < len(followers)
    monkeypatch.setattr(MongoInbox, "deliver", deliver)
    async with notifier(settings):  # a new instance takes the campaign over after the lease

        async def finished() -> bool:
            campaign = await db["golive_campaigns"].find_one({"_id": "ls_b"})
            return bool(campaign and campaign["state"] == "done")

        await eventually(finished, within=30)
    assert await go_live_count(db, "ls_b") == len(followers)


async def test_gift_and_ban_notifications_and_the_inbox(
    settings: Settings, bus: Bus, db: Any, jwt_secret: str
) -> None:
    now = datetime.now(UTC)
    async with notifier(settings) as api:
        await bus.send(
            StreamCreated(
                stream_id="ls_c",
                owner_id="carol",
                title="Cooking",
                playback_url="https://p",
                created_at=now,
            )
        )
        for i in range(3):
            await bus.send(
                GiftSent(
                    gift_id=f"g{i}",
                    stream_id="ls_c",
                    sender_id="dave",
                    recipient_id="carol",
                    gift_type="rose",
                    amount=i + 1,
                    unit_price=10,
                    total_price=10 * (i + 1),
                    sent_at=now + timedelta(seconds=i),
                )
            )
        ban = UserBanned(
            stream_id="ls_c",
            account_id="troll",
            by="carol",
            at=now,
            expires_at=now + timedelta(minutes=5),
            reason="spam",
        )
        await bus.send(ban)
        await bus.send(ban)  # a duplicate (another event id): still one notification

        async def unread() -> int:
            r = await api.get("/notifications/unread-count", headers=auth(jwt_secret, "carol"))
            return int(r.json()["unread"])

        assert await eventually(lambda: _eq(unread, 3), within=15)
        troll = auth(jwt_secret, "troll")
        await eventually(lambda: _count(api, troll, 1), within=15)
        page1 = (
            await api.get("/notifications", params={"limit": 2}, headers=auth(jwt_secret, "carol"))
        ).json()
        page2 = (
            await api.get(
                "/notifications",
                params={"limit": 2, "cursor": page1["next_cursor"]},
                headers=auth(jwt_secret, "carol"),
            )
        ).json()
        titles = [n["title"] for n in page1["items"] + page2["items"]]
        assert titles == ["dave sent you 3 roses", "dave sent you 2 roses", "dave sent you 1 rose"]
        first = page1["items"][0]["notification_id"]
        r = await api.post("/notifications/read", json={"ids": [first]}, headers=troll)
        assert r.json() == {"marked": 0}  # not troll's
        r = await api.post(
            "/notifications/read", json={"ids": [first]}, headers=auth(jwt_secret, "carol")
        )
        assert r.json() == {"marked": 1}
        unread_only = (
            await api.get(
                "/notifications", params={"unread": "true"}, headers=auth(jwt_secret, "carol")
            )
        ).json()
        assert len(unread_only["items"]) == 2
        r = await api.post(
            "/notifications/read", json={"all": True}, headers=auth(jwt_secret, "carol")
        )
        assert r.json() == {"marked": 2}
        assert await unread() == 0
        banned = (await api.get("/notifications", headers=troll)).json()["items"]
        assert banned[0]["title"] == "You were timed out in Cooking"


async def _eq(probe: Any, want: int) -> bool:
    return bool(await probe() == want)


async def _count(api: httpx.AsyncClient, headers: dict[str, str], want: int) -> bool:
    r = await api.get("/notifications", headers=headers)
    return len(r.json()["items"]) == want


async def test_follow_routes_and_bad_input(settings: Settings, jwt_secret: str) -> None:
    async with notifier(settings) as api:
        me = auth(jwt_secret, "erin")
        r = await api.put("/users/frank/follow", headers=me)
        assert r.json() == {"account_id": "frank", "following": True, "changed": True}
        assert (await api.put("/users/frank/follow", headers=me)).json()["changed"] is False
        await api.put("/users/gina/follow", headers=me)
        r = await api.get("/me/following", params={"limit": 1}, headers=me)
        nxt = (
            await api.get("/me/following", params={"cursor": r.json()["next_cursor"]}, headers=me)
        ).json()
        assert [i["account_id"] for i in r.json()["items"] + nxt["items"]] == ["frank", "gina"]
        count = (await api.get("/users/frank/followers/count", headers=me)).json()
        assert count == {"account_id": "frank", "followers": 1}
        assert (await api.delete("/users/frank/follow", headers=me)).status_code == 204
        assert (await api.get("/users/frank/followers/count", headers=me)).json()["followers"] == 0
        r = await api.put("/users/erin/follow", headers=me)
        assert (r.status_code, r.json()["error"]) == (422, "validation_error")
        assert (await api.get("/notifications", params={"limit": 0}, headers=me)).status_code == 422
        assert (
            await api.get("/notifications", params={"cursor": "zzz"}, headers=me)
        ).status_code == 422
        assert (await api.post("/notifications/read", json={}, headers=me)).status_code == 422
        assert (
            await api.post("/notifications/read", json={"ids": ["x"], "all": True}, headers=me)
        ).status_code == 422
        assert (
            await api.post("/notifications/read", json={"ids": "x"}, headers=me)
        ).status_code == 422
        assert (await api.get("/notifications")).status_code == 401


class TestOneAuthority:
    """stream-svc owns the lifecycle (issue 16, section 4)."""

    async def test_a_late_mux_active_for_a_deleted_stream_notifies_nobody(
        self, settings: Settings, bus: Bus, db: Any
    ) -> None:
        await seed_followers(db, "carol", 20)
        async with notifier(settings):
            ev = live_events("ls_gone", "carol")
            await bus.send(ev["created"])
            await bus.send(
                StreamDeleted(stream_id="ls_gone", owner_id="carol", deleted_at=datetime.now(UTC))
            )
            await bus.send(ev["mux"])  # raw Mux events never start a campaign
            await bus.send(ev["started"])  # nor does a start that arrives after the deletion

            async def settled() -> bool:
                campaign = await db["golive_campaigns"].find_one({"_id": "ls_gone"})
                return bool(campaign and campaign["state"] == "cancelled")

            assert await eventually(settled, within=10)
            await asyncio.sleep(0.6)  # a few fan-out polls
        assert await go_live_count(db, "ls_gone") == 0

    async def test_a_campaign_not_yet_sent_is_cancelled_by_stream_ended(
        self, settings: Settings, bus: Bus, db: Any
    ) -> None:
        await seed_followers(db, "dan", 20)
        async with notifier(settings):
            ev = live_events("ls_short", "dan")
            # started before the owner is known would wait; here the stream ends first
            await bus.send(
                StreamEnded(stream_id="ls_short", owner_id="dan", ended_at=datetime.now(UTC))
            )
            await bus.send(ev["started"])
            await bus.send(ev["created"])

            async def cancelled() -> bool:
                campaign = await db["golive_campaigns"].find_one({"_id": "ls_short"})
                return bool(campaign and campaign["state"] == "cancelled")

            assert await eventually(cancelled, within=10)
            await asyncio.sleep(0.6)
        assert await go_live_count(db, "ls_short") == 0

    async def test_one_go_live_per_streamer_per_follower_within_the_window(
        self, settings: Settings, bus: Bus, db: Any
    ) -> None:
        followers = await seed_followers(db, "erin", 30)
        neighbour_fans = await seed_followers(db, "frank", 5)
        async with notifier(settings):
            for sid in ("ls_e1", "ls_e2", "ls_e3"):  # three streams in a row
                await bus.send(live_events(sid, "erin")["started"])

                async def done(sid: str = sid) -> bool:
                    campaign = await db["golive_campaigns"].find_one({"_id": sid})
                    return bool(campaign and campaign["state"] == "done")

                assert await eventually(done, within=15)
            await bus.send(live_events("ls_f1", "frank")["started"])
            assert await eventually(
                lambda: _go_live_count_is(db, "ls_f1", len(neighbour_fans)), within=15
            )
        per_follower = await (
            await db["notifications"].aggregate(
                [
                    {"$match": {"kind": "stream_live", "data.owner_id": "erin"}},
                    {"$group": {"_id": "$account_id", "n": {"$sum": 1}}},
                ]
            )
        ).to_list()
        assert sorted(d["_id"] for d in per_follower) == sorted(followers)
        assert {d["n"] for d in per_follower} == {1}
        # another streamer's followers are told about their own streamer regardless
        assert await go_live_count(db, "ls_f1") == len(neighbour_fans)


async def _go_live_count_is(db: Any, stream_id: str, want: int) -> bool:
    return await go_live_count(db, stream_id) == want
