"""Webhook burst into webhook-ingest: signed Mux-shaped bodies of 1–4 KB, 10% duplicate ids, 1%
bad signatures, the broker cut while the middle third of the deliveries is received (the last
third comes while the outbox drains). Beside it, a verify-only endpoint (HMAC + 200) as the
ceiling, with the same requests, in the same run.

Reports accepted/s, p99, the ratio to the ceiling, events lost (accepted but never published),
duplicates suppressed (repeated ids answered as duplicates and not published again), and the
time to drain the outbox after the broker returns. A delivery answered 503 (shed: the service is
at its admission bound) is sent again after its ``Retry-After``, as Mux redelivers."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from typing import Any

import aio_pika
from pymongo import AsyncMongoClient

from bench.harness import BenchContext, BenchResult, percentile
from bench.loadgen import ItemResult, build_request, each_once
from bench.procs import cpu_seconds, free_port, server
from contracts.routing import Names
from mux_sim.signing import signature_header
from testkit.faultproxy import FaultProxy

SECRET = "bench-webhook-secret"


def bodies(n: int, rng: random.Random) -> tuple[list[bytes], list[str], set[int], set[int]]:
    """Requests, their Mux ids, which indexes are duplicates and which are badly signed."""
    items: list[bytes] = []
    ids: list[str] = []
    dup, bad = set(), set()
    originals: list[tuple[str, bytes]] = []
    for i in range(n):
        if originals and rng.random() < 0.10:
            mux_id, body = rng.choice(originals)
            dup.add(i)
        else:
            mux_id = str(uuid.uuid4())
            pad = "x" * rng.randint(700, 3700)
            body = json.dumps(
                {
                    "type": "video.live_stream.active",
                    "id": mux_id,
                    "created_at": "2026-11-24T12:00:00.000Z",
                    "object": {"type": "live_stream", "id": "LS" + mux_id[:8]},
                    "environment": {"name": "Bench", "id": "env"},
                    "data": {
                        "id": "LS" + mux_id[:8],
                        "status": "active",
                        "passthrough": f"ls_{i}",
                        "notes": pad,
                    },
                }
            ).encode()
            originals.append((mux_id, body))
        signature = signature_header(SECRET, body)
        if rng.random() < 0.01:
            signature = signature[:-4] + "0000"
            bad.add(i)
            if i not in dup:  # a refused original does not count as delivered
                originals.pop()
            dup.discard(i)
        items.append(
            build_request(
                "POST",
                "/webhooks/mux",
                {"Content-Type": "application/json", "Mux-Signature": signature},
                body,
            )
        )
        ids.append(mux_id)
    return items, ids, dup, bad


async def run(ctx: BenchContext) -> list[BenchResult]:
    n = ctx.scale(20_000, 1_200)
    items, ids, dup, bad = bodies(n, random.Random(42))
    names = Names(ctx.namespace)
    received: dict[str, int] = {}
    arrivals: list[float] = []
    port, ceiling_port = free_port(), free_port()
    from urllib.parse import urlparse

    parsed = urlparse(ctx.amqp_url)
    with FaultProxy(parsed.hostname or "127.0.0.1", parsed.port or 5672) as proxy:
        env = ctx.service_env(
            RABBITMQ_URL=proxy.rewrite(ctx.amqp_url),
            MUX_WEBHOOK_SECRET=SECRET,
            HTTP_PORT=str(port),
            OUTBOX_POLL_S="0.5",
        )
        async with server(
            ["-m", "webhook_ingest"], env, f"http://127.0.0.1:{port}/readyz"
        ) as ingest:
            conn = await aio_pika.connect(ctx.amqp_url)
            channel = await conn.channel()
            exchange = await channel.declare_exchange(
                names.mux_webhooks, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(exchange, "#")

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                mux_id = json.loads(message.body)["payload"]["mux_event_id"]
                received[mux_id] = received.get(mux_id, 0) + 1
                arrivals.append(time.monotonic())
                await message.ack()

            await queue.consume(on_message)
            restored_at: list[float] = []
            cut_at: list[float] = []

            def outage(answered: int) -> None:
                """The broker is cut while the middle third of the deliveries is received, and
                the last third comes while the backlog drains (mid-run whatever the rate)."""
                if answered == n // 3:
                    proxy.cut()
                    cut_at.append(time.monotonic())
                elif answered == 2 * n // 3:
                    proxy.restore()
                    restored_at.append(time.monotonic())

            cpu0 = cpu_seconds(ingest.pid)
            results, wall = await each_once(
                "127.0.0.1", port, items, connections=32, answered=outage
            )
            ingest_cpu = cpu_seconds(ingest.pid) - cpu0
            cut_s = restored_at[0] - cut_at[0]
            accepted = {ids[i] for i, r in enumerate(results) if r.status == 200 and i not in bad}
            deadline = time.monotonic() + 120
            while not accepted <= set(received) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            await conn.close()
    async with server(
        [
            "-m",
            "uvicorn",
            "bench.apps:verify_only",
            "--factory",
            "--port",
            str(ceiling_port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        {"MUX_WEBHOOK_SECRET": SECRET},
        f"http://127.0.0.1:{ceiling_port}/readyz",
    ):
        ceiling_results, ceiling_wall = await each_once(
            "127.0.0.1", ceiling_port, items, connections=32
        )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ctx.mongo_url)
    await client.drop_database(f"{ctx.namespace}webhook_ingest".replace(".", "_"))
    await client.close()
    result = _result(
        ctx,
        results,
        wall,
        ceiling_results,
        ceiling_wall,
        ids,
        dup,
        bad,
        received,
        arrivals,
        restored_at,
        cut_s,
    )
    result.details["ingest_cpu_ms_per_request"] = round(1000 * ingest_cpu / len(results), 3)
    return [result]


def _result(
    ctx: BenchContext,
    results: list[ItemResult],
    wall: float,
    ceiling: list[ItemResult],
    ceiling_wall: float,
    ids: list[str],
    dup: set[int],
    bad: set[int],
    received: dict[str, int],
    arrivals: list[float],
    restored_at: list[float],
    cut_s: float,
) -> BenchResult:
    ok = [r for r in results if r.status == 200]
    accepted_ids = {ids[i] for i, r in enumerate(results) if r.status == 200}
    lost = len(accepted_ids - set(received))
    first_answers: dict[str, int] = {}  # per id, the valid posts NOT answered "duplicate"
    for i, r in enumerate(results):
        if r.status == 200 and b'"duplicate":false' in r.body:
            first_answers[ids[i]] = first_answers.get(ids[i], 0) + 1
    repeats = sum(1 for i in dup if results[i].status == 200)
    suppressed = repeats - sum(n - 1 for n in first_answers.values())
    republished = sum(count - 1 for count in received.values())
    refused_bad = sum(1 for i in bad if results[i].status == 401)
    drain = (max(arrivals) - restored_at[0]) if arrivals and restored_at else float("nan")
    ceiling_ok = sum(1 for r in ceiling if r.status == 200)
    return BenchResult(
        benchmark="webhooks",
        metric="accepted webhooks/s (stored, then published via outbox), broker cut mid-run",
        unit="req/s",
        value=len(ok) / wall,
        baseline_name="verify-only endpoint (HMAC + 200), same requests",
        baseline_value=ceiling_ok / ceiling_wall,
        goal=0.25,
        details={
            "requests": len(results),
            "shed_then_resent": sum(1 for r in results if r.attempts > 1),
            "accepted": len(ok),
            "bad_signatures_refused": f"{refused_bad}/{len(bad)}",
            "p99_ms": round(percentile([r.latency for r in results], 99) * 1000, 1),
            "ceiling_p99_ms": round(percentile([r.latency for r in ceiling], 99) * 1000, 1),
            "lost": lost,
            "duplicates_posted": len(dup),
            "duplicates_suppressed_pct": round(100 * suppressed / repeats, 2) if repeats else 100.0,
            "republished_by_the_outage": republished,
            "broker_cut_s": round(cut_s, 1),
            "drain_after_restore_s": round(drain, 2),
            "server": ctx.mongo_server,
        },
    )
