"""Events the benchmarks publish to set a scene, as stream-svc would."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.harness import BenchContext
from contracts import make_envelope
from contracts.routing import Names
from contracts.stream import StreamCreated, StreamStarted
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker


async def publish_live_stream(ctx: BenchContext, stream_id: str, owner_id: str = "owner") -> None:
    """``stream.created`` then ``stream.started`` for ``stream_id`` on the run's namespace."""
    names = Names(ctx.namespace)
    broker = make_broker(ctx.amqp_url, app_id="bench")
    await broker.connect()
    try:
        await declare_topology(broker, names, [], delivery_limit=5)
        publisher = RabbitEventPublisher(broker, names)
        now = datetime.now(UTC)
        common = {
            "stream_id": stream_id,
            "owner_id": owner_id,
            "title": "t",
            "playback_url": "https://p",
        }
        for event in (
            StreamCreated(**common, created_at=now),
            StreamStarted(**common, started_at=now),
        ):
            await publisher.publish(make_envelope(event, producer="bench"))
    finally:
        await broker.stop()
