"""The bell's live unread count: how long until every open bell shows a go-live notification,
with the long poll (``GET /notifications/unread-count?known=&wait_s=``, woken through each
notifier instance's own queue) beside the same clients polling the plain count once a second
(what a client without the long poll would do), on two real notifier instances, the real
broker and database, in the same run.

Both phases: ``n`` accounts with an open bell (half on each instance); a go-live batch is
stored for all of them (one ``insert_many``) and announced with ``notification.batch_created``;
the clock runs from the announcement until a client sees its count become 1. A poll shed by
admission control (503, ``Retry-After``) retries as the web client does. The clients and both
instances share this one process (and its one core), so the long poll's figure includes the
client side's own CPU; at 400 bells on a busy 2-core machine that process saturates.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.harness import BenchContext, BenchResult, percentile
from contracts import make_envelope
from contracts.notification import NotificationsCreated
from contracts.routing import Names
from notifier.domain.model import go_live
from notifier.entrypoints.http import create_app
from notifier.settings import Settings
from servicekit.auth import mint_token
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker
from servicekit.settings import load_settings
from testkit.servers import serve_app

SECRET = "bench-bell-secret-0123456789abcdef0123456789"
POLL_INTERVAL_S = 1.0


@contextlib.asynccontextmanager
async def notifiers(ctx: BenchContext) -> AsyncIterator[list[tuple[httpx.AsyncClient, Any]]]:
    os.environ.update(ctx.service_env(AUTH_JWT_SECRET=SECRET, LIVECAST_ENV="test"))
    base = load_settings(Settings)
    async with contextlib.AsyncExitStack() as stack:
        out = []
        for name in ("bell-a", "bell-b"):
            app = create_app(base.model_copy(update={"instance_id": name}))
            url = await stack.enter_async_context(serve_app(app))
            client = httpx.AsyncClient(
                base_url=url, timeout=60, limits=httpx.Limits(max_connections=None)
            )
            await stack.enter_async_context(client)
            out.append((client, app))
        yield out


async def announce(ctx: BenchContext, apps: list[Any], accounts: list[str], stream: str) -> float:
    """Store a go-live notification for every account and announce the batch; returns the
    time the storing started."""
    deps = apps[0].state.deps
    now = datetime.now(UTC)
    batch = [go_live(stream, "star", "Bench", a, now) for a in accounts]
    started = time.perf_counter()  # storing may already wake the bells (outbox relay)
    await deps.inbox.deliver(batch)
    broker = make_broker(ctx.amqp_url, app_id="bench-bell")
    await broker.connect()
    publisher = RabbitEventPublisher(broker, Names(ctx.namespace))
    event = NotificationsCreated(
        kind="stream_live",
        title="star is live",
        body="Bench",
        data={"stream_id": stream},
        account_ids=accounts,
        notification_ids=[n.notification_id for n in batch],
        created_at=now,
    )
    await publisher.publish(make_envelope(event, producer="bench"))
    await broker.stop()
    return started


async def long_poll_phase(
    ctx: BenchContext, instances: list[tuple[httpx.AsyncClient, Any]], n: int
) -> tuple[list[float], int]:
    accounts = [f"lp{i:05d}" for i in range(n)]
    seen: dict[str, float] = {}
    shed = 0

    async def bell(i: int, account: str) -> None:
        nonlocal shed
        client = instances[i % 2][0]
        headers = {"Authorization": f"Bearer {mint_token(SECRET, account)}"}
        while True:
            r = await client.get(
                "/notifications/unread-count",
                params={"known": 0, "wait_s": 25},
                headers=headers,
            )
            if r.status_code == 503:
                shed += 1
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                continue
            if r.json()["unread"] == 1:
                seen[account] = time.perf_counter()
                return

    tasks = [asyncio.create_task(bell(i, a)) for i, a in enumerate(accounts)]
    deadline = time.monotonic() + 60
    while (waiting := sum(app.state.deps.watch.waiting for _, app in instances)) < n:
        if time.monotonic() > deadline:  # a stuck phase fails with what it saw, never hangs
            raise RuntimeError(f"only {waiting} of {n} bells waiting after 60 s ({shed} shed)")
        await asyncio.sleep(0.05)  # the servers' waiting rooms fill; nothing to wait on here
    started = await announce(ctx, [app for _, app in instances], accounts, "ls_bell_lp")
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return [seen[a] - started for a in accounts], shed


async def interval_phase(
    ctx: BenchContext, instances: list[tuple[httpx.AsyncClient, Any]], n: int
) -> list[float]:
    accounts = [f"iv{i:05d}" for i in range(n)]
    seen: dict[str, float] = {}
    first_round = asyncio.Event()
    polled = 0

    async def bell(i: int, account: str) -> None:
        nonlocal polled
        client = instances[i % 2][0]
        headers = {"Authorization": f"Bearer {mint_token(SECRET, account)}"}
        await asyncio.sleep(POLL_INTERVAL_S * i / n)  # spread as tabs opened at random times
        counted = False
        while True:
            r = await client.get("/notifications/unread-count", headers=headers)
            if r.status_code == 200 and r.json()["unread"] == 1:
                seen[account] = time.perf_counter()
                return
            if not counted:
                counted, polled = True, polled + 1
                if polled == n:
                    first_round.set()
            await asyncio.sleep(POLL_INTERVAL_S)

    tasks = [asyncio.create_task(bell(i, a)) for i, a in enumerate(accounts)]
    await asyncio.wait_for(first_round.wait(), 60)
    started = await announce(ctx, [app for _, app in instances], accounts, "ls_bell_iv")
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return [seen[a] - started for a in accounts]


async def run(ctx: BenchContext) -> list[BenchResult]:
    n = ctx.scale(200, 40)
    broker = make_broker(ctx.amqp_url, app_id="bench-bell")
    await broker.connect()
    await declare_topology(broker, Names(ctx.namespace), [], delivery_limit=5)
    await broker.stop()
    async with notifiers(ctx) as instances:
        long_poll, shed = await long_poll_phase(ctx, instances, n)
        interval = await interval_phase(ctx, instances, n)
        db = instances[0][1].state.deps.inbox._col.database
        await db.client.drop_database(db.name)
    p95_lp, p95_iv = percentile(long_poll, 95), percentile(interval, 95)
    return [
        BenchResult(
            benchmark="bell",
            metric=f"go-live shown on {n} open bells (2 notifier instances), p95",
            unit="s",
            value=p95_lp,
            baseline_name=f"the same bells polling the count every {POLL_INTERVAL_S:g} s",
            baseline_value=p95_iv,
            higher_is_better=False,
            details={
                "long_poll_p50_s": round(percentile(long_poll, 50), 4),
                "long_poll_max_s": round(max(long_poll), 4),
                "long_poll_503_retried": shed,
                "interval_p50_s": round(percentile(interval, 50), 4),
                "interval_max_s": round(max(interval), 4),
                "bells": n,
            },
        )
    ]
