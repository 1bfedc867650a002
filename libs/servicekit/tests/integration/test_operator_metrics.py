"""The kit's operator metrics on ``/metrics``, against the real broker and database: events
consumed, failed and dead-lettered; consumer lag and dead letters per queue; outbox backlog."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Envelope, make_envelope
from contracts.routing import Names
from contracts.stream import StreamStarted
from contracts.viewer import ViewerJoined
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker
from servicekit.consumer import EventDispatcher, attach_consumer
from servicekit.health import Readiness
from servicekit.http import create_service_app
from servicekit.memory import RecordingPublisher
from servicekit.outbox import OUTBOX_FIELD, OutboxRelay, stage_insert
from servicekit.queues import QueueDepthSampler, Sampled
from testkit.infra import InfraUrls
from testkit.metrics import metric_value, scrape
from testkit.wait import eventually

pytestmark = pytest.mark.integration

SERVICE = "kit-metrics"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def app() -> FastAPI:
    return create_service_app(title="livecast kit-metrics", readiness=lambda _: Readiness())


async def value(name: str, **labels: str) -> float:
    return metric_value(await scrape(app()), name, **labels) or 0.0


def joined() -> ViewerJoined:
    return ViewerJoined(stream_id="s1", account_id="a1", joined_at=datetime.now(UTC))


def started() -> StreamStarted:
    return StreamStarted(
        stream_id="s1", owner_id="o", title="t", playback_url="https://p", started_at=NOW
    )


async def test_consumed_failed_dead_lettered_and_queue_depths(
    infra: InfraUrls, namespace: str
) -> None:
    names = Names(namespace)
    queue, label = names.queue(SERVICE), f"{SERVICE}-{namespace}"
    broker = make_broker(infra.amqp, app_id=SERVICE)
    events = EventDispatcher()
    handled: list[str] = []

    @events.on(ViewerJoined)
    async def ok(env: Envelope[Any]) -> None:
        handled.append(str(env.event_id))

    @events.on(StreamStarted)
    async def poison(env: Envelope[Any]) -> None:
        raise RuntimeError("always fails")

    spec = attach_consumer(
        broker,
        queue,
        events,
        consumer=SERVICE,
        retry_base_s=0.01,
        label=label,
        delivery_limit=2,
    )
    before = {
        "handled": await value(
            "livecast_events_consumed_total",
            queue=label,
            event_type=ViewerJoined.TYPE,
            outcome="handled",
        ),
        "failed": await value(
            "livecast_events_consumed_total",
            queue=label,
            event_type=StreamStarted.TYPE,
            outcome="failed",
        ),
    }
    await broker.connect()
    await declare_topology(broker, names, [spec], delivery_limit=2)
    await broker.start()
    sampler = QueueDepthSampler(infra.amqp, [Sampled(queue, names.dlq(queue), label)])
    try:
        publisher = RabbitEventPublisher(broker, names)
        await publisher.publish(make_envelope(joined(), producer="t"))
        await publisher.publish(make_envelope(started(), producer="t"))
        await broker.publish(b"not an envelope", queue=queue)

        async def settled() -> bool:
            dead = await value("livecast_events_dead_lettered_total", queue=label)
            return bool(handled) and dead >= 1 and (await sampler.sample())[label][2] == 2

        await eventually(settled, within=20)
        text = await scrape(app())
        consumed = "livecast_events_consumed_total"
        assert (
            metric_value(
                text, consumed, queue=label, event_type=ViewerJoined.TYPE, outcome="handled"
            )
            == before["handled"] + 1
        )
        # delivered 3 times (limit 2): three failures, the last one dead-lettered
        assert (
            metric_value(
                text, consumed, queue=label, event_type=StreamStarted.TYPE, outcome="failed"
            )
            == before["failed"] + 3
        )
        dead = "livecast_events_dead_lettered_total"
        assert metric_value(text, dead, queue=label, reason="invalid") == 1
        assert metric_value(text, dead, queue=label, reason="delivery_limit") == 1
        assert metric_value(text, "livecast_dead_letter_queue_messages", queue=label) == 2
        assert metric_value(text, "livecast_queue_consumers", queue=label) == 1
        assert metric_value(text, "livecast_queue_messages", queue=label) == 0
    finally:
        await sampler.stop()
        await broker.stop()


async def test_consumer_lag_counts_messages_waiting_in_the_queue(
    infra: InfraUrls, namespace: str
) -> None:
    names = Names(namespace)
    queue, label = names.queue(SERVICE, "idle"), f"{SERVICE}-idle-{namespace}"
    broker = make_broker(infra.amqp, app_id=SERVICE)
    events = EventDispatcher()

    @events.on(ViewerJoined)
    async def never_called(env: Envelope[Any]) -> None: ...

    spec = attach_consumer(broker, queue, events, consumer=SERVICE, label=label)
    await broker.connect()
    await declare_topology(broker, names, [spec], delivery_limit=2)  # declared, not consuming
    sampler = QueueDepthSampler(infra.amqp, [Sampled(queue, names.dlq(queue), label)])
    try:
        publisher = RabbitEventPublisher(broker, names)
        for _ in range(3):
            await publisher.publish(make_envelope(joined(), producer="t"))
        await eventually(lambda: _ready(sampler, label, 3), within=10)
        assert await value("livecast_queue_messages", queue=label) == 3
        assert await value("livecast_queue_consumers", queue=label) == 0
    finally:
        await sampler.stop()
        await broker.stop()


async def _ready(sampler: QueueDepthSampler, label: str, n: int) -> bool:
    return (await sampler.sample()).get(label, (0, 0, 0))[0] == n


async def test_outbox_backlog_and_the_age_of_the_oldest_unpublished_event(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    col = mongo_db["staging"]
    relay = OutboxRelay([col], RecordingPublisher(fail=True))
    old = stage_insert([make_envelope(started(), producer="t")])
    for item in old[OUTBOX_FIELD].values():
        item["staged_at"] = time.time() - 120
    await col.insert_many(
        [
            {"_id": "a", **old},
            {"_id": "b", **stage_insert([make_envelope(joined(), producer="t") for _ in range(2)])},
            {"_id": "neighbour", "x": 1},
        ]
    )
    await relay.sample_backlog()
    text = await scrape(app())
    assert metric_value(text, "livecast_outbox_backlog_events", collection="staging") == 3
    age = metric_value(text, "livecast_outbox_oldest_unpublished_age_seconds", collection="staging")
    assert age is not None and 119 <= age < 180

    await col.delete_many({"_id": {"$in": ["a", "b"]}})
    await relay.sample_backlog()
    text = await scrape(app())
    assert metric_value(text, "livecast_outbox_backlog_events", collection="staging") == 0
    assert (
        metric_value(text, "livecast_outbox_oldest_unpublished_age_seconds", collection="staging")
        == 0
    )
    assert await col.count_documents({"_id": "neighbour"}) == 1
