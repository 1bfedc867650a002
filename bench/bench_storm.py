"""Connection storm (issue 17): 5,000 WebSocket connections open within 10 s, through nginx, on
two chat-gateway instances, while two viewers chat (one message a second each). Measured: the
viewers' message latency p99 (post to delivery, both viewers) beside the same run without the
storm (goal: p99 under 1 s, no connection refused).

Client connections live in 2 storm worker processes; everything (nginx, both gateways, the
broker, the MongoDB stand-in, the clients) shares the machine's cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import connect

from bench.chatlib import SECRET, STREAM, announce_stream, chat_text, drop_database
from bench.harness import BenchContext, BenchResult, percentile
from bench.procs import ROOT, free_port, server
from servicekit.auth import mint_token


def _local_stack() -> Any:
    """``scripts/stack.py`` (not a package): its nginx rendering, as ``make run`` uses it."""
    spec = importlib.util.spec_from_file_location("livecast_stack", ROOT / "scripts" / "stack.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("scripts/stack.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@contextlib.asynccontextmanager
async def gateways(ctx: BenchContext) -> AsyncIterator[str]:
    """Two chat-gateway instances behind nginx as ``make run`` configures it; yields the
    gateway's ``ws://`` base URL."""
    local_stack = _local_stack()
    ports = {k: free_port() for k in local_stack.ports_for(0)}
    async with contextlib.AsyncExitStack() as stack:
        for name, http, ws in (
            ("storm-a", "chat_a", "chat_a_ws"),
            ("storm-b", "chat_b", "chat_b_ws"),
        ):
            env = ctx.service_env(
                AUTH_JWT_SECRET=SECRET,
                HTTP_PORT=str(ports[http]),
                CHAT_WS_PORT=str(ports[ws]),
                CHAT_INSTANCE_ID=name,
            )
            await stack.enter_async_context(
                server(["-m", "chat_gateway"], env, f"http://127.0.0.1:{ports[http]}/readyz")
            )
        state = ROOT / ".infra" / f"bench-storm-{ports['gateway']}"
        conf = local_stack.render_nginx(state, ports)
        nginx = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(conf.parent), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(nginx.wait, 10)
        stack.callback(nginx.terminate)
        base = f"ws://127.0.0.1:{ports['gateway']}"
        for _ in range(100):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", ports["gateway"])
                writer.close()
                break
            await asyncio.sleep(0.1)
        yield base


async def viewer(
    url: str, account: str, seconds: float, latencies: list[float], acks: list[float]
) -> int:
    """Post one message a second for ``seconds``; record every chat message's latency (post to
    delivery) and this viewer's ack latency (post to ``chat.ack``: the storing part)."""
    sent_at: dict[str, float] = {}
    run = uuid.uuid4().hex[:8]  # client_msg_id is deduplicated: unique per run
    async with connect(
        f"{url}?token={mint_token(SECRET, account)}", compression=None, max_size=None
    ) as ws:
        await ws.recv()  # hello

        async def read() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "chat.message":
                    at = float(frame["text"].split("t=", 1)[1].split()[0])
                    latencies.append(time.time() - at)
                elif frame["type"] == "chat.ack" and frame["client_msg_id"] in sent_at:
                    acks.append(time.time() - sent_at[frame["client_msg_id"]])

        reader = asyncio.create_task(read())
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            cmid = f"{account}-{run}-{len(sent_at)}"
            sent_at[cmid] = time.time()
            frame = {"type": "chat.send", "client_msg_id": cmid, "message": chat_text(len(sent_at))}
            await ws.send(json.dumps(frame))
            await asyncio.sleep(1.0)
        await asyncio.sleep(2.0)  # the last messages arrive
        reader.cancel()
    return len(sent_at)


def storm(url: str, total: int, within_s: float) -> tuple[list[subprocess.Popen[str]], Any]:
    procs = []
    for i in range(2):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.stormworker",
                    "--url",
                    url,
                    "--connections",
                    str(total // 2),
                    "--rate",
                    str(total / 2 / within_s),
                    "--secret",
                    SECRET,
                    "--prefix",
                    f"storm{i}-",
                ],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )

    async def results() -> list[dict[str, Any]]:
        out = []
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.to_thread(proc.stdout.readline)
            out.append(json.loads(line))
        return out

    return procs, asyncio.create_task(results())


async def chat_run(ctx: BenchContext, connections: int, within_s: float) -> dict[str, Any]:
    async with gateways(ctx) as base:
        await announce_stream(ctx, base)
        url = f"{base}/ws/live/{STREAM}"
        latencies: list[float] = []
        acks: list[float] = []
        seconds = within_s + 4
        procs: list[subprocess.Popen[str]] = []
        opened: Any = None
        chat = asyncio.gather(
            viewer(url, "viewer-1", seconds, latencies, acks),
            viewer(url, "viewer-2", seconds, latencies, acks),
        )
        if connections:
            await asyncio.sleep(1.0)  # the viewers chat before the storm begins
            procs, opened = storm(url, connections, within_s)
        sent = await chat
        storm_results = await opened if opened is not None else []
        for proc in procs:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(30)
        return {
            "p99_s": percentile(latencies, 99),
            "p50_s": percentile(latencies, 50),
            "slowest_ms": sorted(round(x * 1000) for x in latencies)[-5:],
            "ack_p99_s": percentile(acks, 99),
            "received": len(latencies),
            "sent": sum(sent),
            "opened": sum(r["opened"] for r in storm_results),
            "refused": sum(r["refused"] for r in storm_results),
            "refusals": sorted({x for r in storm_results for x in r["refusals"]}),
            "open_s": max((r["open_s"] for r in storm_results), default=0.0),
        }


async def run(ctx: BenchContext) -> list[BenchResult]:
    connections = ctx.scale(5000, 200)
    within_s = 10.0
    try:
        calm = await chat_run(ctx, 0, within_s)
        stormy = await chat_run(ctx, connections, within_s)
    finally:
        await drop_database(ctx)
    return [
        BenchResult(
            "storm",
            f"2 viewers' chat p99 while {connections} sockets open within {within_s:.0f} s",
            "ms",
            stormy["p99_s"] * 1000,
            "the same chat without the storm",
            calm["p99_s"] * 1000,
            higher_is_better=False,
            details={
                "goal": "p99 < 1000 ms, no connection refused",
                "met": stormy["p99_s"] < 1.0 and stormy["refused"] == 0,
                "storm": {
                    k: (round(v, 3) if isinstance(v, float) else v) for k, v in stormy.items()
                },
                "calm": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in calm.items()},
                "path": "client -> nginx (least_conn) -> 2 chat-gateway instances",
            },
        )
    ]


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in values.items()}
