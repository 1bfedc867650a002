"""Publish-confirm rate: the kit's ``RabbitEventPublisher`` beside bare aio-pika.

Both publish the same number of persistent messages of the same size to the same durable topic
exchange and wait for every publisher confirm, with the same number in flight. The kit adds the
envelope (pydantic JSON), headers and FastStream's publish path.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aio_pika

from bench.harness import BenchContext, BenchResult, Stopwatch
from contracts import make_envelope
from contracts.routing import Names
from contracts.viewer import ViewerJoined
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker

IN_FLIGHT = 64


async def _in_windows(n: int, publish_one: object) -> None:
    for start in range(0, n, IN_FLIGHT):
        await asyncio.gather(*(publish_one() for _ in range(min(IN_FLIGHT, n - start))))  # type: ignore[operator]


async def kit_rate(ctx: BenchContext, names: Names, n: int) -> float:
    broker = make_broker(ctx.amqp_url, app_id="bench")
    await broker.connect()
    await declare_topology(broker, names, [], delivery_limit=5)
    publisher = RabbitEventPublisher(broker, names)
    payload = ViewerJoined(stream_id="s" * 20, account_id="acct_bench", joined_at=datetime.now(UTC))

    async def one() -> None:
        await publisher.publish(make_envelope(payload, producer="bench"))

    await _in_windows(200, one)  # warm-up
    with Stopwatch() as sw:
        await _in_windows(n, one)
    await broker.stop()
    return n / sw.wall


async def bare_rate(ctx: BenchContext, names: Names, n: int) -> float:
    conn = await aio_pika.connect_robust(ctx.amqp_url)
    channel = await conn.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(
        names.live_events, aio_pika.ExchangeType.TOPIC, durable=True
    )
    payload = ViewerJoined(stream_id="s" * 20, account_id="acct_bench", joined_at=datetime.now(UTC))
    body = make_envelope(payload, producer="bench").model_dump_json().encode()

    async def one() -> None:
        await exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key="viewer.joined.v1",
        )

    await _in_windows(200, one)
    with Stopwatch() as sw:
        await _in_windows(n, one)
    await conn.close()
    return n / sw.wall


async def run(ctx: BenchContext) -> list[BenchResult]:
    names = Names(ctx.namespace)
    n = ctx.scale(20_000, 1_000)
    kit, bare = [], []
    for _ in range(2):  # alternate to even out drift
        bare.append(await bare_rate(ctx, names, n))
        kit.append(await kit_rate(ctx, names, n))
    conn = await aio_pika.connect(ctx.amqp_url)
    channel = await conn.channel()
    await channel.exchange_delete(names.live_events)
    await channel.exchange_delete(names.mux_webhooks)
    await channel.exchange_delete(names.dead_letter)
    await conn.close()
    return [
        BenchResult(
            benchmark="publish",
            metric="confirmed publishes/s (kit RabbitEventPublisher)",
            unit="msg/s",
            value=max(kit),
            baseline_name="bare aio-pika, same window",
            baseline_value=max(bare),
            details={"messages": n, "in_flight": IN_FLIGHT, "runs_kit": kit, "runs_bare": bare},
        )
    ]
