"""The operator's dead-letter tool: list, peek and requeue against the real broker."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import Envelope, make_envelope
from contracts.routing import Names
from contracts.viewer import ViewerJoined
from servicekit import dlq
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker
from servicekit.consumer import EventDispatcher, attach_consumer
from testkit.infra import InfraUrls
from testkit.wait import eventually

pytestmark = pytest.mark.integration


async def test_a_dead_lettered_event_is_peeked_and_requeued_to_its_queue(
    infra: InfraUrls, namespace: str
) -> None:
    names = Names(namespace)
    queue = names.queue("viewer-svc")
    broker = make_broker(infra.amqp, app_id="t")
    healthy = False
    handled: list[Envelope[Any]] = []
    events = EventDispatcher()

    @events.on(ViewerJoined)
    async def handler(env: Envelope[Any]) -> None:
        if not healthy:
            raise RuntimeError("dependency down")
        handled.append(env)

    spec = attach_consumer(broker, queue, events, consumer="viewer-svc", retry_base_s=0.01)
    await broker.connect()
    await declare_topology(broker, names, [spec], delivery_limit=1)
    await broker.start()
    try:
        from datetime import UTC, datetime

        env = make_envelope(
            ViewerJoined(stream_id="s", account_id="a", joined_at=datetime.now(UTC)), producer="t"
        )
        await RabbitEventPublisher(broker, names).publish(env)

        async def dead_count() -> int:
            return (await dlq._dlq_counts(infra.amqp, names)).get(names.dlq(queue), 0)

        assert await eventually(dead_count, within=15) == 1
        peeked = await dlq.peek(infra.amqp, names.dlq(queue), 10)
        assert [p["message_id"] for p in peeked] == [str(env.event_id)]
        assert peeked[0]["reason"] == "delivery_limit"
        assert await dead_count() == 1  # peek leaves it there

        healthy = True
        assert await dlq.requeue(infra.amqp, names.dlq(queue), 10) == 1
        await eventually(lambda: handled, within=10)
        assert handled[0].event_id == env.event_id
        assert await dead_count() == 0
    finally:
        await broker.stop()


async def test_requeue_refuses_a_queue_that_is_not_a_dlq(infra: InfraUrls) -> None:
    with pytest.raises(SystemExit, match="not a dead-letter queue"):
        await dlq.requeue(infra.amqp, "viewer-svc", 1)
