"""Authenticated join/leave (4:1) against viewer-svc on 2 uvicorn workers, beside the same
routes with the database call replaced by nothing (the framework floor), in the same run.

Closed-loop keep-alive connections (8, 16, 32, 64); the figure is the highest request rate whose
p99 stays at or under 50 ms. The load generator shares the machine's 2 cores with the servers,
RabbitMQ and the database."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.events import publish_live_stream
from bench.harness import BenchContext, BenchResult
from bench.loadgen import LoadResult, build_request, closed_loop
from bench.procs import free_port, server
from servicekit.auth import mint_token

SECRET = "bench-viewer-secret-0123456789abcdef0123"
P99_BUDGET = 0.050


def request_maker(accounts_per_conn: int) -> Any:
    tokens: dict[tuple[int, int], str] = {}

    def make(conn: int, i: int) -> bytes:
        slot = i % accounts_per_conn
        key = (conn, slot)
        if key not in tokens:
            tokens[key] = mint_token(SECRET, f"viewer-{conn}-{slot}")
        route = "leave" if i % 5 == 4 else "join"  # 4 joins : 1 leave
        return build_request(
            "POST", f"/live/ls_bench/{route}", {"Authorization": f"Bearer {tokens[key]}"}
        )

    return make


async def sweep(port: int, levels: list[int], seconds: float) -> list[tuple[int, LoadResult]]:
    out = []
    for connections in levels:
        result = await closed_loop(
            "127.0.0.1", port, request_maker(50), connections=connections, duration_s=seconds
        )
        out.append((connections, result))
    return out


def best(runs: list[tuple[int, LoadResult]]) -> tuple[float, int, float]:
    ok = [
        (r.rate, c, r.p(99))
        for c, r in runs
        if r.p(99) <= P99_BUDGET and r.statuses.keys() <= {200, 204}
    ]
    return max(ok) if ok else (0.0, 0, float("nan"))


async def run(ctx: BenchContext) -> list[BenchResult]:
    env = ctx.service_env(AUTH_JWT_SECRET=SECRET, LOG_JSON="true")
    levels = [8, 64] if ctx.quick else [8, 16, 32, 64]
    seconds = 1.0 if ctx.quick else 5.0
    port, floor_port = free_port(), free_port()
    common = ["--workers", "2", "--no-access-log", "--log-level", "warning", "--factory"]
    async with server(
        ["-m", "uvicorn", "viewer_svc.entrypoints.asgi:app", "--port", str(port), *common],
        env,
        f"http://127.0.0.1:{port}/readyz",
    ):
        await publish_live_stream(ctx, "ls_bench", "o")
        async with httpx.AsyncClient() as http:
            headers = {"Authorization": f"Bearer {mint_token(SECRET, 'probe')}"}
            for _ in range(100):
                if (
                    await http.post(f"http://127.0.0.1:{port}/live/ls_bench/join", headers=headers)
                ).status_code == 200:
                    break
                await asyncio.sleep(0.1)
        app_runs = await sweep(port, levels, seconds)
    async with server(
        ["-m", "uvicorn", "bench.apps:viewer_floor", "--port", str(floor_port), *common],
        env,
        f"http://127.0.0.1:{floor_port}/healthz",
    ):
        floor_runs = await sweep(floor_port, levels, seconds)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ctx.mongo_url)
    await client.drop_database(f"{ctx.namespace}viewer_svc".replace(".", "_"))
    await client.close()
    app_best, floor_best = best(app_runs), best(floor_runs)
    table = {
        f"{c} conns": {
            "app_rps": round(a.rate),
            "app_p99_ms": round(a.p(99) * 1000, 1),
            "floor_rps": round(f.rate),
            "floor_p99_ms": round(f.p(99) * 1000, 1),
        }
        for (c, a), (_, f) in zip(app_runs, floor_runs, strict=True)
    }
    return [
        BenchResult(
            benchmark="viewers",
            metric="join/leave 4:1 req/s at p99 <= 50 ms (2 workers)",
            unit="req/s",
            value=app_best[0],
            baseline_name="same routes, no database (framework floor)",
            baseline_value=floor_best[0],
            goal=0.5,
            details={
                "app_at": f"{app_best[1]} conns, p99 {app_best[2] * 1000:.1f} ms",
                "floor_at": f"{floor_best[1]} conns, p99 {floor_best[2] * 1000:.1f} ms",
                "sweep": table,
                "server": ctx.mongo_server,
            },
        )
    ]
