"""Authenticated join/leave (4:1) against viewer-svc on 2 uvicorn workers, beside the same
routes with the database call replaced by nothing (the framework floor), in the same run.

Offered load sweeps closed-loop keep-alive connections 1, 2, 4, ... 256, past saturation, with
the same mix at every level (2,000 viewer accounts). A connection answered 503 waits its
``Retry-After`` (a shed request did no work). At each level:
successful requests/s and the p99 of the successful ones; the curves go to
``bench/results/viewers.png``. Two figures: the worst level's ratio to the floor at the same
level (goal 0.5), and the lowest throughput at or past our peak against that peak (goal 0.9:
overload is shed, throughput plateaus instead of collapsing). The load generator shares the
machine's 2 cores with the servers, RabbitMQ and the database. Both servers run throughout
and the levels alternate between them (see ``sweep``)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.events import publish_live_stream
from bench.harness import BenchContext, BenchResult
from bench.loadgen import LoadResult, build_request, closed_loop
from bench.plots import Curve, plot_load_curves
from bench.procs import free_port, server
from servicekit.auth import mint_token

SECRET = "bench-viewer-secret-0123456789abcdef0123"
LEVELS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
QUICK_LEVELS = [4, 32, 256]
POPULATION = 2000  # viewer accounts


def request_maker(population: int = POPULATION) -> Any:
    """Join/leave 4:1 for accounts drawn from a fixed population, so every load level offers
    the same mix (more connections are more requests, not more distinct viewers)."""
    built: dict[tuple[int, str], bytes] = {}

    def make(conn: int, i: int) -> bytes:
        account = (conn * 131 + i * 7) % population
        route = "leave" if i % 5 == 4 else "join"  # 4 joins : 1 leave
        key = (account, route)
        if key not in built:
            token = mint_token(SECRET, f"viewer-{account}")
            built[key] = build_request(
                "POST", f"/live/ls_bench/{route}", {"Authorization": f"Bearer {token}"}
            )
        return built[key]

    return make


async def sweep(
    ports: list[int], levels: list[int], seconds: float, rounds: int = 4
) -> list[list[tuple[int, LoadResult]]]:
    """Warm up each server (every account joins once, not measured), then each level on each
    server in ``rounds`` alternating slices (``seconds`` in all per server and level): on a
    shared machine whose load swings within seconds, ours and the floor at one level are
    measured under the same load."""
    make = request_maker()
    for port in ports:
        await closed_loop("127.0.0.1", port, make, connections=16, duration_s=seconds / 2)
    await asyncio.sleep(2)  # the warm-up's joins are written and announced once, not measured
    out: list[list[tuple[int, LoadResult]]] = [[] for _ in ports]
    for connections in levels:
        slices: list[list[LoadResult]] = [[] for _ in ports]
        for _ in range(rounds):
            for got, port in zip(slices, ports, strict=True):
                got.append(
                    await closed_loop(
                        "127.0.0.1",
                        port,
                        make,
                        connections=connections,
                        duration_s=seconds / rounds,
                    )
                )
        for runs, got in zip(out, slices, strict=True):
            runs.append((connections, merged(got)))
    return out


def merged(results: list[LoadResult]) -> LoadResult:
    """Several runs as one: every answer, over their summed measured time."""
    out = LoadResult()
    for r in results:
        out.latencies += r.latencies
        out.ok_latencies += r.ok_latencies
        out.statuses.update(r.statuses)
        out.wall += r.wall
    return out


def admission_for(ctx: BenchContext) -> dict[str, str]:
    """The services' defaults, on the stand-in too: a join or leave holds no database round
    trip any more (presence is in memory, written in batches; reads are cached), so the
    stand-in's one-operation-at-a-time lock (which had each worker admit 2 requests, 8
    waiting) no longer bounds what a request may wait for."""
    del ctx
    return {}


def worst_ratio(
    app: list[tuple[int, LoadResult]], floor: list[tuple[int, LoadResult]]
) -> tuple[int, float, float]:
    """The level where ours is furthest below the floor: (connections, ours, floor)."""
    rows = [
        (a.ok_rate / f.ok_rate if f.ok_rate else 0.0, c, a.ok_rate, f.ok_rate)
        for (c, a), (_, f) in zip(app, floor, strict=True)
    ]
    _, c, ours, base = min(rows)
    return c, ours, base


def plateau(runs: list[tuple[int, LoadResult]]) -> tuple[float, int, float, int]:
    """(peak rate, its level, the lowest rate at or past the peak, that level)."""
    peak_at = max(range(len(runs)), key=lambda i: runs[i][1].ok_rate)
    low_at = min(range(peak_at, len(runs)), key=lambda i: runs[i][1].ok_rate)
    return (
        runs[peak_at][1].ok_rate,
        runs[peak_at][0],
        runs[low_at][1].ok_rate,
        runs[low_at][0],
    )


def _curve(runs: list[tuple[int, LoadResult]]) -> Curve:
    return Curve(
        throughput=[r.ok_rate for _, r in runs],
        p99_ms=[r.ok_p(99) * 1000 for _, r in runs],
        shed_pct=[100 * r.shed / r.count if r.count else 0.0 for _, r in runs],
    )


async def run(ctx: BenchContext) -> list[BenchResult]:
    env = ctx.service_env(AUTH_JWT_SECRET=SECRET, LOG_JSON="true", **admission_for(ctx))
    levels = QUICK_LEVELS if ctx.quick else LEVELS
    seconds = 1.0 if ctx.quick else 4.0
    port, floor_port = free_port(), free_port()
    common = ["--workers", "2", "--no-access-log", "--log-level", "warning", "--factory"]
    async with (
        server(
            ["-m", "uvicorn", "viewer_svc.entrypoints.asgi:app", "--port", str(port), *common],
            env,
            f"http://127.0.0.1:{port}/readyz",
        ),
        server(
            ["-m", "uvicorn", "bench.apps:viewer_floor", "--port", str(floor_port), *common],
            env,
            f"http://127.0.0.1:{floor_port}/healthz",
        ),
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
        app_runs, floor_runs = await sweep([port, floor_port], levels, seconds)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ctx.mongo_url)
    await client.drop_database(f"{ctx.namespace}viewer_svc".replace(".", "_"))
    await client.close()
    table = {
        f"{c} conns": {
            "app_rps": round(a.ok_rate),
            "app_p99_ms": round(a.ok_p(99) * 1000, 1),
            "app_shed_pct": round(100 * a.shed / a.count, 1) if a.count else 0.0,
            "app_other": {k: v for k, v in a.statuses.items() if k not in (200, 204, 503)},
            "floor_rps": round(f.ok_rate),
            "floor_p99_ms": round(f.ok_p(99) * 1000, 1),
            "floor_shed_pct": round(100 * f.shed / f.count, 1) if f.count else 0.0,
        }
        for (c, a), (_, f) in zip(app_runs, floor_runs, strict=True)
    }
    plot = plot_load_curves(
        ctx.out_dir / "viewers.png",
        title="viewers: join/leave 4:1, 2 workers (dotted: % shed with 503)",
        levels=levels,
        curves={"viewer-svc": _curve(app_runs), "floor (no database)": _curve(floor_runs)},
    )
    worst_at, worst_ours, worst_floor = worst_ratio(app_runs, floor_runs)
    peak, peak_at, low, low_at = plateau(app_runs)
    details = {
        "sweep": table,
        "server": ctx.mongo_server,
        "admission_per_worker": admission_for(ctx) or "defaults",
        "plot": plot.name,
    }
    return [
        BenchResult(
            benchmark="viewers",
            metric=f"join/leave 4:1 ok req/s, worst of {levels[0]}–{levels[-1]} conns vs floor",
            unit="req/s",
            value=worst_ours,
            baseline_name="same routes, no database (framework floor), same level",
            baseline_value=worst_floor,
            goal=0.5,
            details={"worst_at": f"{worst_at} conns", **details},
        ),
        BenchResult(
            benchmark="viewers_plateau",
            metric="ok req/s, lowest level at or past our peak (overload shed, not queued)",
            unit="req/s",
            value=low,
            baseline_name="our own peak",
            baseline_value=peak,
            goal=0.9,
            details={"peak_at": f"{peak_at} conns", "lowest_at": f"{low_at} conns"},
        ),
    ]
