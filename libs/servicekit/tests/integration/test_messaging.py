"""The kit's messaging guarantees against the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope, make_envelope
from contracts.routing import Names
from contracts.viewer import ViewerJoined
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker
from servicekit.consumer import EventDispatcher, attach_consumer
from servicekit.idempotency import MongoProcessedEvents
from servicekit.logs import set_correlation_id
from servicekit.outbox import OutboxRelay, outbox_indexes, stage_insert, stage_update
from testkit.infra import InfraUrls
from testkit.wait import eventually

pytestmark = pytest.mark.integration

SERVICE = "kit-test"


def joined(account: str = "acct_1") -> ViewerJoined:
    return ViewerJoined(stream_id="s1", account_id=account, joined_at=datetime.now(UTC))


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    await eventually(predicate, within=timeout)


async def dlq_messages(
    url: str, names: Names, queue: str
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    conn = await aio_pika.connect(url)
    try:
        channel = await conn.channel()
        q = await channel.declare_queue(names.dlq(queue), passive=True)
        out = []
        while (msg := await q.get(no_ack=True, fail=False)) is not None:
            out.append(msg)
        return out
    finally:
        await conn.close()


class TestConsumer:
    async def test_event_published_by_the_kit_reaches_the_handler_with_its_correlation_id(
        self, infra: InfraUrls, namespace: str, mongo_db: AsyncDatabase[dict[str, Any]]
    ) -> None:
        names = Names(namespace)
        broker = make_broker(infra.amqp, app_id=SERVICE)
        got: list[tuple[Envelope[Any], str | None]] = []
        events = EventDispatcher()

        @events.on(ViewerJoined)
        async def on_joined(env: Envelope[Any]) -> None:
            from servicekit.logs import correlation_id

            got.append((env, correlation_id()))

        spec = attach_consumer(broker, names.queue(SERVICE), events, consumer=SERVICE)
        await broker.connect()
        await declare_topology(broker, names, [spec], delivery_limit=3)
        await broker.start()
        try:
            set_correlation_id("req-abc")
            env = make_envelope(joined(), producer="test")
            await RabbitEventPublisher(broker, names).publish(env)
            await wait_for(lambda: len(got) == 1)
            assert got[0][0].event_id == env.event_id
            assert got[0][1] == "req-abc"
        finally:
            await broker.stop()

    async def test_redelivered_event_is_applied_once(
        self, infra: InfraUrls, namespace: str, mongo_db: AsyncDatabase[dict[str, Any]]
    ) -> None:
        names = Names(namespace)
        broker = make_broker(infra.amqp, app_id=SERVICE)
        calls: list[uuid.UUID] = []
        events = EventDispatcher()

        @events.on(ViewerJoined)
        async def on_joined(env: Envelope[Any]) -> None:
            calls.append(env.event_id)

        processed = MongoProcessedEvents(mongo_db["processed_events"])
        spec = attach_consumer(
            broker, names.queue(SERVICE), events, consumer=SERVICE, processed=processed
        )
        await broker.connect()
        await declare_topology(broker, names, [spec], delivery_limit=3)
        await broker.start()
        try:
            env = make_envelope(joined(), producer="test")
            publisher = RabbitEventPublisher(broker, names)
            for _ in range(3):
                await publisher.publish(env)
            other = make_envelope(joined("acct_2"), producer="test")
            await publisher.publish(other)
            await wait_for(lambda: other.event_id in calls)
            await asyncio.sleep(0.3)
            assert calls.count(env.event_id) == 1
            assert await mongo_db["processed_events"].count_documents({}) == 2
        finally:
            await broker.stop()

    async def test_poison_message_lands_in_the_dlq_after_the_delivery_limit(
        self, infra: InfraUrls, namespace: str
    ) -> None:
        names = Names(namespace)
        broker = make_broker(infra.amqp, app_id=SERVICE)
        attempts: list[int] = []
        events = EventDispatcher()

        @events.on(ViewerJoined)
        async def always_fails(env: Envelope[Any]) -> None:
            attempts.append(1)
            raise RuntimeError("cannot process this one")

        queue = names.queue(SERVICE)
        spec = attach_consumer(broker, queue, events, consumer=SERVICE, retry_base_s=0.01)
        await broker.connect()
        await declare_topology(broker, names, [spec], delivery_limit=2)
        await broker.start()
        try:
            env = make_envelope(joined(), producer="test")
            await RabbitEventPublisher(broker, names).publish(env)
            dead: list[Any] = []

            async def poll() -> None:
                while not dead:
                    dead.extend(await dlq_messages(infra.amqp, names, queue))
                    await asyncio.sleep(0.1)

            await asyncio.wait_for(poll(), 15)
            assert dead[0].message_id == str(env.event_id)
            assert dead[0].headers["x-death"][0]["reason"] == "delivery_limit"
            assert len(attempts) == 3  # first delivery + 2 redeliveries
        finally:
            await broker.stop()

    async def test_invalid_envelope_is_dead_lettered_at_once_and_others_still_flow(
        self, infra: InfraUrls, namespace: str
    ) -> None:
        names = Names(namespace)
        broker = make_broker(infra.amqp, app_id=SERVICE)
        got: list[Any] = []
        events = EventDispatcher()

        @events.on(ViewerJoined)
        async def on_joined(env: Envelope[Any]) -> None:
            got.append(env)

        queue = names.queue(SERVICE)
        spec = attach_consumer(broker, queue, events, consumer=SERVICE)
        await broker.connect()
        await declare_topology(broker, names, [spec], delivery_limit=5)
        await broker.start()
        try:
            await broker.publish(b"{not json", queue=queue, message_id="bad-1")
            bad_payload = make_envelope(joined(), producer="t").model_dump(mode="json")
            del bad_payload["payload"]["account_id"]
            import json

            await broker.publish(json.dumps(bad_payload).encode(), queue=queue, message_id="bad-2")
            await RabbitEventPublisher(broker, names).publish(make_envelope(joined(), producer="t"))
            await wait_for(lambda: len(got) == 1)
            dead: list[Any] = []
            for _ in range(50):
                dead.extend(await dlq_messages(infra.amqp, names, queue))
                if len(dead) >= 2:
                    break
                await asyncio.sleep(0.1)
            assert sorted(m.message_id for m in dead) == ["bad-1", "bad-2"]
            assert {m.headers["x-death"][0]["reason"] for m in dead} == {"rejected"}
        finally:
            await broker.stop()


class TestOutbox:
    async def test_a_probe_is_confirmed_and_fails_while_the_broker_is_cut_off(
        self, infra: InfraUrls, namespace: str, fault_proxy: Any
    ) -> None:
        """``RabbitEventPublisher.probe``: confirmed by a reachable broker (the message reaches
        no queue), an error while cut off, confirmed again once the connection is back."""
        proxy, proxied = fault_proxy(infra.amqp)
        broker = make_broker(proxied, app_id=SERVICE)
        await broker.connect()
        publisher = RabbitEventPublisher(broker, Names(namespace), timeout=2)

        async def probe_fails() -> bool:
            try:
                await publisher.probe(timeout=1.0)
            except Exception:
                return True
            return False

        try:
            assert await publisher.probe() is True
            proxy.cut()
            assert await probe_fails()
            proxy.restore()
            deadline = asyncio.get_running_loop().time() + 30
            while await probe_fails():
                assert asyncio.get_running_loop().time() < deadline, "no probe after restore"
                await asyncio.sleep(0.2)
        finally:
            await broker.stop()

    async def test_event_staged_while_the_broker_is_unreachable_is_published_when_it_returns(
        self,
        infra: InfraUrls,
        namespace: str,
        mongo_db: AsyncDatabase[dict[str, Any]],
        fault_proxy: Any,
    ) -> None:
        names = Names(namespace)
        # a consumer on a direct connection to see what arrives
        watcher = make_broker(infra.amqp, app_id="watcher")
        got: list[Envelope[Any]] = []
        events = EventDispatcher()

        @events.on(ViewerJoined)
        async def on_joined(env: Envelope[Any]) -> None:
            got.append(env)

        spec = attach_consumer(watcher, names.queue(SERVICE), events, consumer=SERVICE)
        await watcher.connect()
        await declare_topology(watcher, names, [spec], delivery_limit=5)
        await watcher.start()

        proxy, proxied = fault_proxy(infra.amqp)
        broker = make_broker(proxied, app_id=SERVICE)
        await broker.connect()
        col = mongo_db["aggregates"]
        from servicekit.mongo import ensure_indexes

        await ensure_indexes(mongo_db, outbox_indexes(["aggregates"]))
        relay = OutboxRelay(
            [col],
            RabbitEventPublisher(broker, names, timeout=2),
            poll_s=0.2,
            grace_s=0.0,
            max_backoff_s=0.5,
        )
        await relay.start()
        try:
            proxy.cut()
            first = make_envelope(joined("acct_1"), producer="test")
            await col.insert_one({"_id": "agg1", "state": "a", **stage_insert([first])})
            relay.kick("aggregates", "agg1")
            second = make_envelope(joined("acct_2"), producer="test")
            await col.update_one({"_id": "agg1"}, stage_update({"$set": {"state": "b"}}, [second]))
            relay.kick("aggregates", "agg1")
            await asyncio.sleep(1.5)
            assert got == []
            doc = await col.find_one({"_id": "agg1"})
            assert doc is not None and doc["_outbox_n"] == 2 and doc["state"] == "b"
            proxy.restore()
            await wait_for(lambda: len(got) == 2, timeout=30)
            assert [e.event_id for e in got] == [first.event_id, second.event_id]
            await wait_for(lambda: relay.healthy, timeout=5)
            doc = await col.find_one({"_id": "agg1"})
            assert doc is not None and doc["_outbox_n"] == 0 and doc["_outbox"] == {}
        finally:
            await relay.stop()
            await broker.stop()
            await watcher.stop()

    async def test_two_relays_clearing_the_same_event_do_not_double_count(
        self, mongo_db: AsyncDatabase[dict[str, Any]]
    ) -> None:
        from servicekit.memory import RecordingPublisher

        col = mongo_db["aggregates"]
        envs = [make_envelope(joined(f"a{i}"), producer="t") for i in range(3)]
        await col.insert_one({"_id": "x", **stage_insert(envs)})
        pub_a, pub_b = RecordingPublisher(), RecordingPublisher()
        relay_a = OutboxRelay([col], pub_a)
        relay_b = OutboxRelay([col], pub_b)
        await asyncio.gather(relay_a.publish_pending(), relay_b.publish_pending())
        doc = await col.find_one({"_id": "x"})
        assert doc is not None and doc["_outbox_n"] == 0
        published = {p.envelope.event_id for p in pub_a.published + pub_b.published}
        assert published == {e.event_id for e in envs}


class TestProcessedEventsOnMongo:
    async def test_a_crashed_claim_is_taken_over_after_its_lease_and_done_is_final(
        self, mongo_db: AsyncDatabase[dict[str, Any]]
    ) -> None:
        from servicekit.idempotency import EventInProgress

        store = MongoProcessedEvents(mongo_db["processed_events"], lease_s=0.3)
        eid = uuid.uuid4()
        now = datetime.now(UTC)
        assert await store._claim(f"c:{eid}", now)  # a consumer claimed it, then died
        with pytest.raises(EventInProgress):
            await store.run_once("c", eid, _noop)
        await asyncio.sleep(0.4)
        ran: list[int] = []

        async def work() -> None:
            ran.append(1)

        assert await store.run_once("c", eid, work) is True
        assert await store.run_once("c", eid, work) is False
        assert ran == [1]
        doc = await mongo_db["processed_events"].find_one({"_id": f"c:{eid}"})
        assert doc is not None
        assert doc["state"] == "done"
        assert isinstance(doc["at"], datetime)  # the TTL field stays a date


async def _noop() -> None:
    return None
