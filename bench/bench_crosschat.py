"""Chat across instances as a curve: offered load (concurrent posters on instance A, each
sending as fast as its socket takes frames) against delivered messages/s and p99 post-to-receive
latency at 10 viewers on instance B, beside bare aio-pika with as many publishes in flight
(pipelined publish with confirms, prefetching consumer) on the same broker, in the same run.
The curves go to ``bench/results/crosschat.png``; the figure is the worst level's ratio to
bare aio-pika at the same level (the issue's goal for cross-instance chat: 0.7)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aio_pika

from bench import chatlib
from bench.chatlib import STREAM, announce_stream, drop_database, gateway, post, start_workers
from bench.harness import BenchContext, BenchResult, percentile
from bench.plots import Curve, plot_load_curves

LEVELS = [1, 2, 4, 8, 16, 32]
QUICK_LEVELS = [1, 8]
VIEWERS = 10


async def ours_level(a: str, b: str, posters: int, messages: int) -> tuple[float, float]:
    """(messages/s, p99 seconds) with ``posters`` posting ``messages`` in all."""
    each = max(1, messages // posters)
    total = each * posters
    workers = await start_workers(
        "ours",
        f"{b}/ws/live/{STREAM}",
        VIEWERS,
        expect=total,
        processes=1,
        prefix=f"x{posters}-",
        mode="latency",
    )
    try:
        start, results = await workers.deliver(
            *(
                (
                    lambda hold, i=i: post(
                        "ours", f"{a}/ws/live/{STREAM}", each, account=f"p{posters}-{i}", hold=hold
                    )
                )
                for i in range(posters)
            )
        )
    finally:
        workers.stop()
    latencies = [x for r in results for x in r.get("latencies", [])]
    return total / (max(r["last"] for r in results) - start), percentile(latencies, 99)


async def bare_level(ctx: BenchContext, in_flight: int, messages: int) -> tuple[float, float]:
    conn = await aio_pika.connect(ctx.amqp_url)
    try:
        channel = await conn.channel(publisher_confirms=True)
        name = f"{ctx.namespace}crosschat"
        exchange = await channel.declare_exchange(
            name, aio_pika.ExchangeType.TOPIC, auto_delete=True
        )
        consumer_channel = await conn.channel()
        await consumer_channel.set_qos(prefetch_count=100)
        queue = await consumer_channel.declare_queue(exclusive=True)
        await queue.bind(name, "#")
        done = asyncio.Event()
        latencies: list[float] = []
        last = [0.0]

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await message.ack()
            now = time.time()
            latencies.append(now - json.loads(message.body)["t"])
            last[0] = now
            if len(latencies) >= messages:
                done.set()

        await queue.consume(on_message)
        next_index = 0

        async def publisher() -> None:
            nonlocal next_index
            while next_index < messages:
                next_index += 1
                body = json.dumps({"t": time.time(), "text": chatlib.chat_text(next_index, 100)})
                await exchange.publish(
                    aio_pika.Message(body.encode()), routing_key="chat.message_posted.v1"
                )

        start = time.time()
        await asyncio.gather(*(publisher() for _ in range(in_flight)))
        await asyncio.wait_for(done.wait(), 120)
        return messages / (last[0] - start), percentile(latencies, 99)
    finally:
        await conn.close()


async def run(ctx: BenchContext) -> list[BenchResult]:
    levels = QUICK_LEVELS if ctx.quick else LEVELS
    messages = ctx.scale(1500, 64)
    ours: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    try:
        async with gateway(ctx, "bench-a") as (a, _), gateway(ctx, "bench-b") as (b, _):
            await announce_stream(ctx, a)
            await announce_stream(ctx, b)
            await ours_level(a, b, 2, 20)  # warm-up: rooms loaded, connections made
            for posters in levels:
                ours.append(await ours_level(a, b, posters, messages))
        for posters in levels:
            bare.append(await bare_level(ctx, posters, messages))
    finally:
        await drop_database(ctx)
    plot = plot_load_curves(
        ctx.out_dir / "crosschat.png",
        title=f"chat across instances: posters on A -> {VIEWERS} viewers on B",
        levels=levels,
        curves={
            "chat-gateway": Curve([r for r, _ in ours], [p * 1000 for _, p in ours]),
            "bare aio-pika": Curve([r for r, _ in bare], [p * 1000 for _, p in bare]),
        },
        xlabel="concurrent posters (bare aio-pika: publishes in flight)",
        throughput_label="messages/s delivered",
        latency_label="p99 post-to-receive latency, ms",
    )
    table = {
        f"{n} posters": {
            "ours_msg_s": round(o[0]),
            "ours_p99_ms": round(o[1] * 1000, 1),
            "bare_msg_s": round(x[0]),
            "bare_p99_ms": round(x[1] * 1000, 1),
        }
        for n, o, x in zip(levels, ours, bare, strict=True)
    }
    ratio, at, value, base = min(
        (o[0] / x[0], n, o[0], x[0]) for n, o, x in zip(levels, ours, bare, strict=True)
    )
    details: dict[str, Any] = {
        "worst_at": f"{at} posters",
        "messages_per_level": messages,
        "viewers_on_b": VIEWERS,
        "sweep": table,
        "plot": plot.name,
    }
    return [
        BenchResult(
            benchmark="crosschat",
            metric=f"messages/s A -> B, worst of {levels[0]}–{levels[-1]} posters vs bare",
            unit="msg/s",
            value=value,
            baseline_name="bare aio-pika, as many publishes in flight",
            baseline_value=base,
            goal=0.7,
            details=details,
        )
    ]
