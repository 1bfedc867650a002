"""The price of switching tracing on, beside tracing off, on the chat fan-out and publishing.

"Traced" is tracing on with no exporter (``OTEL_TRACES_EXPORTER=none``: an SDK tracer provider
records every span, then drops it): the instrumentation's whole cost except shipping spans.
"Off" is the default when no ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, where nothing is wired
(no middleware, no listener, no spans), so its cost beside code without tracing is nil by
construction. No goal: this tells an operator what full tracing costs before sampling
(``OTEL_TRACES_SAMPLER=parentbased_traceidratio``) lowers it.

* chat fan-out: one room of viewers, four posters, a real chat-gateway process (as
  ``bench_chat``'s fan-out), traced vs off, alternated;
* publish: the kit's confirmed publisher (as ``bench_publish``), traced vs off, alternated.
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime

import aio_pika
from opentelemetry.sdk.trace import TracerProvider

from bench.bench_chat import fanout
from bench.chatlib import announce_stream, gateway
from bench.harness import BenchContext, BenchResult, Stopwatch
from contracts import make_envelope
from contracts.routing import Names
from contracts.viewer import ViewerJoined
from servicekit import tracing
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker

POSTERS = 4
IN_FLIGHT = 64
TRACED = {"OTEL_TRACES_EXPORTER": "none"}


async def fanout_once(
    ctx: BenchContext, viewers: int, messages: int, traced: bool
) -> tuple[float, float]:
    """(frames/s, server CPU-µs per frame) of one gateway process."""
    async with gateway(ctx, "bench-t", **(TRACED if traced else {})) as (base, pid):
        await announce_stream(ctx, base)
        return await fanout("ours", base, pid, viewers, messages)


async def publish_once(
    ctx: BenchContext, names: Names, n: int, traced: bool
) -> tuple[float, float]:
    """(publishes/s, process CPU-µs per publish) of the kit's publisher."""
    provider = TracerProvider() if traced else None  # no span processor: nothing exported
    tracing.install(provider)
    broker = make_broker(ctx.amqp_url, app_id="bench")
    await broker.connect()
    await declare_topology(broker, names, [], delivery_limit=5)
    publisher = RabbitEventPublisher(broker, names)
    payload = ViewerJoined(stream_id="s" * 20, account_id="acct_bench", joined_at=datetime.now(UTC))

    async def window(size: int) -> None:
        await asyncio.gather(
            *(publisher.publish(make_envelope(payload, producer="bench")) for _ in range(size))
        )

    for _ in range(4):
        await window(IN_FLIGHT)  # warm-up
    with Stopwatch() as sw:
        for start in range(0, n, IN_FLIGHT):
            await window(min(IN_FLIGHT, n - start))
    await broker.stop()
    tracing.install(None)
    return n / sw.wall, sw.cpu * 1e6 / n


async def _cleanup(ctx: BenchContext, names: Names) -> None:
    conn = await aio_pika.connect(ctx.amqp_url)
    channel = await conn.channel()
    for exchange in (names.live_events, names.mux_webhooks, names.dead_letter):
        await channel.exchange_delete(exchange)
    await conn.close()


def _pair(
    name: str, what: str, unit: str, on: list[float], off: list[float], higher: bool
) -> BenchResult:
    return BenchResult(
        "tracing_overhead",
        f"{name}, {what}, traced without exporter",
        unit,
        statistics.median(on),
        "tracing off",
        statistics.median(off),
        higher_is_better=higher,
        details={"traced": [round(v, 2) for v in on], "off": [round(v, 2) for v in off]},
    )


async def run(ctx: BenchContext) -> list[BenchResult]:
    viewers = ctx.scale(1000, 50)
    messages = POSTERS * ctx.scale(25_000 // viewers, 2)
    rounds = ctx.scale(2, 1)
    fan: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for i in range(rounds * 2):  # alternated, to even out drift on a shared machine
        traced = i % 2 == 1
        fan[traced].append(await fanout_once(ctx, viewers, messages, traced))
    names = Names(ctx.namespace)
    n = ctx.scale(20_000, 1_000)
    pub: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    try:
        for i in range(rounds * 2):
            traced = i % 2 == 1
            pub[traced].append(await publish_once(ctx, names, n, traced))
    finally:
        await _cleanup(ctx, names)
    room = f"chat fan-out 1 room x {viewers} viewers"
    return [
        _pair(room, "frames/s", "frames/s", *_split(fan, 0), higher=True),
        _pair(room, "server CPU-µs per frame", "µs/frame", *_split(fan, 1), higher=False),
        _pair("publish with confirms", "publishes/s", "msg/s", *_split(pub, 0), higher=True),
        _pair(
            "publish with confirms", "CPU-µs per publish", "µs/msg", *_split(pub, 1), higher=False
        ),
    ]


def _split(
    runs: dict[bool, list[tuple[float, float]]], index: int
) -> tuple[list[float], list[float]]:
    return [r[index] for r in runs[True]], [r[index] for r in runs[False]]
