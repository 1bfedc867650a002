"""viewer-svc on the real broker and database, two instances sharing them."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contracts import Envelope, Event, make_envelope
from contracts.moderation import UserBanned
from contracts.routing import Names
from contracts.stream import StreamCreated, StreamEnded, StreamStarted
from contracts.viewer import ViewerCountChanged, ViewerJoined, ViewerLeft
from servicekit.auth import mint_token
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker
from servicekit.consumer import EventDispatcher, attach_consumer
from servicekit.settings import load_settings
from testkit.infra import InfraUrls
from testkit.servers import serve_app
from testkit.wait import eventually
from viewer_svc.entrypoints.http import create_app
from viewer_svc.settings import Settings

pytestmark = pytest.mark.integration


class Bus:
    def __init__(self, publisher: RabbitEventPublisher) -> None:
        self.publisher = publisher
        self.got: list[Envelope[Any]] = []

    async def send(self, payload: Event) -> None:
        await self.publisher.publish(make_envelope(payload, producer="test"))

    def of(self, cls: type[Event]) -> list[Any]:
        return [e.payload for e in self.got if isinstance(e.payload, cls)]


@pytest_asyncio.fixture
async def bus(infra: InfraUrls, namespace: str) -> AsyncIterator[Bus]:
    names = Names(namespace)
    broker = make_broker(infra.amqp, app_id="test-bus")
    bus = Bus(RabbitEventPublisher(broker, names))
    events = EventDispatcher()

    @events.on(ViewerJoined, ViewerLeft, ViewerCountChanged)
    async def record(env: Envelope[Any]) -> None:
        bus.got.append(env)

    spec = attach_consumer(broker, names.queue("kit-test"), events, consumer="watcher")
    await broker.connect()
    await declare_topology(broker, names, [spec], delivery_limit=5)
    await broker.start()
    yield bus
    await broker.stop()


@pytest.fixture
def settings(
    service_env: dict[str, str], drop_namespace_dbs: None, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("VIEWER_PRESENCE_TIMEOUT_S", "1.5")
    monkeypatch.setenv("VIEWER_SWEEP_INTERVAL_S", "0.2")
    monkeypatch.setenv("VIEWER_COUNT_INTERVAL_S", "1")
    return load_settings(Settings)


@contextlib.asynccontextmanager
async def instances(settings: Settings, n: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for _ in range(n):
            base = await stack.enter_async_context(serve_app(create_app(settings)))
            clients.append(await stack.enter_async_context(httpx.AsyncClient(base_url=base)))
        yield clients


def auth(secret: str, account: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(secret, account)}"}


async def announce_live(bus: Bus, stream_id: str) -> None:
    now = datetime.now(UTC)
    # reordered on purpose: started before created
    await bus.send(
        StreamStarted(
            stream_id=stream_id,
            owner_id="owner",
            title="t",
            playback_url=f"https://p/{stream_id}.m3u8",
            started_at=now,
        )
    )
    await bus.send(
        StreamCreated(
            stream_id=stream_id,
            owner_id="owner",
            title="t",
            playback_url=f"https://p/{stream_id}.m3u8",
            created_at=now,
        )
    )


async def test_two_instances_keep_an_exact_count_under_concurrent_joins_and_leaves(
    settings: Settings, bus: Bus, jwt_secret: str
) -> None:
    # nobody times out here: on the slow stand-in the joins alone can outlast a short timeout
    settings = settings.model_copy(update={"presence_timeout_s": 60.0})
    async with instances(settings, 2) as (a, b):
        await announce_live(bus, "s1")

        async def joinable() -> bool:
            return (
                await a.post("/live/s1/join", headers=auth(jwt_secret, "probe"))
            ).status_code == 200

        await eventually(joinable, within=10)
        await a.post("/live/s1/leave", headers=auth(jwt_secret, "probe"))
        accounts = [f"acct{i}" for i in range(40)]
        stays = set(accounts[::2])
        rng = random.Random(7)

        async def viewer(account: str) -> None:
            for _ in range(3):  # repeated joins from both instances (several devices)
                client = rng.choice([a, b])
                r = await client.post("/live/s1/join", headers=auth(jwt_secret, account))
                assert r.status_code == 200
            if account not in stays:
                await rng.choice([a, b]).post("/live/s1/leave", headers=auth(jwt_secret, account))

        await asyncio.gather(*(viewer(acct) for acct in accounts))

        async def counted() -> bool:  # join responses may show a count up to 1 s old
            r = await b.post("/live/s1/heartbeat", headers=auth(jwt_secret, accounts[0]))
            return bool(r.json()["viewer_count"] == len(stays))

        await eventually(counted, within=5)

        async def last_count() -> int | None:
            counts = bus.of(ViewerCountChanged)
            latest = max(counts, key=lambda c: c.as_of, default=None)
            return latest.viewer_count if latest and latest.viewer_count == len(stays) else None

        assert await eventually(last_count, within=10) == len(stays)

        # joins are announced after the count (publish_counts), coalesced: an account that
        # joined and left within one interval may never be announced, and none is announced
        # twice while it stays
        def joined() -> list[str]:
            return [j.account_id for j in bus.of(ViewerJoined) if j.account_id != "probe"]

        await eventually(lambda: stays <= set(joined()), within=5)
        assert len(joined()) == len(set(joined()))


async def test_silent_viewers_time_out_and_bans_and_stream_end_remove_viewers(
    settings: Settings, bus: Bus, jwt_secret: str
) -> None:
    async with instances(settings, 1) as (api,):
        await announce_live(bus, "s2")

        async def joined(account: str) -> bool:
            return (
                await api.post("/live/s2/join", headers=auth(jwt_secret, account))
            ).status_code == 200

        await eventually(lambda: joined("quiet"), within=10)
        await api.post("/live/s2/join", headers=auth(jwt_secret, "troll"))
        await api.post("/live/s2/join", headers=auth(jwt_secret, "fan"))
        await eventually(lambda: any(e.reason == "timeout" for e in bus.of(ViewerLeft)), within=10)

        async def back() -> bool:  # joins are announced with the next count (coalesced)
            await api.post("/live/s2/heartbeat", headers=auth(jwt_secret, "troll"))
            await api.post("/live/s2/heartbeat", headers=auth(jwt_secret, "fan"))
            return len([j for j in bus.of(ViewerJoined) if j.account_id == "troll"]) >= 2

        await eventually(back, within=10, interval=0.3)
        now = datetime.now(UTC)
        await bus.send(UserBanned(stream_id="s2", account_id="troll", by="owner", at=now))
        await eventually(lambda: any(e.reason == "banned" for e in bus.of(ViewerLeft)), within=10)
        r = await api.post("/live/s2/join", headers=auth(jwt_secret, "troll"))
        assert r.status_code == 403
        await bus.send(StreamEnded(stream_id="s2", owner_id="owner", ended_at=now))

        async def over() -> bool:
            return (
                await api.post("/live/s2/join", headers=auth(jwt_secret, "fan"))
            ).status_code == 409

        await eventually(over, within=10)

        def reasons() -> set[tuple[str, str]]:  # leaves are announced by the next count
            return {(e.account_id, e.reason) for e in bus.of(ViewerLeft)}

        fan_left = {("fan", "stream_ended"), ("fan", "timeout")}
        await eventually(lambda: fan_left & reasons(), within=10)
        assert {("quiet", "timeout"), ("troll", "banned")} <= reasons()


async def test_an_instance_that_stops_leaves_its_viewers_counted_until_their_timeout(
    settings: Settings, bus: Bus, jwt_secret: str
) -> None:
    """Presence lives in each instance's memory: when one stops (or crashes), the viewers it
    saw stay counted by the others until their presence timeout (1.5 s here), then the count
    event follows and the document it left is pruned."""
    async with instances(settings, 1) as (b,):
        await announce_live(bus, "s3")

        async def count_on(api: httpx.AsyncClient, account: str, want: int) -> bool:
            r = await api.post("/live/s3/heartbeat", headers=auth(jwt_secret, account))
            return r.status_code == 200 and r.json()["viewer_count"] == want

        def count_on_b(want: int) -> Any:
            return count_on(b, "bob", want)

        await eventually(lambda: count_on_b(1), within=10)

        async def keep_watching() -> None:  # bob's player, well within the 1.5 s timeout
            while True:
                await b.post("/live/s3/heartbeat", headers=auth(jwt_secret, "bob"))
                await asyncio.sleep(0.2)

        player = asyncio.create_task(keep_watching())
        try:
            async with instances(settings, 1) as (a,):
                # each counts the other's viewer once the other's batch is written
                await eventually(lambda: count_on(a, "alice", 2), within=10)
                await eventually(lambda: count_on_b(2), within=10)
            # a stopped; alice, seen only by a, stops counting at her timeout on b
            await eventually(lambda: count_on_b(1), within=10)
        finally:
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player

        async def published_one() -> bool:
            counts = [c for c in bus.of(ViewerCountChanged) if c.stream_id == "s3"]
            return max(counts, key=lambda c: c.as_of).viewer_count == 1

        await eventually(published_one, within=10)

        def left() -> list[tuple[str, str]]:  # announced after the count (publish_counts)
            return [(e.account_id, e.reason) for e in bus.of(ViewerLeft) if e.stream_id == "s3"]

        await eventually(lambda: ("alice", "timeout") in left(), within=5)
