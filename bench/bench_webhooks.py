"""Webhook burst into webhook-ingest: signed Mux-shaped bodies of 1–4 KB, 10% duplicate ids, 1%
bad signatures, the broker cut while the middle third of the deliveries is received (the last
third comes while the outbox drains). Beside it, a verify-only endpoint (HMAC + 200) as the
ceiling, with the same requests, in the same run.

Reports accepted/s, p99, the ratio to the ceiling, events lost (accepted but never published),
duplicates suppressed (repeated ids answered as duplicates and not published again), and the
time to drain the outbox after the broker returns. A delivery answered 503 (shed: the service is
at its admission bound) is sent again after its ``Retry-After``, as Mux redelivers.

A second row compares the same figure with the service's database work alone, in the same run
(:func:`database_only`): what the database server allows before any HTTP or broker work, so the
row says how much of the gap to the ceiling is the database's."""

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
from servicekit.memory import RecordingPublisher
from servicekit.mongo import ensure_indexes
from servicekit.outbox import OUTBOX_COUNT, OutboxRelay, outbox_indexes
from testkit.faultproxy import FaultProxy
from webhook_ingest.adapters.mongo import COLLECTION, INDEXES, MongoInbox
from webhook_ingest.domain.event import parse_body, redact, to_envelope

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
    handled, stored, db_wall = await database_only(ctx, items, bad)
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
    database = BenchResult(
        benchmark="webhooks",
        metric="accepted webhooks/s, against the database work alone",
        unit="req/s",
        value=result.value,
        baseline_name="the same events stored and their outbox cleared, no HTTP or broker",
        baseline_value=handled / db_wall,
        details={
            "events": handled,
            "stored": stored,
            "writers": DATABASE_ONLY_WRITERS,
            "baseline_vs_verify_only": round(handled / db_wall / result.baseline_value, 3),
            "why": "how much of the database server's own rate for these writes the service "
            "keeps (the server is named in the row above); baseline_vs_verify_only is the "
            "highest ratio to the ceiling any service could reach on this server with them",
        },
    )
    return [result, database]


#: Concurrent writers of :func:`database_only`: the connections of the load generator.
DATABASE_ONLY_WRITERS = 32


async def database_only(
    ctx: BenchContext, items: list[bytes], bad: set[int]
) -> tuple[int, int, float]:
    """The service's database work for ``items`` alone, as a baseline: each verified event
    stored through webhook-ingest's own inbox (its group commit) by
    :data:`DATABASE_ONLY_WRITERS` concurrent writers, and published by an outbox relay whose
    broker confirms at once, so its clears are the service's too. No HTTP, no signature check,
    no broker. Returns how many events were handled (the validly signed requests, repeats
    included, as the service's figure counts them), how many were stored (new ids), and the
    seconds from the first write to the last clear."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ctx.mongo_url)
    publisher = RecordingPublisher()  # the broker: confirms every publish at once
    db = client[f"{ctx.namespace}webhook_dbonly".replace(".", "_")]
    await ensure_indexes(db, [*INDEXES, *outbox_indexes([COLLECTION])])
    relay = OutboxRelay([db[COLLECTION]], publisher, insert_only=[COLLECTION], poll_s=0.5)
    inbox = MongoInbox(db[COLLECTION], on_stored=lambda docs: relay.kick_stored(COLLECTION, docs))
    events = [
        redact(parse_body(item.partition(b"\r\n\r\n")[2]))
        for i, item in enumerate(items)
        if i not in bad
    ]
    stored = 0
    queue = iter(events)

    async def writer() -> None:
        nonlocal stored
        for event in queue:
            new = await inbox.store(event, to_envelope(event, correlation_id=None))
            stored += new  # after the await: ``stored += await ...`` would read it before

    await relay.start()
    try:
        start = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(DATABASE_ONLY_WRITERS)))
        while await db[COLLECTION].find_one({OUTBOX_COUNT: {"$gt": 0}}, {"_id": 1}):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        wall = time.perf_counter() - start
    finally:
        await relay.stop()
        await client.drop_database(db.name)
        await client.close()
    if len(publisher.published) != stored:
        raise RuntimeError(f"{stored} events stored, {len(publisher.published)} published")
    return len(events), stored, wall


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
