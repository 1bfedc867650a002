"""Helpers of the chat benchmarks: client worker processes, posters, server processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.events import publish_live_stream
from bench.harness import BenchContext
from bench.procs import ROOT, free_port, server
from servicekit.auth import mint_token

SECRET = "bench-chat-secret-0123456789abcdef0123"
STREAM = "ls_bench"


@dataclass
class Workers:
    procs: list[subprocess.Popen[str]]

    async def deliver(
        self, *posts: Callable[[asyncio.Event], Coroutine[Any, Any, float]]
    ) -> tuple[float, list[dict[str, Any]]]:
        """Run the posters (each stays connected until every worker is done); returns the time
        of the first send and the workers' results."""
        done = asyncio.Event()
        tasks = [asyncio.create_task(p(done)) for p in posts]
        try:
            results = await self.results()
        finally:
            done.set()
        starts = await asyncio.gather(*tasks)
        return min(starts), results

    async def results(self, timeout: float = 300) -> list[dict[str, Any]]:
        out = []
        for proc in self.procs:
            line = await asyncio.wait_for(asyncio.to_thread(_next_json, proc), timeout)
            out.append(line)
        return out

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(Exception):
                if proc.stdin:
                    proc.stdin.close()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _next_json(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            value: dict[str, Any] = json.loads(line)
            return value
    raise RuntimeError(f"worker exited without a result (code {proc.wait()})")


async def start_workers(
    proto: str,
    url: str,
    total: int,
    *,
    expect: int = 0,
    mode: str = "count",
    processes: int = 2,
    prefix: str = "v",
) -> Workers:
    procs = []
    per = [total // processes + (1 if i < total % processes else 0) for i in range(processes)]
    for i, count in enumerate(per):
        if count == 0:
            continue
        args = [
            sys.executable,
            "-m",
            "bench.wsworker",
            "--proto",
            proto,
            "--url",
            url,
            "--connections",
            str(count),
            "--expect",
            str(expect),
            "--mode",
            mode,
            "--secret",
            SECRET,
            "--account-prefix",
            f"{prefix}{i}-",
        ]
        procs.append(
            subprocess.Popen(
                args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        )
    for proc in procs:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 300)
        if line.strip() != "READY":
            raise RuntimeError(f"worker failed to connect: {line!r}")
    return Workers(procs)


def chat_text(i: int, size: int = 100) -> str:
    head = f"msg {i} t={time.time():.6f} "
    return head + "x" * max(0, size - len(head))


async def post(
    proto: str,
    url: str,
    count: int,
    *,
    size: int = 100,
    rate: float | None = None,
    account: str = "poster",
    event: str = "chat",
    linger: float = 0.5,
    hold: asyncio.Event | None = None,
) -> float:
    """Send ``count`` chat messages; returns the time of the first send."""
    if proto == "ours":
        url = f"{url}?token={mint_token(SECRET, account)}"
    elif proto == "socketio":
        url = url + "/socket.io/?EIO=4&transport=websocket"
    async with connect(url, compression=None, max_size=None) as ws:
        if proto == "ours":
            await ws.recv()
        elif proto == "socketio":
            await ws.recv()
            await ws.send("40")
            while not str(await ws.recv()).startswith("40"):
                pass
        drain = asyncio.create_task(_drain(ws))
        run = uuid.uuid4().hex[:8]  # client_msg_id is deduplicated: unique per call
        start = time.time()
        for i in range(count):
            text = chat_text(i, size)
            if proto == "ours":
                frame = json.dumps(
                    {"type": "chat.send", "client_msg_id": f"{account}-{run}-{i}", "message": text}
                )
            elif proto == "socketio":
                frame = "42" + json.dumps([event, {"text": text}])
            else:
                frame = text
            await ws.send(frame)
            if rate:
                await asyncio.sleep(1 / rate)
        # stay connected until the frames are delivered: python-socketio drops a client's
        # pending events when it disconnects
        if hold is not None:
            await hold.wait()
        else:
            await asyncio.sleep(linger)
        drain.cancel()
        return start


async def _drain(ws: Any) -> None:
    with contextlib.suppress(Exception):
        async for raw in ws:
            if raw == "2":
                await ws.send("3")


@contextlib.asynccontextmanager
async def gateway(
    ctx: BenchContext, instance: str, **settings: str
) -> AsyncIterator[tuple[str, int]]:
    """One chat-gateway instance (a real process); yields (ws base URL, pid)."""
    http, ws = free_port(), free_port()
    env = ctx.service_env(
        AUTH_JWT_SECRET=SECRET,
        HTTP_PORT=str(http),
        CHAT_WS_PORT=str(ws),
        CHAT_INSTANCE_ID=instance,
        CHAT_RATE_BURST="1000000",
        CHAT_RATE_PER_S="1000000",
        CHAT_HISTORY_ON_CONNECT="0",
        CHAT_PRESENCE_INTERVAL_S="3600",
        **settings,
    )
    async with server(["-m", "chat_gateway"], env, f"http://127.0.0.1:{http}/readyz") as proc:
        yield f"ws://127.0.0.1:{ws}", proc.pid


async def announce_stream(ctx: BenchContext, ws_base: str) -> None:
    """Publish the stream's creation and start; wait until the gateway accepts the room."""
    await publish_live_stream(ctx, STREAM)
    url = f"{ws_base}/ws/live/{STREAM}?token={mint_token(SECRET, 'probe')}"
    for _ in range(200):
        with contextlib.suppress(ConnectionClosed):  # 4004 until the events arrive
            async with connect(url) as probe:
                if '"hello"' in str(await probe.recv()):
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError("the gateway never knew the stream")


async def drop_database(ctx: BenchContext) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ctx.mongo_url)
    await client.drop_database(f"{ctx.namespace}chat_gateway".replace(".", "_"))
    await client.close()


async def wait_http(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code < 500:
                    return
            await asyncio.sleep(0.1)
